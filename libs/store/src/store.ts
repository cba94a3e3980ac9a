import mongoose, { type Connection } from 'mongoose';
import type { Logger } from '@visp/config';
import { ProjectRepository } from './projects/project.repository';
import { SessionRepository } from './sessions/session.repository';
import { TokenRepository } from './tokens/token.repository';
import { TranscriptionRepository } from './transcriptions/transcription.repository';
import { UserRepository } from './users/user.repository';

export interface Store {
  readonly connection: Connection;
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly tokens: TokenRepository;
  readonly transcriptions: TranscriptionRepository;
  /** The product's own projects (sites without VISP's database). */
  readonly projects: ProjectRepository;
  /** Resolves when the server answers a ping; for /readyz. */
  ping(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface StoreOptions {
  logger?: Logger;
  /** How long to look for a server before an operation fails. @defaultValue 5000 */
  serverSelectionTimeoutMs?: number;
}

/**
 * Opens a connection of its own (not mongoose's global one) with the repositories on it. Indexes are built
 * here, explicitly, because FerretDB and MongoDB both need the unique indexes before the first write counts.
 */
export async function openStore(uri: string, options: StoreOptions = {}): Promise<Store> {
  const connection = mongoose.createConnection(uri, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? 5000,
    autoIndex: false,
  });
  await connection.asPromise();
  // Registered after the first connection, so a failed start is one error, not also a "disconnected" warning.
  connection.on('disconnected', () => options.logger?.warn('database disconnected'));
  connection.on('reconnected', () => options.logger?.info('database reconnected'));
  const users = new UserRepository(connection);
  const sessions = new SessionRepository(connection);
  const tokens = new TokenRepository(connection);
  const transcriptions = new TranscriptionRepository(connection);
  const projects = new ProjectRepository(connection, users);
  await Promise.all([users.ensureIndexes(), sessions.ensureIndexes(), tokens.ensureIndexes(), transcriptions.ensureIndexes(), projects.ensureIndexes()]);
  let closing: Promise<void> | undefined;
  return {
    connection,
    users,
    sessions,
    tokens,
    transcriptions,
    projects,
    async ping() {
      const db = connection.db;
      if (!db) throw new Error('database not connected');
      await db.admin().ping();
    },
    close() {
      closing ??= connection.close();
      return closing;
    },
  };
}
