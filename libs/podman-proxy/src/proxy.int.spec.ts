// The socket proxy in front of the test's real Podman: what the session-manager does passes; everything on the
// denial list is refused with a reason, and Podman's state is unchanged afterwards.
import http from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LABEL } from '@visp/contracts';
import { discoverPodman, encodeSessionLabels, homeVolumeName, PodmanClient, projectRepository, SESSION_GUARD_PATH, toCreateOptions, type ContainerSpec } from '@visp/podman-client';
import { memoryLogger, testInstanceId, testPodmanHost, testSessionGuard, waitFor } from '@visp/testing';
import { mutate, random } from './mutations';
import { clientSocketPath, defaultPolicies } from './policy';
import { SocketProxy } from './proxy';

const instance = testInstanceId();
const dir = mkdtempSync(path.join(tmpdir(), 'visp-socket-proxy-'));
const raw = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
const rawSocket = (discoverPodman({ CONTAINER_HOST: testPodmanHost() }) as { socketPath: string }).socketPath;
const { logger, lines } = memoryLogger();
// The session-manager's policy as npm start gives it: local mode's session guard allowed. The one container the
// clients may join to sessions' networks: the unmanaged one below, standing in for the gateway.
const guardBinary = testSessionGuard();
const joiner = `unmanaged-${instance}`;
// Projects' repositories (PROJECT_REPOSITORIES_DIR): p1 and p2 exist, any other project has none.
const repositories = mkdtempSync(path.join(tmpdir(), 'visp-repositories-'));
const policies = defaultPolicies([/^localhost\/visp-/], { joiners: [joiner], sessionGuard: guardBinary, projectRepositories: repositories });
const sock = (client: string) => clientSocketPath(dir, client);
const proxy = new SocketProxy({ podmanSocket: rawSocket, instance, logger }, Object.entries(policies).map(([name, policy]) => ({ name, policy, socketPath: sock(name) })));
const viaProxy = new PodmanClient({ socketPath: sock('session-manager') });

// The testbox under a tag of this run's own: every container this file asks for is made from it, so a container a
// denial let through is told from those other suites make meanwhile, whatever labels the denied body carried.
const image = `localhost/visp-proxytest:${instance}`;
const spec = (name: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name,
  image,
  labels: encodeSessionLabels({ instance, id: 'proxytestaaa', type: 'box', owner: 'ann', created: new Date().toISOString() }),
  user: '1000:1000',
  cmd: ['sleep', '600'],
  limits: { memoryBytes: 64 * 2 ** 20, nanoCpus: 5e8, pids: 64 },
  tmpfs: [{ target: '/tmp', sizeBytes: 2 ** 24, mode: 0o1777 }],
  ...extra,
});

