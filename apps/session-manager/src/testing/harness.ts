// Runs the real session-manager in-process for integration tests: real Podman, Redis and database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeRedis, createRedis, RedisRouteTable, type Redis } from '@visp/bus';
import { BUILTIN_SESSION_TYPES, createLogger, SessionTypesSchema, type SessionTypes } from '@visp/config';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { defaultPolicies, SocketProxy, type ClientPolicy } from '@visp/podman-proxy';
import { FINAL_SESSION_STATES, LABEL, type SessionStreamMessage, type SessionView } from '@visp/contracts';
import { PodmanRuntime, podmanRuntimeSettings, type SessionRuntimeSettings } from '@visp/sessions';
import { memoryLogger, readSse, testInstanceId, testMongoUri, testPodmanHost, testRedisUrl, testSessionGuard, waitFor } from '@visp/testing';
import { openStore, type Store } from '@visp/store';
import { buildSessionManager, type SessionManager, type SessionManagerSettings } from '../app';

export const TOKEN = 'test-service-token-0123456789abcdef';
export const TESTBOX = 'localhost/visp-testbox:1';

const small = { default: { memoryMiB: 64, cpus: 0.5, pids: 64 }, max: { memoryMiB: 256, cpus: 1, pids: 128 } };
const box = (command: string[], extra: object = {}) => ({ image: TESTBOX, port: 8080, command, readinessPath: '/', baseUrlAware: false, tmpfsMiB: 16, limits: small, ...extra });

/** The built-in types plus light ones for lifecycle, load and failure tests. */
export const TEST_TYPES: SessionTypes = SessionTypesSchema.parse({
  ...BUILTIN_SESSION_TYPES,
  box: box(['httpd', '-f', '-p', '8080', '-h', '/var/www']),
  never: box(['sleep', '3600']),
  // Answers only once a test has created /tmp/go inside it: proves starts overlap without timing anything.
  gated: box(['sh', '-c', 'until [ -e /tmp/go ]; do sleep 0.05; done; exec httpd -f -p 8080 -h /var/www']),
  dies: box(['sh', '-c', 'echo "cannot open /data: no such file" >&2; exit 3']),
  missing: box(['true'], { image: 'localhost/visp-no-such-image:1' }),
});

export interface Harness {
  url: string;
  manager: SessionManager;
  store: Store;
  redis: Redis;
  podman: PodmanClient;
  routes: RedisRouteTable;
  instance: string;
  /** What the session-manager logged, for a failing test to show. */
  logs: Array<Record<string, unknown>>;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Containers of this harness's instance carrying a session id. */
  containersOf(sid: string): Promise<string[]>;
  close(): Promise<void>;
}

/** The session-manager's settings and its runtime's (Podman's, through the harness's socket proxy). */
type HarnessSettings = SessionManagerSettings & Pick<SessionRuntimeSettings, 'SESSION_NETWORK_JOINERS' | 'PROJECT_REPOSITORIES_DIR'>;

