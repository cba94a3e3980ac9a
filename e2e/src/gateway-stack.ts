// The gateway and the session-manager as built, with the test's real Redis, database and Podman: what the e2e
// specs drive through the gateway only. Each spec gets its own ports and database.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { BUILTIN_SESSION_TYPES } from '@visp/config';
import { LABEL, type SessionStreamMessage, type SessionView } from '@visp/contracts';
import { readSse, testInstanceId, testMongoUri, testPodmanHost, testRedisUrl } from '@visp/testing';
import { ConflictError, discoverPodman, PodmanClient } from '@visp/podman-client';
import { launch, TEST_SECRETS, untilReady, type Launched } from './launch';

// `echo` shows, from inside its container, the request the app received (busybox httpd's CGI environment).
// Headers end in CRLF: Node's HTTP parser (rightly) refuses bare LF. In the home volume: /tmp is noexec.
const ECHO_SCRIPT = String.raw`#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nenv\n`;
const ECHO_COMMAND = ['sh', '-c', String.raw`mkdir -p www/cgi-bin && printf '${ECHO_SCRIPT}' > www/cgi-bin/env && chmod +x www/cgi-bin/env && exec httpd -f -p 8080 -h www`];

const SESSION_TYPES = {
  jupyter: BUILTIN_SESSION_TYPES.jupyter,
  // The R stand-in: an app that serves anyone who reaches it, without a token (as RStudio with auth-none does).
  rstudio: BUILTIN_SESSION_TYPES.rstudio,
  vscode: BUILTIN_SESSION_TYPES.vscode,
  // Answers three seconds after it starts: time to kill the session-manager in the middle of a start.
  slowecho: {
    image: 'localhost/visp-testbox:1',
    port: 8080,
    command: ['sh', '-c', 'sleep 3; exec httpd -f -p 8080 -h /var/www'],
    readinessPath: '/',
    baseUrlAware: false,
    tmpfsMiB: 16,
    limits: { default: { memoryMiB: 64, cpus: 0.5, pids: 64 }, max: { memoryMiB: 128, cpus: 1, pids: 128 } },
  },
  echo: {
    image: 'localhost/visp-testbox:1',
    port: 8080,
    command: ECHO_COMMAND,
    readinessPath: '/cgi-bin/env',
    baseUrlAware: false,
    tmpfsMiB: 16,
    limits: { default: { memoryMiB: 64, cpus: 0.5, pids: 64 }, max: { memoryMiB: 128, cpus: 1, pids: 128 } },
  },
};

export type Auth = Record<string, string>;

export interface GatewayStack {
  /** `http://127.0.0.1:<gateway port>` */
  url: string;
  /** The instance id the session-manager (and recovery) run as. */
  instance: string;
  /** The environment every service of the stack gets (Redis, database, secrets, session types). */
  env(): Record<string, string>;
  /** The running session-manager, to kill; `startSessionManager` starts another. */
  sessionManager(): Launched;
  startSessionManager(): Promise<void>;
  /** The gateway the stack started on its own port, to kill; `startGateway` starts another. */
  gateway(): Launched;
  /** Stops the stack's gateway, runs `whileDown`, and starts it again on its port with its settings; ready when this resolves. */
  restartGateway(whileDown: () => Promise<void>): Promise<void>;
  /** The Origin header of the gateway's own page. */
  origin: Auth;
  /** Another gateway on the same session-manager, with settings of its own; ready when this resolves. */
  startGateway(port: number, env?: Record<string, string>): Promise<Launched>;
  /** A whisper-worker on the stack's queue and data dir, ready (its engine self-tested) when this resolves. */
  startWorker(port: number, env?: Record<string, string>): Promise<Launched>;
  /** Where uploads and results are stored. */
  dataDir: string;
  /** The Redis (and database number) the stack's services use. */
  redisUrl(): string;
  /** Signs in with the dev key; returns the cookie header to send. */
  signIn(username: string): Promise<Auth>;
  api(path: string, auth: Auth, init?: { method?: string; body?: unknown; headers?: Auth }): Promise<Response>;
  /** Creates a session through the public API and follows its progress stream until it is ready. */
  launchSession(auth: Auth, type: string): Promise<{ session: SessionView; stream: SessionStreamMessage[] }>;
}

