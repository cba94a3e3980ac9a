import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parse } from 'dotenv';
import { ensureImages } from './images';
import { podmanEnv, startInfra, startPodman, type Infra } from './infra';
import { ensureServiceImages, ensureStandInImages } from './service-images';
import { nodeArgsFor } from '@visp/config';
import { clientSocketPath } from '@visp/podman-proxy';
import { startContainerStack } from '@visp/quadlets';
import { QUADLETS, ROOT, STATE_DIR, whisperEnv } from './paths';
import { readyz, spawnLogged, untilSignalled, waitUntil, type Child } from './processes';

/** Start order: what others depend on first. Ports are the documented defaults. */
const SERVICES = [
  { app: 'socket-proxy', port: 8050 },
  { app: 'session-manager', port: 8020 },
  { app: 'recovery', port: 8030 },
  { app: 'whisper-worker', port: 8040 },
  { app: 'gateway', port: 8080 },
] as const;

/** Secrets the local stack needs; generated once into .env.secrets (git-ignored), never printed except the login key. */
const DEV_SECRETS = ['SERVICE_TOKEN', 'TEST_USER_LOGIN_KEY', 'COOKIE_SECRET'] as const;

function ensureDevSecrets(file: string): Record<string, string> {
  const existing = existsSync(file) ? parse(readFileSync(file)) : {};
  const added = DEV_SECRETS.filter((key) => !existing[key]);
  for (const key of added) {
    existing[key] = randomBytes(24).toString('base64url');
    appendFileSync(file, `${key}=${existing[key]}\n`, { mode: 0o600 });
  }
  if (added.length) console.log(`[start] generated ${added.join(', ')} in ${path.relative(ROOT, file)}`);
  return existing;
}

async function assertPortFree(app: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = http.createServer();
    server.once('error', () => reject(new Error(`port ${port} (for ${app}) is in use: stop what uses it (an earlier npm start?)`)));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

export async function startStack(): Promise<number> {
  const stateDir = path.join(STATE_DIR, 'dev');
  const secrets = ensureDevSecrets(path.join(ROOT, '.env.secrets'));
  console.log('[start] starting Podman service, Redis and the MongoDB-compatible server');
  const infra: Infra = await startInfra({ stateDir, persistent: true, mongoUri: process.env.MONGO_URI });
  const services: Child[] = [];
  // The session-manager and recovery reach Podman only through the socket proxy, each on its own socket.
  const proxyDir = path.join(stateDir, 'run', 'socket-proxy');
  const podmanFor = (app: string) => (app === 'session-manager' || app === 'recovery' ? { CONTAINER_HOST: `unix://${clientSocketPath(proxyDir, app)}` } : {});
  const stopAll = async () => {
    for (const child of services.reverse()) await child.stop(15_000);
    await infra.stop();
  };
  try {
    await ensureImages((line) => console.log(`[start] ${line}`));
    for (const { app, port } of SERVICES) {
      await assertPortFree(app, port);
      const child = spawnLogged(app, process.execPath, [...nodeArgsFor(app), path.join(ROOT, 'dist/apps', app, 'main.js')], {
        cwd: ROOT,
        // Each session on its own origin, http://<sid>.localhost:8080/ (browsers resolve *.localhost to loopback).
        env: { ...(app === 'gateway' ? { SESSIONS_HOST: 'localhost' } : {}), ...process.env, ...infra.env, ...whisperEnv(), TRANSCRIPTION_DATA_DIR: path.join(stateDir, 'transcriptions'), PORT: String(port), SOCKET_PROXY_DIR: proxyDir, ...podmanFor(app) },
        logFile: path.join(stateDir, 'logs', `${app}.log`),
      });
      services.push(child);
      // The whisper-worker is ready once its engine has transcribed a second of silence (the model loaded).
      await waitUntil(`${app} /readyz`, () => readyz(port), { timeoutMs: 60_000, child });
      console.log(`[start] ${app} ready on http://127.0.0.1:${port}`);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  console.log(`
  VISP Session Host is running (database: ${infra.mongoKind}).

    Open:     http://localhost:8080
    Sign in:  any user name with the dev login key ${secrets.TEST_USER_LOGIN_KEY} (from .env.secrets)
    Sessions: http://<session id>.localhost:8080/, each on its own origin (the start page's Open links lead there)
    API:      http://localhost:8080/api/v1/openapi.json
    Logs:     ${path.relative(ROOT, path.join(stateDir, 'logs'))}/<service>.log
    Health:   http://127.0.0.1:8080/readyz (each service has /healthz, /readyz, /metrics)

  Press Ctrl-C to stop.
`);
  await untilSignalled();
  console.log('[start] stopping');
  await stopAll();
  return 0;
}

/**
 * `npm start -- --containers`: the product as containers from quadlets/, as production runs it (with local
 * stand-ins for the registry images, see libs/quadlets). Throwaway: its data goes when it stops.
 */
export async function startContainerMode(): Promise<number> {
  const stateDir = path.join(STATE_DIR, 'dev-containers');
  const secrets = ensureDevSecrets(path.join(ROOT, '.env.secrets'));
  const log = (line: string) => console.log(`[start] ${line}`);
  await ensureImages(log);
  await ensureServiceImages(log);
  await ensureStandInImages(log);
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  const podman = await startPodman(stateDir, path.join(stateDir, 'logs'));
  log('starting every service as a container (quadlets/)');
  const stack = await startContainerStack({
    quadlets: QUADLETS,
    instance: 'dev-containers',
    podmanSocket: podman.socket,
    podmanEnv: podmanEnv(),
    gatewayPort: 8080,
    loginKey: secrets.TEST_USER_LOGIN_KEY,
  }).catch(async (err: unknown) => {
    await podman.child.stop();
    throw err;
  });
  console.log(`
  VISP Session Host is running as containers (Podman networks visp-net, visp-whisper, and one per session).

    Open:     ${stack.url}
    Sign in:  any user name with the dev login key ${secrets.TEST_USER_LOGIN_KEY} (from .env.secrets)
    Logs:     podman logs visp-gateway (and the other visp-* containers)

  Press Ctrl-C to stop (and remove the containers, networks and volumes).
`);
  await untilSignalled();
  log('stopping');
  await stack.stop();
  await podman.child.stop();
  return 0;
}
