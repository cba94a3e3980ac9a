// Runs the built services (dist/apps/*/main.js, as `npm start` and the images run them) as child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nodeArgsFor } from '@visp/config';
import { waitFor } from '@visp/testing';

const ROOT = path.resolve(__dirname, '../..');
export const APPS = ['socket-proxy', 'session-manager', 'recovery', 'whisper-worker', 'gateway'] as const;
export type App = (typeof APPS)[number];

/** Secrets every e2e service gets (test values, never real ones). */
export const TEST_SECRETS = {
  SERVICE_TOKEN: 'e2e-service-token-0123456789abcdef',
  COOKIE_SECRET: 'e2e-cookie-secret-0123456789abcdef0123',
  TEST_USER_LOGIN_KEY: 'e2e-login-key-0123456789',
};

// The real environment (as npm start passes it), but run outside the repository so a developer's .env or
// .env.secrets cannot leak into the test.
const cwd = mkdtempSync(path.join(tmpdir(), 'visp-e2e-'));

const bundle = (app: App) => {
  const file = path.join(ROOT, 'dist/apps', app, 'main.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (npm test does)`);
  return file;
};

export interface Launched {
  app: App;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function launch(app: App, env: Record<string, string>, args: string[] = []): Launched {
  const child = spawn(process.execPath, [...nodeArgsFor(app), bundle(app), ...args], { cwd, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { app, child, output: () => output, exited };
}

/**
 * Waits until the service's `/readyz` on `port` answers 200. On the timeout the error says why not: its last
 * answer, whether it exited, and the end of what it printed (a spec's stack failing to start is otherwise a bare
 * "timed out").
 */
export async function untilReady(service: Launched, port: number, timeoutMs: number): Promise<void> {
  let last = 'no answer yet';
  const why = () => {
    const exit = service.child.exitCode ?? service.child.signalCode;
    return `${service.app} on ${port} to be ready; last /readyz: ${last}; ${exit === null ? 'still running' : `exited (${exit})`}; its output ends:\n${service.output().slice(-3000)}`;
  };
  await waitFor(why, async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      last = `${res.status} ${await res.text()}`;
      return res.status === 200;
    } catch (err) {
      // fetch's errors come from Node's realm, not the test's: no `instanceof Error` here.
      const { message, cause } = err as { message?: string; cause?: { message?: string } };
      last = `${message ?? String(err)}${cause?.message ? ` (${cause.message})` : ''}`;
      return false;
    }
  }, timeoutMs);
}