/**
 * Each stack's Redis database (3–15), so that one spec's state (login rate limits, queues, routes) never meets
 * another's, whichever Jest worker runs them. A new stack gets the next number.
 */
const STACK_DATABASES: Record<string, number> = { gw: 3, webclient: 4, browser: 5, recovery: 6, transcribe: 7, sso: 10, limits: 11, isolation: 12, origin: 13, fuzz: 14, wsfuzz: 15, visp: 16, vispdb: 17, kube: 18, kubecull: 19, envs: 20, warm: 21, capacity: 22, kubewarm: 23 };
// 8: service-images.int.spec.ts; 9: the secret probe of tools/src/visp/visp.int.spec.ts.

export interface StackOptions {
  /** A Redis of the test's own (fault tests restart it); read when the stack starts. */
  redisUrl?: () => string;
  /** A database server of the test's own (fault tests restart it); read when the stack starts. */
  mongoUri?: () => string;
  /** Settings of the session-manager's on top of the stack's. */
  sessionManagerEnv?: Record<string, string>;
  /** More of them, read each time it starts (made in a beforeAll, such as a kubeconfig). */
  sessionManagerEnvAtStart?: () => Record<string, string>;
}

function unregistered(db: string): never {
  throw new Error(`add the stack ${db} to STACK_DATABASES in e2e/src/gateway-stack.ts`);
}

