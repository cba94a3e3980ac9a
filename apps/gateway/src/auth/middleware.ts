import type { RequestHandler, Response } from 'express';
import { AppError } from '@visp/service-kit';
import { originAllowed } from './origin';
import type { Authenticator, Principal } from './principal';

/** Requires a signed-in user or a valid API token; a cookie-authenticated change must come from our own origin. */
export function requireUser(auth: Authenticator, allowedOrigins: readonly string[]): RequestHandler {
  return async (req, res, next) => {
    const principal = await auth.identify(req);
    if (!principal) throw new AppError('unauthorized', 'sign in, or send an API token as Authorization: Bearer …');
    if (principal.via === 'login' && !originAllowed(req, allowedOrigins)) {
      throw new AppError('forbidden', 'cross-origin request refused');
    }
    res.locals.principal = principal;
    next();
  };
}

export const requireAdmin: RequestHandler = (_req, res, next) => {
  if (!principalOf(res).admin) throw new AppError('forbidden', 'administrators only');
  next();
};

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new Error('principalOf used on a route without requireUser');
  return principal;
}
