// What every benchmark that runs the built services needs: its own Redis, database and Podman, the images, and
// everything removed afterwards.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureImages } from '../src/images';
import { startInfra, type Infra } from '../src/infra';
import { removeLeftovers } from '../src/leftovers';
import { holdRunLock } from '../src/run-lock';
import { ROOT, STATE_DIR } from '../src/paths';
import { nodeArgsFor } from '@visp/config';
import { freePort, readyz, spawnLogged, untilSignalled, waitUntil, type Child } from '../src/processes';

export const log = (line: string) => console.log(`[bench] ${line}`);

export interface Bench {
  /** The instance id everything the benchmark makes is labelled with. */
  instance: string;
  stateDir: string;
  infra: Infra;
  /**
   * Starts a built service (`dist/apps/<app>`) against the bench's servers and waits until `probe` answers
   * (`/readyz`, or `/healthz` for a service whose dependencies the bench leaves out).
   */
  service(app: string, env: Record<string, string>, probe?: '/readyz' | '/healthz'): Promise<{ child: Child; port: number }>;
  /** Any other process, logged and stopped with the rest. */
  spawn(name: string, command: string, args: string[], env?: Record<string, string>): Child;
}

/** The run lock, taken once per process: `bench all` runs one benchmark after another. */
let locked: Promise<void> | undefined;
/** The clean-up of the benchmark under way, which Ctrl-C runs before the process ends. */
let cleanUpCurrent: (() => Promise<void>) | undefined;
let signalsWatched = false;

/** Waits for the machine's run lock and holds it until the process ends. */
export const lockBench = (): Promise<void> => (locked ??= holdRunLock(log));

/** Runs `work` with fresh servers and removes every container, volume and file it made, whatever happens (Ctrl-C too). */
export async function withBench<T>(work: (bench: Bench) => Promise<T>): Promise<T> {
  // Not beside a test run: they share Podman and the cores, and each would measure the other.
  await lockBench();
  const instance = `bench-${randomBytes(3).toString('hex')}`;
  const stateDir = path.join(STATE_DIR, instance);
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  const infra = await startInfra({ stateDir, persistent: false, mongoUri: process.env.MONGO_URI });
  const children: Child[] = [];
  const spawn: Bench['spawn'] = (name, command, args, env = {}) => {
    const child = spawnLogged(name, command, args, { cwd: ROOT, env: { ...process.env, ...env }, logFile: path.join(stateDir, 'logs', `${name}.log`) });
    children.push(child);
    return child;
  };
  const service: Bench['service'] = async (app, env, probe = '/readyz') => {
    const port = await freePort();
    const child = spawn(app, process.execPath, [...nodeArgsFor(app), path.join(ROOT, 'dist/apps', app, 'main.js')], { ...infra.env, INSTANCE_ID: instance, LOG_LEVEL: 'warn', ...env, PORT: String(port) });
    const answers = probe === '/readyz' ? () => readyz(port) : async () => (await fetch(`http://127.0.0.1:${port}${probe}`).catch(() => undefined))?.ok === true;
    await waitUntil(`${app} ${probe}`, answers, { timeoutMs: 30_000, child });
    return { child, port };
  };
  let cleaned: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      for (const child of children.reverse()) await child.stop(15_000);
      await removeLeftovers(instance).catch(() => 0);
      await infra.stop();
      rmSync(stateDir, { recursive: true, force: true });
    })());
  // Ctrl-C abandons the run but not the clean-up: no process, container or file of the bench is left behind.
  cleanUpCurrent = cleanUp;
  if (!signalsWatched) {
    signalsWatched = true;
    void untilSignalled().then(() => (cleanUpCurrent?.() ?? Promise.resolve()).finally(() => process.exit(130)));
  }
  try {
    await ensureImages(log);
    return await work({ instance, stateDir, infra, service, spawn });
  } finally {
    await cleanUp();
    cleanUpCurrent = undefined;
  }
}