/** Registers the stack's beforeAll and afterAll; the gateway gets `gatewayEnv` on top of the defaults. */
export function useGatewayStack(ports: { sessionManager: number; gateway: number }, db: string, gatewayEnv: Record<string, string> = {}, options: StackOptions = {}): GatewayStack {
  const running: Launched[] = [];
  const instance = testInstanceId();
  const url = `http://127.0.0.1:${ports.gateway}`;
  const origin = { origin: url };
  let mongoUri: string | undefined;
  const typesFile = path.join(tmpdir(), `visp-e2e-types-${db}-${process.pid}.json`);
  const redisUrl = () => options.redisUrl?.() ?? testRedisUrl(STACK_DATABASES[db] ?? unregistered(db));
  const dataRoot = mkdtempSync(path.join(tmpdir(), `visp-e2e-data-${db}-`));
  // Not there yet, as on a fresh host: the gateway makes it when it starts.
  const dataDir = path.join(dataRoot, 'transcriptions');
  const common = () => ({
    ...TEST_SECRETS,
    REDIS_URL: redisUrl(),
    TRANSCRIPTION_DATA_DIR: dataDir,
    MONGO_URI: (mongoUri ??= options.mongoUri?.() ?? testMongoUri(db)),
    SESSION_MANAGER_URL: `http://127.0.0.1:${ports.sessionManager}`,
    INSTANCE_ID: instance,
    CONTAINER_HOST: testPodmanHost(),
    SESSION_TYPES_FILE: typesFile,
  });
  let manager: Launched | undefined;
  let gateway: Launched | undefined;

  async function startGateway(port: number, env: Record<string, string> = {}): Promise<Launched> {
    const gateway = launch('gateway', { ...common(), PORT: String(port), ...env });
    running.push(gateway);
    await untilReady(gateway, port, 20_000);
    return gateway;
  }

  async function startWorker(port: number, env: Record<string, string> = {}): Promise<Launched> {
    const worker = launch('whisper-worker', { ...common(), PORT: String(port), ...env });
    running.push(worker);
    await untilReady(worker, port, 60_000);
    return worker;
  }

  async function startSessionManager(): Promise<void> {
    manager = launch('session-manager', { ...common(), PORT: String(ports.sessionManager), ...options.sessionManagerEnv, ...options.sessionManagerEnvAtStart?.() });
    running.push(manager);
    await untilReady(manager, ports.sessionManager, 20_000);
  }

  // Specs sign in many times a minute from one address; the rate limit has a test of its own.
  const stackGatewayEnv = { LOGIN_RATE_LIMIT: '1000', ...gatewayEnv };

  beforeAll(async () => {
    writeFileSync(typesFile, JSON.stringify(SESSION_TYPES));
    await startSessionManager();
    gateway = await startGateway(ports.gateway, stackGatewayEnv);
  }, 60_000);

  afterAll(async () => {
    for (const run of running) run.child.kill('SIGTERM');
    await Promise.all(running.map((r) => r.exited));
    rmSync(dataRoot, { recursive: true, force: true });
    const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
    // Sessions outlive the services by design (recovery tests end with adopted ones running); the stack's go with it.
    for (const container of await podman.listManaged(instance)) await podman.removeContainer(container.id, { force: true });
    // Their own networks go with them (local mode gives each session one).
    for (const network of await podman.listManagedNetworks(instance)) await podman.removeNetwork(network.name);
    // Home volumes outlive sessions by design; this test's go with it. A home is named by its owner alone, so
    // another spec running beside this one may be using one this stack made (both have a "bob"): that one stays,
    // and the test runner removes it with the run's other leftovers.
    const { Volumes } = await podman.docker.listVolumes({ filters: { label: [`${LABEL.instance}=${instance}`] } });
    for (const volume of Volumes ?? []) {
      await podman.removeVolume(volume.Name).catch((err: unknown) => {
        if (!(err instanceof ConflictError)) throw err;
      });
    }
  });

  const api: GatewayStack['api'] = (apiPath, auth, init = {}) =>
    fetch(`${url}${apiPath}`, {
      method: init.method ?? 'GET',
      headers: { ...origin, ...auth, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });

  return {
    url,
    instance,
    env: common,
    sessionManager: () => {
      if (!manager) throw new Error('the session-manager has not been started');
      return manager;
    },
    startSessionManager,
    gateway: () => {
      if (!gateway) throw new Error('the gateway has not been started');
      return gateway;
    },
    async restartGateway(whileDown) {
      if (!gateway) throw new Error('the gateway has not been started');
      gateway.child.kill('SIGTERM');
      await gateway.exited;
      await whileDown();
      gateway = await startGateway(ports.gateway, stackGatewayEnv);
    },
    origin,
    startGateway,
    startWorker,
    dataDir,
    redisUrl,
    api,
    async signIn(username) {
      const res = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...origin }, body: JSON.stringify({ username, key: TEST_SECRETS.TEST_USER_LOGIN_KEY }) });
      expect(res.status).toBe(200);
      const cookie = res.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/^visp_login=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
      return { cookie: cookie.split(';')[0] ?? '' };
    },
    async launchSession(auth, type) {
      const res = await api('/api/v1/sessions', auth, { method: 'POST', body: { type } });
      expect(res.status).toBe(202);
      const session = (await res.json()) as SessionView;
      const stream = await readSse<SessionStreamMessage>(`${url}/api/v1/sessions/${session.sid}/events`, auth, (m) => m.kind === 'state' && ['ready', 'failed'].includes(m.state));
      expect(stream.at(-1)).toMatchObject({ kind: 'state', state: 'ready' });
      return { session, stream };
    },
  };
}

/** The status a WebSocket upgrade is answered with: 101 when it opens. */
export const upgradeStatus = (wsUrl: string, headers: Auth) =>
  new Promise<number>((resolve) => {
    const ws = new WebSocket(wsUrl, { headers });
    ws.once('open', () => (ws.close(), resolve(101)));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
