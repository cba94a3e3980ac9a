import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { databaseAnswers } from '@visp/testing';
import { CONTAINERS_CONF, FERRETDB_BIN, SESSION_GUARD_BIN } from './paths';
import { freePort, spawnLogged, waitUntil, type Child } from './processes';

/** Connection settings for the services, in their config's names. */
export interface InfraEnv {
  REDIS_URL: string;
  MONGO_URI: string;
  CONTAINER_HOST: string;
  CONTAINERS_CONF: string;
  /** For the session-manager (local mode) and the socket proxy. */
  SESSION_GUARD_BINARY: string;
}

export interface Infra {
  readonly env: InfraEnv;
  /** Which MongoDB-compatible server is in use, for the start-up message. */
  readonly mongoKind: 'MONGO_URI' | 'mongod' | 'ferretdb';
  stop(): Promise<void>;
}

export interface InfraOptions {
  /** Sockets, data and logs go here. */
  stateDir: string;
  /** Keep Redis and database data across runs (the dev stack); tests start empty. */
  persistent: boolean;
  /** An existing server to use instead of starting one. */
  mongoUri?: string;
}

const onPath = (command: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export function podmanEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF };
}

function pingPodman(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => req.destroy());
  });
}

function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

export async function startPodman(stateDir: string, logDir: string): Promise<{ child: Child; socket: string }> {
  const socket = path.join(stateDir, 'run/podman.sock');
  mkdirSync(path.dirname(socket), { recursive: true });
  rmSync(socket, { force: true });
  const child = spawnLogged('podman', 'podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    env: podmanEnv(),
    logFile: path.join(logDir, 'podman.log'),
    // conmon writes an empty `oom` file into its working directory when an exec'd process is OOM-killed (the memory
    // limit test does that): the state directory, not the checkout.
    cwd: stateDir,
  });
  await waitUntil('podman system service', () => pingPodman(socket), { timeoutMs: 30_000, child });
  return { child, socket };
}

async function startRedis(stateDir: string, logDir: string, persistent: boolean): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const dir = path.join(stateDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const persistence = persistent ? ['--appendonly', 'yes'] : ['--appendonly', 'no', '--save', ''];
  // 32 databases rather than 16: each e2e stack has one of its own (e2e/src/gateway-stack.ts, STACK_DATABASES).
  const child = spawnLogged('redis', 'redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--protected-mode', 'yes', '--databases', '32', ...persistence], {
    logFile: path.join(logDir, 'redis.log'),
  });
  await waitUntil('redis-server', () => pingRedis(port), { timeoutMs: 15_000, child });
  return { child, url: `redis://127.0.0.1:${port}` };
}

async function startMongo(stateDir: string, logDir: string, given?: string): Promise<{ child?: Child; uri: string; kind: Infra['mongoKind'] }> {
  if (given) {
    await waitUntil(`MongoDB at MONGO_URI`, () => databaseAnswers(given), { timeoutMs: 15_000 });
    return { uri: given, kind: 'MONGO_URI' };
  }
  const port = await freePort();
  const dir = path.join(stateDir, 'mongo');
  mkdirSync(dir, { recursive: true });
  const uri = `mongodb://127.0.0.1:${port}/visp`;
  const logFile = path.join(logDir, 'mongo.log');
  let child: Child;
  let kind: Infra['mongoKind'];
  if (onPath('mongod')) {
    child = spawnLogged('mongod', 'mongod', ['--bind_ip', '127.0.0.1', '--port', String(port), '--dbpath', dir], { logFile });
    kind = 'mongod';
  } else if (existsSync(FERRETDB_BIN)) {
    child = spawnLogged('ferretdb', FERRETDB_BIN, ['-listen', `127.0.0.1:${port}`, '-data', dir], { logFile });
    kind = 'ferretdb';
  } else {
    throw new Error('no MongoDB-compatible server: set MONGO_URI, put mongod on PATH, or run tools/setup/bootstrap.sh to build FerretDB');
  }
  await waitUntil(kind, () => databaseAnswers(uri), { timeoutMs: 30_000, child });
  return { child, uri, kind };
}

/** Starts Podman's API service, Redis and a MongoDB-compatible server on loopback. */
export async function startInfra(options: InfraOptions): Promise<Infra> {
  if (!existsSync(SESSION_GUARD_BIN)) throw new Error(`no session guard at ${SESSION_GUARD_BIN}: run tools/setup/bootstrap.sh`);
  const logDir = path.join(options.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  if (!options.persistent) {
    rmSync(path.join(options.stateDir, 'redis'), { recursive: true, force: true });
    rmSync(path.join(options.stateDir, 'mongo'), { recursive: true, force: true });
  }
  const children: Child[] = [];
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
  };
  // allSettled, not all: every start must have finished (and registered its child) before a failure stops them.
  const [podman, redis, mongo] = await Promise.allSettled([
    startPodman(options.stateDir, logDir).then((r) => (children.push(r.child), r)),
    startRedis(options.stateDir, logDir, options.persistent).then((r) => (children.push(r.child), r)),
    startMongo(options.stateDir, logDir, options.mongoUri).then((r) => (r.child && children.push(r.child), r)),
  ]);
  if (podman.status === 'rejected' || redis.status === 'rejected' || mongo.status === 'rejected') {
    await stop();
    const failure = [podman, redis, mongo].find((r) => r.status === 'rejected') as PromiseRejectedResult;
    throw failure.reason;
  }
  return {
    env: { REDIS_URL: redis.value.url, MONGO_URI: mongo.value.uri, CONTAINER_HOST: `unix://${podman.value.socket}`, CONTAINERS_CONF, SESSION_GUARD_BINARY: SESSION_GUARD_BIN },
    mongoKind: mongo.value.kind,
    stop,
  };
}
