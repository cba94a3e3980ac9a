// The socket proxy in front of the test's real Podman: what the session-manager does passes; everything on the
// denial list is refused with a reason, and Podman's state is unchanged afterwards.
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { discoverPodman, encodeSessionLabels, PodmanClient, toCreateOptions, type ContainerSpec } from '@visp/podman-client';
import { memoryLogger, testInstanceId, testPodmanHost, waitFor } from '@visp/testing';
import { defaultPolicies } from './policy';
import { SocketProxy } from './proxy';

const instance = testInstanceId();
const dir = mkdtempSync(path.join(tmpdir(), 'visp-socket-proxy-'));
const raw = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
const rawSocket = (discoverPodman({ CONTAINER_HOST: testPodmanHost() }) as { socketPath: string }).socketPath;
const { logger, lines } = memoryLogger();
const policies = defaultPolicies([/^localhost\/visp-/]);
const sock = (client: string) => path.join(dir, `${client}.sock`);
const proxy = new SocketProxy({ podmanSocket: rawSocket, instance, logger }, Object.entries(policies).map(([name, policy]) => ({ name, policy, socketPath: sock(name) })));
const viaProxy = new PodmanClient({ socketPath: sock('session-manager') });

const spec = (name: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name,
  image: 'localhost/visp-testbox:1',
  labels: encodeSessionLabels({ instance, id: 'proxytestaaa', type: 'box', owner: 'ann', created: new Date().toISOString() }),
  user: '1000:1000',
  cmd: ['sleep', '600'],
  limits: { memoryBytes: 64 * 2 ** 20, nanoCpus: 5e8, pids: 64 },
  tmpfs: [{ target: '/tmp', sizeBytes: 2 ** 24, mode: 0o1777 }],
  ...extra,
});

