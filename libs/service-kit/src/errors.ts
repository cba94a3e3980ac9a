import { ERROR_STATUS, SessionIdSchema, type ErrorBody, type ErrorCode } from '@visp/contracts';
import type { z } from 'zod';

/** The one error type services throw on purpose; its code decides the HTTP status (see ERROR_STATUS). */
export class AppError extends Error {
  override readonly name: string = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(requestId?: string): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(requestId ? { requestId } : {}) } };
  }
}

export class NotFoundError extends AppError {
  override readonly name = 'NotFoundError';
  constructor(what: string) {
    super('not_found', `${what} not found`);
  }
}

export class ValidationError extends AppError {
  override readonly name = 'ValidationError';
  constructor(message: string) {
    super('validation_failed', message);
  }

  /** The first issue, as `field: message`, which is what a caller needs to fix the request. */
  static fromZod(error: z.ZodError, what = 'body'): ValidationError {
    const issue = error.issues[0];
    const where = issue && issue.path.length > 0 ? `${what}.${issue.path.join('.')}` : what;
    return new ValidationError(`${where}: ${issue?.message ?? 'is invalid'}`);
  }
}

/** Parses `value` with `schema`, or throws a 400 naming the first bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what = 'body'): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw ValidationError.fromZod(result.error, what);
  return result.data;
}

/** The `:sid` of a route. A malformed id names no session: 404, like an unknown one, so ids cannot be probed for shape. */
export function sessionIdParam(params: { sid?: unknown }): string {
  const parsed = SessionIdSchema.safeParse(params.sid);
  if (!parsed.success) throw new NotFoundError(`session ${String(params.sid).slice(0, 40)}`);
  return parsed.data;
}

/** Requires a JSON body: anything else is a 415, before it can be mistaken for an empty one. */
export function requireJson(req: { is(type: string): string | false | null }): void {
  if (!req.is('application/json')) throw new AppError('unsupported_media_type', 'send the body as application/json');
}
