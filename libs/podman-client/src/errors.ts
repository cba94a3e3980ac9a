/** Errors from the Podman API, typed by meaning rather than by status code (Podman answers 500 for conflicts). */
export class PodmanError extends Error {
  override readonly name: string = 'PodmanError';
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class NotFoundError extends PodmanError {
  override readonly name = 'NotFoundError';
}

export class ConflictError extends PodmanError {
  override readonly name = 'ConflictError';
}

/** The socket is missing, refuses connections, or is not ours to use. */
export class PodmanUnavailableError extends PodmanError {
  override readonly name = 'PodmanUnavailableError';
}

const CONFLICT_MESSAGE = /already (exists|in use)|is in use|name .* is (already )?(in use|taken)|conflict/i;
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE']);

interface ModemError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string; cause?: string } | null;
}

/** Maps whatever dockerode threw to one of the typed errors, keeping Podman's own message. */
export function toPodmanError(err: unknown, operation: string): PodmanError {
  if (err instanceof PodmanError) return err;
  const e = (err ?? {}) as ModemError;
  const detail = e.json?.message ?? e.message ?? String(err);
  const message = `${operation}: ${detail}`;
  if (e.code && UNAVAILABLE_CODES.has(e.code)) return new PodmanUnavailableError(`${operation}: Podman API unavailable (${e.code})`, undefined, { cause: err });
  if (e.statusCode === 404) return new NotFoundError(message, 404, { cause: err });
  if (e.statusCode === 409 || (e.statusCode === 500 && CONFLICT_MESSAGE.test(detail))) return new ConflictError(message, e.statusCode, { cause: err });
  return new PodmanError(message, e.statusCode, { cause: err });
}
