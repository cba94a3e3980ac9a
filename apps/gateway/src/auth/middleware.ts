import type { IncomingMessage } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { AppError } from '@visp/service-kit';
import { originAllowed } from './origin';
import type { Authenticator, Principal } from './principal';

type AdmitOptions = { upgrade?: boolean; signInHint?: string };

/**
 * Who may act on this request: a signed-in user or a valid API token, and a cookie-authenticated change or
 * upgrade only from our own origin. Otherwise an `unauthorized` or `forbidden` AppError.
 */
export async function authenticate(auth: Authenticator, req: IncomingMessage, allowedOrigins: readonly string[], options: AdmitOptions = {}): Promise<Readonly<Principal>> {
  return admit(await auth.identify(req), req, allowedOrigins, options);
}

/** `authenticate`'s decision, for a principal already identified (the proxy's hot path, which cannot wait). */
export function admit(principal: Readonly<Principal> | undefined, req: IncomingMessage, allowedOrigins: readonly string[], options: AdmitOptions = {}): Readonly<Principal> {
  if (!principal) throw new AppError('unauthorized', options.signInHint ?? 'sign in, or send an API token as Authorization: Bearer …');
  if (principal.via === 'login' && !originAllowed(req, allowedOrigins, options)) {
    throw new AppError('forbidden', 'cross-origin request refused');
  }
  return principal;
}

/** Express's form of `authenticate`: the principal goes to `res.locals`. */
export function requireUser(auth: Authenticator, allowedOrigins: readonly string[]): RequestHandler {
  return async (req, res, next) => {
    res.locals.principal = await authenticate(auth, req, allowedOrigins);
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
