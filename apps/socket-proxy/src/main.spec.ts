// main.ts's wiring, with a stand-in for Podman on a unix socket (no Podman needed): from its settings it makes one
// socket per client, each passing on only what that client's policy allows; a policy file replaces the built-in
// clients; readiness asks Podman; /metrics counts calls; closing the service closes the client sockets.
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as Config from '@visp/config';
import { LABEL } from '@visp/contracts';
import { homeVolumeName } from '@visp/podman-client';
import type { Service } from '@visp/service-kit';

let main: () => Promise<void> = () => Promise.reject(new Error('main.ts did not call bootstrap'));
let services: Service[] = [];
let env: NodeJS.ProcessEnv = {};

jest.mock('@visp/service-kit', () => ({
  ...jest.requireActual<object>('@visp/service-kit'),
  bootstrap: (_component: string, run: () => Promise<void>) => void (main = run),
  // The service is not listened on its PORT (tests listen on a free port) and no signal handlers are installed.
  runService: (service: Service) => void services.push(service),
}));
// The settings come from this test's `env` alone, not from the process or a .env file in the working directory.
jest.mock('@visp/config', () => {
  const actual = jest.requireActual<typeof Config>('@visp/config');
  return { ...actual, loadConfigOrExit: (definition: Parameters<typeof actual.loadConfigOrExit>[0], options?: Config.EnvSourceOptions) => actual.loadConfigOrExit(definition, { ...options, cwd: dir, env }) };
});

const dir = mkdtempSync(path.join(tmpdir(), 'visp-socket-proxy-main-'));
const podmanSocket = path.join(dir, 'podman.sock');
/** What reached "Podman": method and path of each call. */
const reached: string[] = [];
const podman = http.createServer((req, res) => {
  reached.push(`${req.method} ${req.url}`);
  res.writeHead(200, { 'content-type': 'application/json', 'api-version': '1.41' }).end(req.url?.endsWith('/_ping') ? 'OK' : '[]');
});

/** A call on a client's socket, on a connection of its own (with a JSON body when given): its status and body. */
const call = (socketPath: string, method: string, url: string, json?: unknown) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const payload = json === undefined ? undefined : JSON.stringify(json);
    const headers = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const req = http.request({ socketPath, method, path: url, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end(payload);
  });

/** Runs main.ts with `settings`; returns its service (listening on a free loopback port) and its socket dir. */
async function start(name: string, settings: Record<string, string> = {}) {
  const socketDir = path.join(dir, name);
  env = { CONTAINER_HOST: `unix://${podmanSocket}`, SOCKET_PROXY_DIR: socketDir, LOG_LEVEL: 'silent', ...settings };
  const before = services.length;
  await main();
  const service = services[before];
  if (!service) throw new Error('main did not run its service');
  await new Promise<void>((resolve) => service.server.listen(0, '127.0.0.1', resolve));
  const { port } = service.server.address() as { port: number };
  return { service, socketDir, url: (p: string) => `http://127.0.0.1:${port}${p}`, sock: (client: string) => path.join(socketDir, client, `${client}.sock`) };
}

beforeAll(async () => {
  await new Promise<void>((resolve) => podman.listen(podmanSocket, resolve));
  await import('./main');
});
afterEach(async () => {
  await Promise.all(services.map((s) => s.close()));
  services = [];
  reached.length = 0;
  jest.restoreAllMocks();
});
afterAll(async () => {
  await new Promise((resolve) => podman.close(resolve));
});

it('makes a socket for each built-in client, each passing on only what its policy allows', async () => {
  const { socketDir, sock } = await start('builtin');
  expect(readdirSync(socketDir).sort()).toEqual(['readonly', 'recovery', 'session-manager']);

  // Images: the session-manager's alone. Networks: the session-manager's and recovery's. Ping: everyone's.
  const expected: Array<[string, string, number]> = [
    ['session-manager', '/v1.41/images/json', 200],
    ['recovery', '/v1.41/images/json', 403],
    ['readonly', '/v1.41/images/json', 403],
    ['session-manager', '/v1.41/networks', 200],
    ['recovery', '/v1.41/networks', 200],
    ['readonly', '/v1.41/networks', 403],
    ['readonly', '/_ping', 200],
  ];
  for (const [client, url, status] of expected) {
    const answer = await call(sock(client), 'GET', url);
    expect([client, url, answer.status]).toEqual([client, url, status]);
    if (status === 403) expect(JSON.parse(answer.body)).toMatchObject({ message: expect.stringContaining(`is not allowed for ${client}`) });
  }
  // Only what was allowed reached Podman.
  expect(reached).toEqual(['GET /v1.41/images/json', 'GET /v1.41/networks', 'GET /v1.41/networks', 'GET /_ping']);
});