export async function startHarness(overrides: Partial<HarnessSettings> = {}, options: { podman?: PodmanClient } = {}): Promise<Harness> {
  const instance = testInstanceId();
  const store = await openStore(testMongoUri('sm'));
  const redis = createRedis(testRedisUrl(), { name: 'test' });
  // The test looks at Podman directly; the session-manager goes through a socket proxy of its own, as in production.
  const raw = discoverPodman({ CONTAINER_HOST: testPodmanHost() });
  const podman = new PodmanClient(raw);
  const proxyDir = mkdtempSync(path.join(tmpdir(), 'visp-sm-proxy-'));
  const proxy = new SocketProxy({ podmanSocket: 'socketPath' in raw ? raw.socketPath : '', instance, logger: createLogger({ component: 'socket-proxy', level: 'warn' }) }, [
    {
      name: 'session-manager',
      socketPath: path.join(proxyDir, 'session-manager.sock'),
      // As the socket-proxy service does with the same setting: sessions' project repositories, when a test sets it.
      policy: defaultPolicies([/^localhost\/visp-/], { sessionGuard: testSessionGuard(), projectRepositories: overrides.PROJECT_REPOSITORIES_DIR })['session-manager'] as ClientPolicy,
    },
  ]);
  await proxy.start();
  const managerPodman = options.podman ?? new PodmanClient({ socketPath: path.join(proxyDir, 'session-manager.sock') });
  const settings: HarnessSettings = {
    component: 'session-manager',
    HOST: '127.0.0.1',
    PORT: 0,
    SHUTDOWN_TIMEOUT_MS: 5000,
    INSTANCE_ID: instance,
    SERVICE_TOKEN: TOKEN,
    SESSION_RUNTIME: 'podman',
    SESSION_MODE: 'local',
    SESSION_NETWORK_JOINERS: [],
    SESSION_GUARD_BINARY: testSessionGuard(),
    SESSION_START_TIMEOUT: 120,
    MAX_SESSIONS_PER_USER: 3,
    MAX_SESSIONS_TOTAL: 50,
    // Culling off unless a test is about it.
    IDLE_TIMEOUT: 0,
    MAX_SESSION_AGE: 0,
    CULL_INTERVAL: 1,
    CULL_WARNING: 0,
    // The warm pool off unless a test is about it.
    WARM_SESSIONS: 0,
    WARM_SESSION_TYPES: ['jupyter'],
    WARM_UNUSED_TIMEOUT: 600,
    ...overrides,
  };
  const { logger, lines: logs } = memoryLogger();
  const runtime = new PodmanRuntime(managerPodman, podmanRuntimeSettings(settings), logger);
  const manager = await buildSessionManager(settings, { store, redis, runtime, types: TEST_TYPES, logger });
  const { port } = await manager.service.start();
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    manager,
    store,
    redis,
    podman,
    routes: new RedisRouteTable(redis),
    instance,
    logs,
    api: (method, path, body, headers = {}) =>
      fetch(`${url}${path}`, {
        method,
        headers: { 'x-service-token': TOKEN, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    containersOf: async (sid) => (await podman.listManaged(instance, { [LABEL.sessionId]: sid })).map((c) => c.name),
    async close() {
      await manager.service.close();
      await proxy.close();
      rmSync(proxyDir, { recursive: true, force: true });
      // Every session a test started must be gone by now: a leftover container is a leak, reported as a failure.
      const leaked = await podman.listManaged(instance).catch(() => []);
      const leakReport = await Promise.all(
        leaked.map(async (c) => {
          const record = await store.sessions.getAnyOwner(c.labels[LABEL.sessionId] ?? '');
          const story = record ? record.history.map((h) => h.state).join(' → ') : 'no record';
          const said = logs.filter((l) => l.sid === record?.sid).map((l) => String(l.msg));
          return `${c.name} (${c.state}; ${record?.owner ?? 'no owner'}'s session ${story}; logged: ${said.join(' | ') || 'nothing'})`;
        }),
      );
      for (const c of leaked) await podman.removeContainer(c.id, { force: true });
      // A session's own network goes with its container: one still here is a leak too.
      const networks = await podman.listManagedNetworks(instance).catch(() => []);
      for (const network of networks) await podman.removeNetwork(network.name);
      leakReport.push(...networks.filter((n) => n.name.startsWith('visp-session-net-')).map((n) => `network ${n.name}`));
      // Home volumes outlive sessions by design; a test's are removed with it.
      const volumes = await podman.docker.listVolumes({ filters: { label: [`${LABEL.instance}=${instance}`] } }).catch(() => ({ Volumes: [] }));
      for (const volume of volumes.Volumes ?? []) await podman.removeVolume(volume.Name);
      await store.connection.dropDatabase().catch(() => undefined);
      await store.close();
      await closeRedis(redis);
      if (leakReport.length > 0) throw new Error(`containers left behind: ${leakReport.join(', ')}`);
    },
  };
}

/** Asks for a session as `owner`; the request must be accepted (202). */
export async function requestSession(h: Harness, owner: string, type: string, extra: object = {}): Promise<SessionView> {
  const res = await h.api('POST', '/api/v1/sessions', { owner, type, ...extra });
  expect(res.status).toBe(202);
  return (await res.json()) as SessionView;
}

export async function getSession(h: Harness, sid: string): Promise<SessionView> {
  return (await (await h.api('GET', `/api/v1/sessions/${sid}`)).json()) as SessionView;
}

/** Polls the API until the session reaches `state` (or a final state, which then fails the wait). */
export function waitForState(h: Harness, sid: string, state: string, timeoutMs = 120_000): Promise<{ state: string; reason?: string }> {
  let seen = 'unknown';
  return waitFor(
    () => `session ${sid} to be ${state} (still ${seen})`,
    async () => {
      const view = await getSession(h, sid);
      seen = view.state;
      if (view.state === state) return view;
      if (FINAL_SESSION_STATES.includes(view.state)) throw new Error(`session ${sid} ended ${view.state} (${view.reason}) while waiting for ${state}`);
      return undefined;
    },
    timeoutMs,
    100,
  );
}

/** Reads a session's SSE stream until `until` holds for a message (or the stream ends); returns every message. */
export function readEvents(h: Harness, sid: string, until: (message: SessionStreamMessage) => boolean): Promise<SessionStreamMessage[]> {
  return readSse(`${h.url}/api/v1/sessions/${sid}/events`, { 'x-service-token': TOKEN }, until);
}
