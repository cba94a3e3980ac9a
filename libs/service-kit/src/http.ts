import { timingSafeEqual } from 'node:crypto';
import type { ErrorRequestHandler, Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '@visp/config';
import { AppError } from './errors';
import { REQUEST_ID_HEADER, requestIdFrom, runWithRequestId } from './request-context';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by the request-id middleware; also in every log line of the request. */
      id: string;
      log: Logger;
    }
  }
}

/** Accepts or creates the request id, echoes it, and gives the request its own child logger. */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    req.id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.log = logger.child({ requestId: req.id });
    res.setHeader(REQUEST_ID_HEADER, req.id);
    runWithRequestId(req.id, next);
  };
}

/** Body-parser failures, mapped to what the client did wrong. */
function bodyParserError(err: unknown): AppError | undefined {
  const type = (err as { type?: unknown }).type;
  switch (type) {
    case 'entity.too.large':
      return new AppError('payload_too_large', 'request body is too large');
    case 'entity.parse.failed':
      return new AppError('invalid_json', 'request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('unsupported_media_type', 'request body encoding is not supported');
    case 'request.aborted':
      return new AppError('bad_request', 'request was aborted');
    default:
      return undefined;
  }
}

/** Turns every error into `{error:{code,message}}`; internals are logged, never sent. */
export const errorHandler: ErrorRequestHandler = (err: unknown, req: Request, res: Response, _next: NextFunction) => {
  const known = err instanceof AppError ? err : bodyParserError(err);
  const error = known ?? new AppError('internal', 'internal error');
  if (known) req.log.info({ code: known.code, err: known.message }, 'request refused');
  else req.log.error({ err }, 'unhandled error');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(error.status).json(error.toBody(req.id));
};

/** What this file reads of express's router: its layers, and the route each one is, if any. */
interface RouterLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): boolean;
}

/**
 * After every route: a 405 with `Allow` (RFC 9110 §15.5.6) when a route serves the path with other methods, else a
 * 404. Read from the app's own routes, so that it cannot disagree with them.
 */
export function unroutedHandler(app: Express): RequestHandler {
  return (req, res) => {
    const allowed = new Set<string>();
    for (const layer of (app.router as unknown as { stack: RouterLayer[] }).stack) {
      if (layer.route && layer.match(req.path)) for (const method of Object.keys(layer.route.methods)) allowed.add(method.toUpperCase());
    }
    if (allowed.size === 0 || allowed.has(req.method)) throw new AppError('not_found', `no route for ${req.method} ${req.path}`);
    if (allowed.has('GET')) allowed.add('HEAD');
    res.setHeader('allow', [...allowed].sort().join(', '));
    throw new AppError('method_not_allowed', `${req.method} is not allowed on ${req.path}; ${[...allowed].sort().join(', ')} are`);
  };
}

/** Service-to-service authentication: a shared token in `x-service-token`, compared in constant time. */
export function requireServiceToken(token: string): RequestHandler {
  const expected = Buffer.from(token);
  return (req, _res, next) => {
    const given = Buffer.from(String(req.headers['x-service-token'] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AppError('unauthorized', 'a valid x-service-token header is required');
    }
    next();
  };
}