it('has no socket for a client it does not know', async () => {
  const { sock } = await start('unknown');
  expect(existsSync(sock('gateway'))).toBe(false);
  await expect(call(sock('gateway'), 'GET', '/_ping')).rejects.toMatchObject({ code: 'ENOENT' });
  expect(reached).toEqual([]);
});

it("lets the session-manager mount a session's project repository under PROJECT_REPOSITORIES_DIR, and none without it", async () => {
  const root = path.join(dir, 'repositories');
  const create = {
    image: 'localhost/visp-testbox:1',
    user: '1000:1000',
    cap_drop: ['ALL'],
    no_new_privileges: true,
    labels: { [LABEL.owner]: 'ann', [LABEL.project]: 'p1' },
    volumes: [{ Name: homeVolumeName('ann'), Dest: '/home/visp' }],
    mounts: [{ type: 'bind', source: `${root}/p1`, destination: '/home/visp/project', options: ['rw'] }],
  };
  const withSetting = await start('projects', { PROJECT_REPOSITORIES_DIR: root });
  expect((await call(withSetting.sock('session-manager'), 'POST', '/v4.0.0/libpod/containers/create', create)).status).toBe(200);
  expect((await call(withSetting.sock('session-manager'), 'POST', '/v4.0.0/libpod/containers/create', { ...create, labels: { ...create.labels, [LABEL.project]: 'p2' } })).status).toBe(403);
  expect((await call(withSetting.sock('recovery'), 'POST', '/v4.0.0/libpod/containers/create', create)).status).toBe(403);
  const without = await start('no-projects');
  expect((await call(without.sock('session-manager'), 'POST', '/v4.0.0/libpod/containers/create', create)).status).toBe(403);
  expect(reached).toEqual(['POST /v4.0.0/libpod/containers/create']);
});

it('serves the clients of SOCKET_PROXY_POLICY_FILE instead of the built-in ones', async () => {
  const file = path.join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify({ clients: { monitor: { operations: ['ping', 'container.list'] } } }));
  const { socketDir, sock } = await start('file', { SOCKET_PROXY_POLICY_FILE: file });
  expect(readdirSync(socketDir)).toEqual(['monitor']);
  expect((await call(sock('monitor'), 'GET', '/_ping')).status).toBe(200);
  expect((await call(sock('monitor'), 'GET', '/v1.41/networks')).status).toBe(403);
  expect(reached).toEqual(['GET /_ping']);
});

it('stops with a config error and exit code 2 on a bad policy file', async () => {
  const file = path.join(dir, 'bad-policy.json');
  writeFileSync(file, JSON.stringify({ clients: { monitor: { operations: ['system.reset'] } } }));
  const exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Error(`exit ${String(code)}`);
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  await expect(start('bad', { SOCKET_PROXY_POLICY_FILE: file })).rejects.toThrow('exit 2');
  expect(exit).toHaveBeenCalledWith(2);
  expect(stderr).toHaveBeenCalledWith(expect.stringMatching(/^socket-proxy: config error: .*bad-policy\.json/));
  expect(existsSync(path.join(dir, 'bad'))).toBe(false);
});

it('refuses a Podman that is not on a unix socket', async () => {
  await expect(start('tcp', { CONTAINER_HOST: 'tcp://127.0.0.1:8080' })).rejects.toThrow(/needs Podman on a unix socket/);
  expect(existsSync(path.join(dir, 'tcp'))).toBe(false);
});

it('is ready when Podman answers, counts calls per client and decision, and closes the client sockets with the service', async () => {
  const { service, url, sock } = await start('service');
  const ready = await fetch(url('/readyz'));
  expect(ready.status).toBe(200);
  expect(reached).toContainEqual(expect.stringMatching(/^(GET|HEAD) \/.*_ping$/));

  await call(sock('readonly'), 'GET', '/_ping');
  await call(sock('readonly'), 'GET', '/v1.41/networks');
  const metrics = await (await fetch(url('/metrics'))).text();
  expect(metrics).toMatch(/^visp_socket_proxy_calls_total\{client="readonly",decision="allow"[^}]*\} 1$/m);
  expect(metrics).toMatch(/^visp_socket_proxy_calls_total\{client="readonly",decision="deny"[^}]*\} 1$/m);

  await service.close();
  await expect(call(sock('readonly'), 'GET', '/_ping')).rejects.toMatchObject({ code: expect.stringMatching(/ENOENT|ECONNREFUSED/) });
});
