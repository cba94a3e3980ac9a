// Runs the built services (dist/apps/*/main.js, as `npm start` and the images run them) as child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nodeArgsFor } from '@visp/config';

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
  return { child, output: () => output, exited };
}