/** One raw request through a client's socket: status and parsed body. */
function call(client: string, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: { message?: string }; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: sock(client), method, path: urlPath, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: { message?: string } = {};
        try {
          parsed = JSON.parse(text || '{}') as { message?: string };
        } catch {
          // not JSON (e.g. /_ping's OK)
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * What a denial must leave as it was: every container and volume on the host, but those other tests running
 * meanwhile make (labelled with their own instance); anything a denial let through would carry none, or ours.
 */
async function podmanState(): Promise<string> {
  const mine = (labels: Record<string, string> | null | undefined) => !labels?.['visp.instance'] || labels['visp.instance'] === instance;
  const containers = (await raw.docker.listContainers({ all: true })).filter((c) => mine(c.Labels));
  const volumes = ((await raw.docker.listVolumes()).Volumes ?? []).filter((v) => mine(v.Labels));
  return JSON.stringify({ containers: containers.map((c) => `${c.Id}:${c.State}`).sort(), volumes: volumes.map((v) => v.Name).sort() });
}

let unmanaged: string;
beforeAll(async () => {
  await proxy.start();
  // Someone else's container on the same host, which no client may touch.
  unmanaged = (await raw.docker.createContainer({ name: `unmanaged-${instance}`, Image: 'localhost/visp-testbox:1', Cmd: ['sleep', '600'] })).id;
  await raw.startContainer(unmanaged);
});
afterAll(async () => {
  await proxy.close();
  await raw.removeContainer(unmanaged, { force: true });
  for (const c of await raw.listManaged(instance)) await raw.removeContainer(c.id, { force: true });
});

it("serves the session-manager's whole container life: create, start, inspect, logs, exec, list, stop, remove", async () => {
  const { labels: _labels, ...unlabelled } = spec(`visp-proxy-ok-${instance}`);
  const id = await viaProxy.createContainer({ ...unlabelled, labels: { 'visp.session.id': 'proxytestaaa' } });
  expect((await raw.inspectContainer(id)).labels).toMatchObject({ 'visp.managed': 'true', 'visp.instance': instance });
  await viaProxy.startContainer(id);
  expect((await viaProxy.inspectContainer(id)).running).toBe(true);
  expect(await viaProxy.logs(id, { tail: 5 })).toEqual({ stdout: '', stderr: '' });
  expect(await viaProxy.exec(id, ['echo', 'inside'], { timeoutMs: 10_000 })).toMatchObject({ exitCode: 0, stdout: 'inside\n' });
  const listed = await viaProxy.docker.listContainers({ all: true });
  expect(listed.map((c) => c.Id)).toEqual([id]); // not the unmanaged one, nor other tests'
  await viaProxy.stopContainer(id, 1);
  await viaProxy.removeContainer(id, { force: true });
  expect(await raw.listManaged(instance)).toEqual([]);
  expect(lines.filter((l) => l.audit && l.decision === 'allow').length).toBeGreaterThanOrEqual(8);
}, 60_000);

it('streams followed logs and events through the proxy as they happen', async () => {
  const abort = new AbortController();
  const events: string[] = [];
  const watching = (async () => {
    for await (const event of viaProxy.events({ labels: { 'visp.instance': instance }, signal: abort.signal })) events.push(`${event.action} ${event.id}`);
  })();
  const id = await viaProxy.createContainer(spec(`visp-proxy-stream-${instance}`, { cmd: ['sh', '-c', 'sleep 1; echo one; sleep 1; echo two; sleep 60'] }));
  await viaProxy.startContainer(id);
  let output = '';
  const logs = viaProxy.followLogs(id, { signal: abort.signal });
  logs.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('both lines, one after the other', () => output.includes('two'), 20_000);
  expect(output).toBe('one\ntwo\n');
  await waitFor('the start event', () => events.includes(`start ${id}`), 10_000);
  abort.abort();
  await watching;
  await viaProxy.removeContainer(id, { force: true });
}, 60_000);

describe('refuses, leaving Podman as it was', () => {
  const base = toCreateOptions(spec(`visp-proxy-denied-${instance}`));
  const withHost = (hostConfig: object) => ({ ...base, HostConfig: { ...base.HostConfig, ...hostConfig } });
  const cases: Array<[string, string, string, string, unknown]> = [
    ['a privileged create', 'session-manager', 'POST', '/containers/create', withHost({ Privileged: true })],
    ['host network', 'session-manager', 'POST', '/v1.41/containers/create', withHost({ NetworkMode: 'host' })],
    ['a / bind mount', 'session-manager', 'POST', '/containers/create', withHost({ Binds: ['/:/host'] })],
    ['an unlisted image', 'session-manager', 'POST', '/containers/create', { ...base, Image: 'docker.io/library/busybox' }],
    ['CapAdd SYS_ADMIN', 'session-manager', 'POST', '/containers/create', withHost({ CapAdd: ['SYS_ADMIN'] })],
    ['a libpod privileged create', 'session-manager', 'POST', '/v4.3.1/libpod/containers/create', { image: 'localhost/visp-testbox:1', privileged: true }],
    ['a libpod host-network create', 'session-manager', 'POST', '/libpod/containers/create', { image: 'localhost/visp-testbox:1', netns: { nsmode: 'host' } }],
    ['image pull', 'session-manager', 'POST', '/images/create?fromImage=busybox', undefined],
    ['libpod image pull', 'session-manager', 'POST', '/v4.3.1/libpod/images/pull?reference=busybox', undefined],
    ['volume prune', 'session-manager', 'POST', '/volumes/prune', undefined],
    ['libpod volume prune', 'session-manager', 'POST', '/libpod/volumes/prune', undefined],
    ['system reset', 'session-manager', 'POST', '/libpod/system/reset', undefined],
    ['system prune', 'session-manager', 'POST', '/v1.41/system/prune', undefined],
    ['a create by recovery', 'recovery', 'POST', '/containers/create', base],
    ['a start by the read-only client', 'readonly', 'POST', '/containers/abc/start', undefined],
  ];
  /** The path as given, under libpod's versioned prefix, and with a letter percent-encoded: all one operation. */
  const spellings = (urlPath: string) => {
    const bare = urlPath.replace(/^\/v[\d.]+/, '').replace(/^\/libpod/, '');
    return [urlPath, `/v4.3.1/libpod${bare}`, bare.replace(/^\/(\w)/, (_m, c: string) => `/%${c.charCodeAt(0).toString(16)}`)];
  };
  it.each(cases)('%s, however spelled', async (_what, client, method, urlPath, body) => {
    const before = await podmanState();
    for (const spelled of spellings(urlPath)) {
      const res = await call(client, method, spelled, body);
      expect([spelled, res.status]).toEqual([spelled, 403]);
      expect(res.body.message).toMatch(/^socket-proxy: /);
    }
    expect(await podmanState()).toBe(before);
  });

  it('every call on a container that is not ours, however the path is spelled', async () => {
    const before = await podmanState();
    const encoded = encodeURIComponent(unmanaged).replace(/^(.)/, (c) => `%${c.charCodeAt(0).toString(16)}`);
    for (const [method, urlPath, body] of [
      ['POST', `/containers/${unmanaged}/exec`, { Cmd: ['id'] }],
      ['DELETE', `/containers/${unmanaged}?force=true`, undefined],
      ['DELETE', `/v1.41/containers/${unmanaged}?force=true`, undefined],
      ['DELETE', `/v4.3.1/libpod/containers/${unmanaged}?force=true`, undefined],
      ['DELETE', `/containers/${encoded}?force=true`, undefined],
      ['POST', `/containers/${unmanaged}/stop`, undefined],
      ['GET', `/containers/${unmanaged}/json`, undefined],
      ['DELETE', `/containers/x/../${unmanaged}`, undefined],
      ['DELETE', `/containers/x%2F..%2F${unmanaged}`, undefined],
    ] as const) {
      const res = await call('session-manager', method, urlPath, body);
      expect([method, urlPath, res.status]).toEqual([method, urlPath, 403]);
    }
    expect(await podmanState()).toBe(before);
    expect((await raw.inspectContainer(unmanaged)).running).toBe(true);
  });

  it('malformed bodies with a 400, not a crash', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = http.request({ socketPath: sock('session-manager'), method: 'POST', path: '/containers/create', headers: { 'content-type': 'application/json' } }, (r) => (r.resume(), resolve(r.statusCode ?? 0)));
      req.on('error', reject);
      req.end('{not json');
    });
    expect(res).toBe(400);
    expect(await call('session-manager', 'GET', '/_ping')).toMatchObject({ status: 200, text: 'OK' });
  });
});