/** One raw request through a client's socket (or to Podman itself): status and parsed body. */
function call(client: string, method: string, urlPath: string, body?: unknown, socketPath = sock(client)): Promise<{ status: number; body: { message?: string; Id?: string }; text: string }> {
  return new Promise((resolve, reject) => {
    // A string is sent as it is, for bodies JSON.stringify cannot write (duplicate keys).
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ socketPath, method, path: urlPath, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: { message?: string; Id?: string } = {};
        try {
          parsed = JSON.parse(text || '{}') as { message?: string; Id?: string };
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
 * What a denial must leave as it was: this run's containers (of its own image or label), volumes and networks (of
 * its label, or named by a denied body), the target's exec sessions and the repositories. Other suites running
 * meanwhile make and remove their own; counting those would make this fail on their timing.
 */
const namedByDenials = new Set(['visp-mongo', 'visp-caddy-data', homeVolumeName(`eve-${instance}`), 'visp-session-net-aaaaaaaaaaaa']);
async function podmanState(): Promise<string> {
  const ours = (labels: Record<string, string> | null | undefined, name: string) => labels?.[LABEL.instance] === instance || namedByDenials.has(name);
  const containers = (await raw.docker.listContainers({ all: true })).filter((c) => c.Image === image || c.Labels[LABEL.instance] === instance);
  const volumes = ((await raw.docker.listVolumes()).Volumes ?? []).filter((v) => ours(v.Labels, v.Name));
  const networks = (await raw.docker.listNetworks()).filter((n) => ours(n.Labels, n.Name));
  // Exec sessions of the managed container the exec denials aim at.
  const execs = target ? (((await raw.docker.getContainer(target).inspect()) as { ExecIDs?: string[] | null }).ExecIDs ?? []) : [];
  // Podman's compatible create makes a missing bind source: a denial must not have made one among the repositories.
  const projects = readdirSync(repositories).sort();
  return JSON.stringify({ containers: containers.map((c) => `${c.Id}:${c.State}`).sort(), volumes: volumes.map((v) => v.Name).sort(), networks: networks.map((n) => n.Name).sort(), execs, projects });
}

let unmanaged: string;
/** A running managed container of this instance (made directly), which exec denials aim at. */
let target: string | undefined;
beforeAll(async () => {
  for (const project of ['p1', 'p2']) {
    mkdirSync(path.join(repositories, project));
    // The operator's part: writable by the session's user as the host sees it (world-writable stands in for it).
    chmodSync(path.join(repositories, project), 0o777);
    writeFileSync(path.join(repositories, project, 'README.md'), `project ${project}\n`);
  }
  await raw.docker.getImage('localhost/visp-testbox:1').tag({ repo: 'localhost/visp-proxytest', tag: instance });
  await proxy.start();
  // Someone else's container on the same host, which no client may touch.
  unmanaged = (await raw.docker.createContainer({ name: joiner, Image: image, Cmd: ['sleep', '600'] })).id;
  await raw.startContainer(unmanaged);
  target = await raw.createContainer(spec(`visp-proxy-target-${instance}`));
  await raw.startContainer(target);
});
afterAll(async () => {
  await proxy.close();
  await raw.removeContainer(unmanaged, { force: true });
  for (const c of await raw.listManaged(instance)) await raw.removeContainer(c.id, { force: true });
  await raw.removeVolume(homeVolumeName(`ann-${instance}`));
  rmSync(repositories, { recursive: true, force: true });
  await raw.docker.getImage(image).remove(); // the tag only: the testbox keeps its own
});

it("serves the session-manager's whole container life: home volume, create, start, inspect, logs, exec, list, stop, remove", async () => {
  const owner = `ann-${instance}`;
  await viaProxy.ensureVolume(homeVolumeName(owner), { instance, owner: { uid: 1000, gid: 1000 } });
  const { labels: _labels, ...unlabelled } = spec(`visp-proxy-ok-${instance}`, { volumes: [{ name: homeVolumeName(owner), target: '/home/visp' }] });
  const id = await viaProxy.createContainer({ ...unlabelled, labels: { [LABEL.sessionId]: 'proxytestaaa', [LABEL.owner]: owner } });
  expect((await raw.inspectContainer(id)).labels).toMatchObject({ [LABEL.managed]: 'true', [LABEL.instance]: instance });
  await viaProxy.startContainer(id);
  expect((await viaProxy.inspectContainer(id)).running).toBe(true);
  expect(await viaProxy.logs(id, { tail: 5 })).toEqual({ stdout: '', stderr: '' });
  expect(await viaProxy.exec(id, ['echo', 'inside'], { timeoutMs: 10_000 })).toMatchObject({ exitCode: 0, stdout: 'inside\n' });
  const listed = await viaProxy.docker.listContainers({ all: true });
  expect(listed.map((c) => c.Id).sort()).toEqual([id, target].sort()); // not the unmanaged one, nor other tests'
  expect(await viaProxy.exec(id, ['sh', '-c', 'echo kept > /home/visp/note; id -u'], { timeoutMs: 10_000 })).toMatchObject({ exitCode: 0, stdout: '1000\n' });
  await viaProxy.stopContainer(id, 1);
  await viaProxy.removeContainer(id, { force: true });
  expect((await raw.listManaged(instance)).map((c) => c.id)).toEqual([target]);
  expect(lines.filter((l) => l.audit && l.decision === 'allow').length).toBeGreaterThanOrEqual(8);
}, 60_000);

it("lets the session-manager mount the session guard's binary read-only at its path and run it, and nothing writes it", async () => {
  const id = await viaProxy.createContainer(
    spec(`visp-proxy-guard-${instance}`, {
      entrypoint: [SESSION_GUARD_PATH],
      cmd: ['-listen', '0.0.0.0:8007', '-app', '127.0.0.1:8080', '--', 'sleep', '600'],
      env: { VISP_SESSION_TOKEN: 'a-session-token-0123456789' },
      readOnlyBinds: [{ source: guardBinary, target: SESSION_GUARD_PATH }],
    }),
  );
  await viaProxy.startContainer(id);
  const inside = await viaProxy.exec(id, ['sh', '-c', `ps -o args | grep -c '^${SESSION_GUARD_PATH}'; echo x > ${SESSION_GUARD_PATH} && echo written`], { timeoutMs: 10_000 });
  expect(inside.stdout).toBe('1\n'); // the guard runs as the entrypoint; the write failed (read-only)
  const mounts = ((await raw.docker.getContainer(id).inspect()) as { Mounts: Array<{ Source: string; Destination: string; RW: boolean }> }).Mounts;
  expect(mounts.filter((m) => m.Destination === SESSION_GUARD_PATH)).toEqual([expect.objectContaining({ Source: guardBinary, RW: false })]);
  await viaProxy.removeContainer(id, { force: true });
}, 60_000);

it("mounts a session's own project repository read-write at <home>/project, through libpod, and never makes a missing one", async () => {
  const owner = `ann-${instance}`;
  await viaProxy.ensureVolume(homeVolumeName(owner), { instance, owner: { uid: 1000, gid: 1000 } });
  const ofProject = (project: string, name: string) =>
    spec(name, {
      labels: encodeSessionLabels({ instance, id: 'proxytestaaa', type: 'box', owner, project, created: new Date().toISOString() }),
      volumes: [{ name: homeVolumeName(owner), target: '/home/visp' }],
      writableBinds: [projectRepository(repositories, project, '/home/visp')],
    });
  const id = await viaProxy.createContainer(ofProject('p1', `visp-proxy-project-${instance}`));
  try {
    await viaProxy.startContainer(id);
    expect(await viaProxy.exec(id, ['cat', '/home/visp/project/README.md'], { timeoutMs: 10_000 })).toMatchObject({ exitCode: 0, stdout: 'project p1\n' });
    expect((await viaProxy.exec(id, ['sh', '-c', 'echo written > /home/visp/project/from-session; id -u'], { timeoutMs: 10_000 })).stdout).toBe('1000\n');
    expect(readFileSync(path.join(repositories, 'p1', 'from-session'), 'utf8')).toBe('written\n');
    const mounts = ((await raw.docker.getContainer(id).inspect()) as { Mounts: Array<{ Type: string; Source: string; Destination: string; RW: boolean }> }).Mounts;
    expect(mounts.filter((m) => m.Type === 'bind')).toEqual([expect.objectContaining({ Source: path.join(repositories, 'p1'), Destination: '/home/visp/project', RW: true })]);
  } finally {
    await viaProxy.removeContainer(id, { force: true });
  }
  // A project without a repository: the proxy passes the create on, and libpod refuses it without making one.
  const before = await podmanState();
  await expect(viaProxy.createContainer(ofProject('p9', `visp-proxy-project9-${instance}`))).rejects.toThrow(/no such file or directory/);
  expect(existsSync(path.join(repositories, 'p9'))).toBe(false);
  expect(await podmanState()).toBe(before);
}, 60_000);

it("the raw socket shows why a project's repository goes through libpod: Podman's compatible create makes a missing bind source", async () => {
  const made = path.join(repositories, 'made-by-podman');
  const body = { ...toCreateOptions(spec(`visp-proxy-rawmkdir-${instance}`)) };
  body.HostConfig = { ...body.HostConfig, Mounts: [...(body.HostConfig?.Mounts ?? []), { Type: 'bind', Source: made, Target: '/home/visp/project' }] };
  const created = await call('', 'POST', `/containers/create?name=visp-proxy-rawmkdir-${instance}`, body, rawSocket);
  try {
    expect([created.status, existsSync(made)]).toEqual([201, true]);
  } finally {
    if (created.body.Id) await raw.removeContainer(String(created.body.Id), { force: true });
    rmSync(made, { recursive: true, force: true });
  }
});

it("the raw socket shows a compatible mount's comma is Podman's: target=/data,source=<another volume> mounts that volume", async () => {
  const other = `visp-proxytest-other-${instance}`;
  await raw.ensureVolume(other, { instance });
  const body = { ...toCreateOptions(spec(`visp-proxy-rawcomma-${instance}`)) };
  body.HostConfig = { ...body.HostConfig, Mounts: [...(body.HostConfig?.Mounts ?? []), { Type: 'volume', Source: homeVolumeName(`ann-${instance}`), Target: `/data,source=${other}` }] };
  const created = await call('', 'POST', `/containers/create?name=visp-proxy-rawcomma-${instance}`, body, rawSocket);
  try {
    expect(created.status).toBe(201);
    const mounts = ((await raw.docker.getContainer(String(created.body.Id)).inspect()) as { Mounts: Array<{ Name?: string; Destination: string }> }).Mounts;
    expect(mounts).toContainEqual(expect.objectContaining({ Name: other, Destination: '/data' }));
  } finally {
    if (created.body.Id) await raw.removeContainer(String(created.body.Id), { force: true });
    await raw.removeVolume(other);
  }
});

it('streams followed logs and events through the proxy as they happen', async () => {
  const abort = new AbortController();
  const events: string[] = [];
  const watching = (async () => {
    for await (const event of viaProxy.events({ labels: { [LABEL.instance]: instance }, signal: abort.signal })) events.push(`${event.action} ${event.id}`);
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
  const { HostConfig: hostConfig, User: _user, ...noHostConfig } = base;
  const libpodBase = { image, user: '1000:1000', cap_drop: ['ALL'], no_new_privileges: true, command: ['sleep', '600'], labels: base.Labels };
  const guardMount = (extra: object) => ({ ...withHost({ Mounts: [...(hostConfig?.Mounts ?? []), { Type: 'bind', Source: guardBinary, Target: SESSION_GUARD_PATH, ReadOnly: true, ...extra }] }), Entrypoint: [SESSION_GUARD_PATH] });
  const volumeMount = (Source: string, extra: object = {}) => withHost({ Mounts: [...(hostConfig?.Mounts ?? []), { Type: 'volume', Source, Target: '/data', ...extra }] });
  // A session of project p1, as the session-manager sends it through libpod, with the repository's bind changed.
  const ownRepository = projectRepository(repositories, 'p1', '/home/visp');
  const ofP1 = { ...base.Labels, [LABEL.project]: 'p1' };
  const projectBind = (source: string, mount: object = {}, extra: object = {}) => ({
    ...libpodBase,
    labels: ofP1,
    volumes: [{ Name: homeVolumeName('ann'), Dest: '/home/visp' }],
    mounts: [{ type: 'bind', source, destination: ownRepository.target, options: ['rw'], ...mount }],
    ...extra,
  });
  const compatProject = (host: object) => ({ ...withHost(host), Labels: ofP1 });
  const cases: Array<[string, string, string, string, unknown]> = [
    // Podman reads keys case-insensitively: each of these is a privileged container to it.
    ['a privileged create under a lower-case hostconfig', 'session-manager', 'POST', '/containers/create', { ...noHostConfig, User: '1000:1000', hostconfig: { ...hostConfig, Privileged: true } }],
    ['a lower-case hostconfig beside the real HostConfig', 'session-manager', 'POST', '/containers/create', { ...base, hostconfig: { Privileged: true } }],
    ['HostConfig spelt with a long s', 'session-manager', 'POST', '/containers/create', { ...noHostConfig, User: '1000:1000', HoſtConfig: { ...hostConfig, Privileged: true } }],
    ['privileged spelt in lower case', 'session-manager', 'POST', '/containers/create', withHost({ privileged: true })],
    ['host network spelt networkmode', 'session-manager', 'POST', '/containers/create', withHost({ NetworkMode: undefined, networkmode: 'host' })],
    ['a root user spelt user', 'session-manager', 'POST', '/containers/create', { ...noHostConfig, HostConfig: hostConfig, user: '0' }],
    ['a libpod create with Privileged capitalised', 'session-manager', 'POST', '/libpod/containers/create', { ...libpodBase, Privileged: true }],
    // Volumes: only the owner's home.
    ['visp-mongo mounted', 'session-manager', 'POST', '/containers/create', volumeMount('visp-mongo')],
    ['visp-caddy-data in Binds', 'session-manager', 'POST', '/containers/create', withHost({ Binds: ['visp-caddy-data:/data'] })],
    ["another user's home", 'session-manager', 'POST', '/containers/create', volumeMount(homeVolumeName(`bob-${instance}`))],
    ['a volume whose driver options bind the host root', 'session-manager', 'POST', '/containers/create', volumeMount(homeVolumeName('ann'), { VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } } })],
    ['an anonymous volume', 'session-manager', 'POST', '/containers/create', { ...base, Volumes: { '/data': {} } }],
    ['a libpod named volume visp-mongo', 'session-manager', 'POST', '/libpod/containers/create', { ...libpodBase, volumes: [{ Name: 'visp-mongo', Dest: '/data' }] }],
    ['a libpod overlay volume of /', 'session-manager', 'POST', '/libpod/containers/create', { ...libpodBase, overlay_volumes: [{ source: '/', destination: '/host' }] }],
    ['a libpod image volume', 'session-manager', 'POST', '/libpod/containers/create', { ...libpodBase, image_volumes: [{ Source: 'localhost/visp-testbox:1', Destination: '/img', ReadWrite: true }] }],
    ['libpod devices', 'session-manager', 'POST', '/libpod/containers/create', { ...libpodBase, devices: [{ path: '/dev/fuse' }] }],
    ['a volume named visp-mongo', 'session-manager', 'POST', '/volumes/create', { Name: 'visp-mongo' }],
    ['a volume that binds the host root', 'session-manager', 'POST', '/volumes/create', { Name: homeVolumeName(`eve-${instance}`), DriverOpts: { type: 'none', o: 'bind', device: '/' } }],
    ['inspecting visp-mongo', 'session-manager', 'GET', '/volumes/visp-mongo', undefined],
    // Users and capabilities.
    ['a root user', 'session-manager', 'POST', '/containers/create', { ...base, User: '0' }],
    ['root by name', 'session-manager', 'POST', '/containers/create', { ...base, User: 'root' }],
    ['no user (the image may say root)', 'session-manager', 'POST', '/containers/create', { ...noHostConfig, HostConfig: hostConfig }],
    ['capabilities kept', 'session-manager', 'POST', '/containers/create', withHost({ CapDrop: [] })],
    ['a libpod create as root', 'session-manager', 'POST', '/libpod/containers/create', { ...libpodBase, user: 'root' }],
    ['a privileged create', 'session-manager', 'POST', '/containers/create', withHost({ Privileged: true })],
    ['host network', 'session-manager', 'POST', '/v1.41/containers/create', withHost({ NetworkMode: 'host' })],
    ['a / bind mount', 'session-manager', 'POST', '/containers/create', withHost({ Binds: ['/:/host'] })],
    // The session guard: its one file, read-only, at its one path, as the entrypoint; nothing else.
    ['the session guard writable', 'session-manager', 'POST', '/containers/create', guardMount({ ReadOnly: false })],
    ['the session guard over a file the app runs', 'session-manager', 'POST', '/containers/create', guardMount({ Target: '/bin/sh' })],
    ["the session guard's directory", 'session-manager', 'POST', '/containers/create', guardMount({ Source: path.dirname(guardBinary), Target: '/opt/visp-guard' })],
    ['a file beside the session guard', 'session-manager', 'POST', '/containers/create', guardMount({ Source: path.join(path.dirname(guardBinary), 'ferretdb') })],
    ['the session guard in Binds', 'session-manager', 'POST', '/containers/create', withHost({ Binds: [`${guardBinary}:${SESSION_GUARD_PATH}:ro`] })],
    ['an entrypoint of its own', 'session-manager', 'POST', '/containers/create', { ...base, Entrypoint: ['/bin/sh', '-c'] }],
    ['a libpod session guard without ro', 'session-manager', 'POST', '/libpod/containers/create', { ...libpodBase, mounts: [{ type: 'bind', source: guardBinary, destination: SESSION_GUARD_PATH, options: ['rw'] }] }],
    ['the session guard by recovery', 'recovery', 'POST', '/containers/create', guardMount({})],
    // Projects' repositories: <root>/<the label's project> only, at <home>/project, through libpod, no chown or relabel.
    ['a project bind of /etc', 'session-manager', 'POST', '/libpod/containers/create', projectBind('/etc')],
    ['a project bind of <root>/../etc', 'session-manager', 'POST', '/libpod/containers/create', projectBind(`${repositories}/../etc`)],
    ['a project bind of <root>/p1/../../etc', 'session-manager', 'POST', '/libpod/containers/create', projectBind(`${repositories}/p1/../../etc`)],
    ['a project bind of <root>/', 'session-manager', 'POST', '/libpod/containers/create', projectBind(`${repositories}/`)],
    ['a project bind of <root> itself', 'session-manager', 'POST', '/libpod/containers/create', projectBind(repositories)],
    ['a project bind of <root>//p1', 'session-manager', 'POST', '/libpod/containers/create', projectBind(`${repositories}//p1`)],
    ['a project bind of <root>/p1/sub', 'session-manager', 'POST', '/libpod/containers/create', projectBind(`${repositories}/p1/sub`)],
    ['a project bind of <root>/%2e%2e/etc', 'session-manager', 'POST', '/libpod/containers/create', projectBind(`${repositories}/%2e%2e/etc`)],
    ['a project bind of <root>/%70%31 (p1 percent-encoded)', 'session-manager', 'POST', '/libpod/containers/create', projectBind(`${repositories}/%70%31`)],
    ["project p2's repository under p1's label", 'session-manager', 'POST', '/libpod/containers/create', projectBind(`${repositories}/p2`)],
    ["a project's repository under a label that names no project", 'session-manager', 'POST', '/libpod/containers/create', { ...projectBind(ownRepository.source), labels: base.Labels }],
    ["a project's repository under the label ..", 'session-manager', 'POST', '/libpod/containers/create', { ...projectBind(`${repositories}/..`), labels: { ...base.Labels, [LABEL.project]: '..' } }],
    ["a project's repository over a path the app runs", 'session-manager', 'POST', '/libpod/containers/create', projectBind(ownRepository.source, { destination: '/usr/local/bin' })],
    ["a project's repository without the owner's home", 'session-manager', 'POST', '/libpod/containers/create', projectBind(ownRepository.source, {}, { volumes: [] })],
    ["a project's repository chowned (U)", 'session-manager', 'POST', '/libpod/containers/create', projectBind(ownRepository.source, { options: ['rw', 'U'] })],
    ["a project's repository relabelled (z)", 'session-manager', 'POST', '/libpod/containers/create', projectBind(ownRepository.source, { options: ['rw', 'z'] })],
    ["a project's repository shared (rshared)", 'session-manager', 'POST', '/libpod/containers/create', projectBind(ownRepository.source, { options: ['rw', 'rshared'] })],
    ["a project's repository id-mapped", 'session-manager', 'POST', '/libpod/containers/create', projectBind(ownRepository.source, { options: ['rw', 'idmap'] })],
    ["a project's repository in compatible Mounts (Podman would make a missing one)", 'session-manager', 'POST', '/containers/create', compatProject({ Mounts: [...(hostConfig?.Mounts ?? []), { Type: 'bind', Source: ownRepository.source, Target: ownRepository.target }] })],
    ['a missing project repository in compatible Mounts', 'session-manager', 'POST', '/containers/create', compatProject({ Mounts: [...(hostConfig?.Mounts ?? []), { Type: 'bind', Source: `${repositories}/p7`, Target: ownRepository.target }] })],
    ["a project's repository in Binds", 'session-manager', 'POST', '/containers/create', compatProject({ Binds: [`${ownRepository.source}:${ownRepository.target}`] })],
    ["a project's repository in Binds, chowned", 'session-manager', 'POST', '/containers/create', compatProject({ Binds: [`${ownRepository.source}:${ownRepository.target}:U`] })],
    ["a project's repository by recovery", 'recovery', 'POST', '/libpod/containers/create', projectBind(ownRepository.source)],
    // Podman joins a compatible mount into a --mount string: a comma in its target would name another volume.
    ['a volume whose target smuggles source=visp-mongo', 'session-manager', 'POST', '/containers/create', volumeMount(homeVolumeName('ann'), { Target: '/data,source=visp-mongo' })],
    ['an unlisted image', 'session-manager', 'POST', '/containers/create', { ...base, Image: 'docker.io/library/busybox' }],
    ['CapAdd SYS_ADMIN', 'session-manager', 'POST', '/containers/create', withHost({ CapAdd: ['SYS_ADMIN'] })],
    ['a libpod privileged create', 'session-manager', 'POST', '/v4.3.1/libpod/containers/create', { image, privileged: true }],
    ['a libpod host-network create', 'session-manager', 'POST', '/libpod/containers/create', { image, netns: { nsmode: 'host' } }],
    ['image pull', 'session-manager', 'POST', '/images/create?fromImage=busybox', undefined],
    ['libpod image pull', 'session-manager', 'POST', '/v4.3.1/libpod/images/pull?reference=busybox', undefined],
    ['volume prune', 'session-manager', 'POST', '/volumes/prune', undefined],
    ['libpod volume prune', 'session-manager', 'POST', '/libpod/volumes/prune', undefined],
    ['system reset', 'session-manager', 'POST', '/libpod/system/reset', undefined],
    ['system prune', 'session-manager', 'POST', '/v1.41/system/prune', undefined],
    // Networks: only a session's own, and only this instance's (see below).
    ['removing the services network', 'session-manager', 'DELETE', '/networks/visp-net', undefined],
    ['removing the podman network by recovery', 'recovery', 'DELETE', '/networks/podman', undefined],
    ['creating a network by recovery', 'recovery', 'POST', '/networks/create', { Name: 'visp-session-net-aaaaaaaaaaaa' }],
    ['a session network without isolation', 'session-manager', 'POST', '/networks/create', { Name: 'visp-session-net-aaaaaaaaaaaa', Options: {} }],
    ['a session network with no options at all', 'session-manager', 'POST', '/networks/create', { Name: 'visp-session-net-aaaaaaaaaaaa' }],
    ['a session network with DNS (the joiners would resolve each other to where they do not listen)', 'session-manager', 'POST', '/libpod/networks/create', { name: 'visp-session-net-aaaaaaaaaaaa', internal: true, options: { isolate: 'true' } }],
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

  it("removes a session's own network of this instance, never another instance's", async () => {
    const foreign = 'visp-session-net-foreignaaaaa';
    await raw.ensureNetwork(foreign, { instance: 'someone-else', internal: true });
    const ours = 'visp-session-net-ownedaaaaaaa';
    await viaProxy.ensureSessionNetwork(ours, { instance });
    try {
      const before = await podmanState();
      for (const client of ['session-manager', 'recovery']) expect([client, (await call(client, 'DELETE', `/networks/${foreign}`, undefined)).status]).toEqual([client, 403]);
      expect(await podmanState()).toBe(before);
      await viaProxy.removeNetwork(ours);
      expect((await raw.docker.listNetworks()).map((n) => n.Name)).not.toContain(ours);
    } finally {
      await raw.removeNetwork(foreign);
      await raw.removeNetwork(ours);
    }
  });

  it("joins only a joiner, only to a session's own network of this instance, with nothing of the endpoint chosen", async () => {
    const ours = 'visp-session-net-joinedaaaaaa';
    const foreign = 'visp-session-net-foreignbbbbb';
    const plain = `visp-proxytest-plain-${instance}`;
    await viaProxy.ensureSessionNetwork(ours, { instance });
    await raw.ensureNetwork(foreign, { instance: 'someone-else', internal: true });
    await raw.ensureNetwork(plain, { instance, internal: true });
    const members = async () => JSON.stringify(await Promise.all([ours, foreign, plain].map((n) => raw.networkMembers(n))));
    try {
      const before = await members();
      const denied: Array<[string, string, string, unknown]> = [
        ['a session container', 'session-manager', `/networks/${ours}/connect`, { Container: `visp-proxy-target-${instance}` }],
        ['the joiner to another instance’s session network', 'session-manager', `/networks/${foreign}/connect`, { Container: joiner }],
        ['the joiner to a network that is not a session’s', 'session-manager', `/networks/${plain}/connect`, { Container: joiner }],
        ['the joiner with an alias that shadows a service', 'session-manager', `/networks/${ours}/connect`, { Container: joiner, EndpointConfig: { Aliases: ['visp-redis'] } }],
        ['the joiner with an address of its choosing', 'session-manager', `/networks/${ours}/connect`, { Container: joiner, EndpointConfig: { IPAMConfig: { IPv4Address: '10.89.254.2' } } }],
        ['the joiner spelt container', 'session-manager', `/networks/${ours}/connect`, { container: joiner }],
        ['through libpod', 'session-manager', `/v4.3.1/libpod/networks/${ours}/connect`, { container: joiner }],
        ['by the read-only client', 'readonly', `/networks/${ours}/connect`, { Container: joiner }],
      ];
      for (const [what, client, urlPath, body] of denied) expect([what, (await call(client, 'POST', urlPath, body)).status]).toEqual([what, 403]);
      expect(await members()).toBe(before);

      for (const client of ['session-manager', 'recovery']) {
        const through = new PodmanClient({ socketPath: sock(client) });
        await through.connectNetwork(ours, joiner);
        await through.connectNetwork(ours, joiner); // twice is once
        expect([client, await raw.networkMembers(ours)]).toEqual([client, [joiner]]);
        await through.disconnectNetwork(ours, joiner);
        expect([client, await raw.networkMembers(ours)]).toEqual([client, []]);
      }
      // Podman's forced removal would remove the containers on it (the joiner): refused however it is asked for.
      await viaProxy.connectNetwork(ours, joiner);
      for (const [client, urlPath] of [['session-manager', `/networks/${ours}?force=true`], ['recovery', `/v4.3.1/libpod/networks/${ours}?force=1`], ['recovery', `/networks/${ours}?Force=true`]]) {
        expect([urlPath, (await call(client as string, 'DELETE', urlPath as string)).status]).toEqual([urlPath, 403]);
      }
      expect(await raw.networkMembers(ours)).toEqual([joiner]);
      // Removing a network takes the joiners off it first, never removes them.
      await viaProxy.removeNetwork(ours);
      expect((await raw.inspectContainer(unmanaged)).running).toBe(true);
    } finally {
      for (const n of [ours, foreign, plain]) await raw.removeNetwork(n);
    }
  });

  it('the raw socket shows the case-insensitive attack is real: Podman makes a lower-case hostconfig privileged', async () => {
    const created = await call('', 'POST', `/containers/create?name=visp-proxy-rawcase-${instance}`, { ...noHostConfig, hostconfig: { Privileged: true } }, rawSocket);
    expect(created.status).toBe(201);
    try {
      expect((await raw.inspectContainer(String(created.body.Id))).hostConfig.Privileged).toBe(true);
    } finally {
      await raw.removeContainer(String(created.body.Id), { force: true });
    }
  });

  it('bodies Podman would read differently from JSON.parse: duplicate and respelt keys, sent as raw text', async () => {
    const before = await podmanState();
    const valid = JSON.stringify(base);
    for (const text of [
      `${valid.slice(0, -1)},"HostConfig":{"Privileged":true}}`, // Go would merge this into the first HostConfig
      `${valid.slice(0, -1)},"hostConfig":{"Privileged":true}}`,
      `${valid.slice(0, -1)},"Image":"docker.io/library/busybox"}`,
      `${valid.slice(0, -1)},"__proto__":{"Privileged":true}}`,
      `${valid.slice(0, -1)},"HostConfig":{"Privileged":true},"HostConfig":${JSON.stringify(base.HostConfig)}}`,
    ]) {
      const res = await call('session-manager', 'POST', '/containers/create', text);
      // A JSON object's repeated key is kept once, the last (both JSON.parse and Go): passes only if that one is clean.
      if (res.status !== 403) {
        expect(res.status).toBe(201);
        const details = await raw.inspectContainer(String(res.body.Id));
        await raw.removeContainer(String(res.body.Id), { force: true });
        expect([text, details.hostConfig.Privileged, details.image]).toEqual([text, false, image]);
      }
    }
    expect(await podmanState()).toBe(before);
  });

  it("a project's source written with JSON escapes (\\u002e\\u002e), which Podman decodes as JSON.parse does", async () => {
    const before = await podmanState();
    const text = JSON.stringify(projectBind(ownRepository.source)).replace(JSON.stringify(ownRepository.source), `"${ownRepository.source}/\\u002e\\u002e/p2"`);
    // <root>/p1/../p2: project p2's repository, under p1's label.
    expect((JSON.parse(text) as { mounts: Array<{ source: string }> }).mounts[0]?.source).toBe(`${ownRepository.source}/../p2`);
    const res = await call('session-manager', 'POST', '/libpod/containers/create', text);
    expect([res.status, res.body.message]).toEqual([403, expect.stringMatching(/^socket-proxy: /)]);
    expect(await podmanState()).toBe(before);
  });

  it('exec create on our own container: privileged, as root, or with a respelt key', async () => {
    const before = await podmanState();
    for (const body of [{ Cmd: ['id'], Privileged: true }, { Cmd: ['id'], privileged: true }, { Cmd: ['id'], User: 'root' }, { Cmd: ['id'], User: '0' }, { Cmd: ['id'], user: '0' }, { cmd: ['id'] }]) {
      for (const urlPath of [`/containers/${target}/exec`, `/v4.3.1/libpod/containers/${target}/exec`]) {
        const res = await call('session-manager', 'POST', urlPath, body);
        expect([urlPath, body, res.status]).toEqual([urlPath, body, 403]);
      }
    }
    expect(await podmanState()).toBe(before);
  });

  it('refuses 40 seeded mutations of key case and nesting of a valid create body; the valid one is made as sent', async () => {
    const valid = JSON.parse(JSON.stringify(base)) as Parameters<typeof mutate>[0];
    const seed = Date.now() % 100_000;
    const pick = random(seed);
    const before = await podmanState();
    for (let i = 0; i < 40; i++) {
      const mutation = mutate(valid, pick);
      const res = await call('session-manager', 'POST', '/containers/create', mutation.body);
      expect([`seed ${seed} #${i}`, mutation.what, res.status]).toEqual([`seed ${seed} #${i}`, mutation.what, 403]);
    }
    expect(await podmanState()).toBe(before);
    // Named in the query as dockerode does, the same name as the body's (a different one is refused).
    const name = String((valid as { name?: unknown }).name);
    expect((await call('session-manager', 'POST', `/containers/create?name=visp-proxy-fuzz-${instance}`, valid)).status).toBe(403);
    const made = await call('session-manager', 'POST', `/containers/create?name=${encodeURIComponent(name)}`, valid);
    expect(made.status).toBe(201);
    const details = await raw.inspectContainer(String(made.body.Id));
    await raw.removeContainer(String(made.body.Id), { force: true });
    expect(details).toMatchObject({ user: '1000:1000', hostConfig: { Privileged: false } });
  }, 60_000);

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

  it('gives each client a socket in a directory of its own', () => {
    const dirs = Object.keys(policies).map((client) => path.dirname(sock(client)));
    expect(new Set(dirs).size).toBe(dirs.length);
    for (const client of Object.keys(policies)) expect(readdirSync(path.dirname(sock(client)))).toEqual([`${client}.sock`]);
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
