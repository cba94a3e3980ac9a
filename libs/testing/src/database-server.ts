import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { freePort } from './ports';
import { waitFor } from './wait';

/** A MongoDB-compatible server of a test's own, its data on disk across restarts, for fault tests. */
export interface OwnDatabase {
  /** A URI naming a database of its own on this server. */
  uri(name: string): string;
  /** Stops the server (SIGTERM) and starts it again on the same port and data. */
  restart(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

async function answers(uri: string): Promise<boolean> {
  const connection = mongoose.createConnection(uri, { serverSelectionTimeoutMS: 500 });
  try {
    await connection.asPromise();
    await connection.db?.admin().ping();
    return true;
  } catch {
    return false;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * The same kind of server the test runner started (VISP_TEST_DATABASE_SERVER: `mongod`, or the path of the
 * FerretDB that bootstrap built), on a port and data directory of its own.
 */
export async function startOwnDatabase(): Promise<OwnDatabase> {
  const server = process.env.VISP_TEST_DATABASE_SERVER;
  if (!server) throw new Error('VISP_TEST_DATABASE_SERVER is not set: a test that restarts its database needs the test runner to have started mongod or FerretDB (not MONGO_URI)');
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'visp-test-db-'));
  const args = path.basename(server) === 'mongod' ? ['--bind_ip', '127.0.0.1', '--port', String(port), '--dbpath', dir] : ['-listen', `127.0.0.1:${port}`, '-data', dir];
  const base = `mongodb://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(server, args, { stdio: 'ignore' });
    await waitFor(`${path.basename(server)} on ${port}`, () => answers(`${base}/ping`), 30_000, 100);
  };
  const halt = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    uri: (name) => `${base}/${name}`,
    async restart(options = {}) {
      await halt();
      await new Promise((resolve) => setTimeout(resolve, options.downMs ?? 0));
      await start();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
