// What every benchmark that runs the built services needs: its own Redis, database and Podman, the images, and
// everything removed afterwards.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureImages } from '../src/images';
import { startInfra, type Infra } from '../src/infra';
import { removeLeftovers } from '../src/leftovers';
import { ROOT, STATE_DIR } from '../src/paths';
import { freePort, readyz, spawnLogged, waitUntil, type Child } from '../src/processes';

export const log = (line: string) => console.log(`[bench] ${line}`);

export interface Bench {
  /** The instance id everything the benchmark makes is labelled with. */
  instance: string;
  stateDir: string;
  infra: Infra;
  /** Starts a built service (`dist/apps/<app>`) against the bench's servers; waits for /readyz. */
  service(app: string, env: Record<string, string>): Promise<{ child: Child; port: number }>;
}

/** Runs `work` with fresh servers and removes every container, volume and file it made, whatever happens. */
export async function withBench(work: (bench: Bench) => Promise<number>): Promise<number> {
  const instance = `bench-${randomBytes(3).toString('hex')}`;
  const stateDir = path.join(STATE_DIR, instance);
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  const infra = await startInfra({ stateDir, persistent: false, mongoUri: process.env.MONGO_URI });
  const children: Child[] = [];
  const service: Bench['service'] = async (app, env) => {
    const port = await freePort();
    const child = spawnLogged(app, process.execPath, [path.join(ROOT, 'dist/apps', app, 'main.js')], {
      cwd: ROOT,
      env: { ...process.env, ...infra.env, INSTANCE_ID: instance, LOG_LEVEL: 'warn', ...env, PORT: String(port) },
      logFile: path.join(stateDir, 'logs', `${app}.log`),
    });
    children.push(child);
    await waitUntil(`${app} /readyz`, () => readyz(port), { timeoutMs: 30_000, child });
    return { child, port };
  };
  try {
    await ensureImages(log);
    return await work({ instance, stateDir, infra, service });
  } finally {
    for (const child of children.reverse()) await child.stop(15_000);
    await removeLeftovers(instance).catch(() => 0);
    await infra.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
