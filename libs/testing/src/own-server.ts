import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports';
import { waitFor } from './wait';

/** A server process of a test's own, on a free port and a data directory that outlive its restarts. */
export interface OwnServer {
  port: number;
  /** Stops the server (SIGTERM: it finishes its writes) and starts it again on the same port and data. */
  restart(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export interface OwnServerSpec {
  /** Names the server in a timeout's message and its data directory. */
  name: string;
  command: string;
  args: (port: number, dir: string) => string[];
  /** True once the server answers. */
  answers: (port: number) => Promise<boolean>;
  startTimeoutMs: number;
}

export async function startOwnServer(spec: OwnServerSpec): Promise<OwnServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), `visp-test-${spec.name}-`));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(spec.command, spec.args(port, dir), { stdio: 'ignore' });
    await waitFor(`${spec.name} on ${port}`, () => spec.answers(port), spec.startTimeoutMs, 100);
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
    port,
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
