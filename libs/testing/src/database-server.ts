import path from 'node:path';
import mongoose from 'mongoose';
import { startOwnServer } from './own-server';

/** A MongoDB-compatible server of a test's own, its data on disk across restarts, for fault tests. */
export interface OwnDatabase {
  /** A URI naming a database of its own on this server. */
  uri(name: string): string;
  /** Stops the server (SIGTERM) and starts it again on the same port and data. */
  restart(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Whether a MongoDB-compatible server answers a ping at `uri` within `timeoutMs`; never throws. The one probe of a
 * database server coming up: the test runner's and `npm start`'s (tools/src/infra.ts), and a fault test's own.
 */
export async function databaseAnswers(uri: string, timeoutMs = 1000): Promise<boolean> {
  let connection: mongoose.Connection | undefined;
  try {
    connection = mongoose.createConnection(uri, { serverSelectionTimeoutMS: timeoutMs });
    await connection.asPromise();
    await connection.db?.admin().ping();
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/**
 * The same kind of server the test runner started (VISP_TEST_DATABASE_SERVER: `mongod`, or the path of the
 * FerretDB that bootstrap built), on a port and data directory of its own.
 */
export async function startOwnDatabase(): Promise<OwnDatabase> {
  const server = process.env.VISP_TEST_DATABASE_SERVER;
  if (!server) throw new Error('VISP_TEST_DATABASE_SERVER is not set: a test that restarts its database needs the test runner to have started mongod or FerretDB (not MONGO_URI)');
  const mongod = path.basename(server) === 'mongod';
  const own = await startOwnServer({
    name: path.basename(server),
    command: server,
    args: (port, dir) => (mongod ? ['--bind_ip', '127.0.0.1', '--port', String(port), '--dbpath', dir] : ['-listen', `127.0.0.1:${port}`, '-data', dir]),
    // A short wait per probe: a fault test times how soon its server is back.
    answers: (port) => databaseAnswers(`mongodb://127.0.0.1:${port}/ping`, 500),
    startTimeoutMs: 30_000,
  });
  return { uri: (name) => `mongodb://127.0.0.1:${own.port}/${name}`, restart: (options) => own.restart(options), stop: () => own.stop() };
}
