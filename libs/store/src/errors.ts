/** A unique index refused a write. Same type for inserts (E11000) and for FerretDB's updates (code 1). */
export class DuplicateKeyError extends Error {
  override readonly name = 'DuplicateKeyError';
}

/** A compare-and-set write lost to other writes (or never matched) on every attempt it was allowed; retrying later may work. */
export class ConcurrentChangeError extends Error {
  override readonly name = 'ConcurrentChangeError';
}

interface MongoLikeError {
  code?: number;
  codeName?: string;
  message?: string;
}

/** True for a unique-index violation, whichever server and operation reported it. */
export function isDuplicateKey(err: unknown): boolean {
  const e = (err ?? {}) as MongoLikeError;
  if (e.code === 11000 || e.code === 11001 || e.codeName === 'DuplicateKey') return true;
  // FerretDB 1.24 (SQLite) reports a unique violation on update as code 1 with the SQLite message.
  return e.code === 1 && /duplicate key|UNIQUE constraint/i.test(e.message ?? '');
}

/** Runs a write, turning a unique-index violation into {@link DuplicateKeyError}. */
export async function mapDuplicateKey<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isDuplicateKey(err)) throw new DuplicateKeyError(`${what} already exists`, { cause: err });
    throw err;
  }
}
