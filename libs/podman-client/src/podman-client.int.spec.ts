import { execFileSync } from 'node:child_process';
import { LABEL } from '@visp/contracts';
import { testInstanceId, testPodmanHost, waitFor } from '@visp/testing';
import { ConflictError, discoverPodman, encodeSessionLabels, NotFoundError, PodmanClient, PodmanUnavailableError, type ContainerSpec } from './index';

const IMAGE = 'localhost/visp-testbox:1';
const client = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
const instance = testInstanceId();
const sid = 'abcdefgh' + Math.random().toString(36).replace(/[^a-z]/g, '').padEnd(4, 'q').slice(0, 4);
const volume = `visp-home-${instance}`;
const labels = encodeSessionLabels({ instance, id: sid, type: 'testbox', owner: 'alice', created: new Date().toISOString() });

function spec(name: string, cmd: string): ContainerSpec {
  return {
    name,
    image: IMAGE,
    labels,
    user: '1000:1000',
    cmd: ['sh', '-c', cmd],
    env: { GREETING: 'hello' },
    limits: { memoryBytes: 64 * 2 ** 20, nanoCpus: 5e8, pids: 64 },
    tmpfs: [{ target: '/tmp', sizeBytes: 16 * 2 ** 20, mode: 0o1777 }],
    volumes: [{ name: volume, target: '/home/visp' }],
    publish: { containerPort: 8080 },
  };
}

describe('PodmanClient against real Podman', () => {
  let id: string;
  const name = `visp-session-testbox-${sid}`;

  beforeAll(async () => {
    await client.ensureVolume(volume, { instance, owner: { uid: 1000, gid: 1000 } });
    id = await client.createContainer(spec(name, 'echo "$GREETING from box"; echo oops >&2; exec httpd -f -p 8080 -h /var/www'));
    await client.startContainer(id);
  });

  afterAll(async () => {
    await client.removeContainer(id, { force: true });
    await client.removeVolume(volume);
  });

  it('creates a labelled, limited, non-root container', async () => {
    const details = await client.inspectContainer(id);
    expect(details).toMatchObject({ name, running: true, user: '1000:1000', labels: expect.objectContaining(labels) });
    expect(details.hostConfig).toMatchObject({ Memory: 64 * 2 ** 20, NanoCpus: 5e8, PidsLimit: 64 });
    expect(details.hostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(details.hostConfig.CapDrop?.length).toBeGreaterThan(0);
    expect(details.env.GREETING).toBe('hello');
  });

  it('is found by its labels, and only under its own instance', async () => {
    expect((await client.listManaged(instance)).map((c) => c.id)).toEqual([id]);
    expect(await client.listManaged(`${instance}-other`)).toEqual([]);
    expect((await client.listContainers({ [LABEL.sessionId]: sid })).map((c) => c.name)).toEqual([name]);
  });

  it('reads its logs, stdout and stderr apart', async () => {
    const logs = await waitFor('both log lines', async () => {
      const l = await client.logs(id);
      return l.stdout.includes('hello from box') && l.stderr.includes('oops') ? l : undefined;
    });
    expect(logs.stdout).not.toContain('oops');
  });

  it('execs inside it: non-root, no capabilities, tmpfs with its mode, exit codes as results', async () => {
    expect((await client.exec(id, ['id', '-u'])).stdout.trim()).toBe('1000');
    expect((await client.exec(id, ['stat', '-c', '%a', '/tmp'])).stdout.trim()).toBe('1777');
    const status = await client.exec(id, ['grep', '-E', '^(CapEff|NoNewPrivs)', '/proc/self/status']);
    expect(status.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(status.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(await client.exec(id, ['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('enforces the memory limit', async () => {
    // dd needs a buffer of one block: 10 MiB fits in 64 MiB, 100 MiB gets the process OOM-killed (137).
    expect((await client.exec(id, ['sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'])).stdout.trim()).toBe(String(64 * 2 ** 20));
    expect((await client.exec(id, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=10M', 'count=1'])).exitCode).toBe(0);
    expect((await client.exec(id, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'])).exitCode).toBe(137);
    expect((await client.inspectContainer(id)).running).toBe(true);
  });

  it('publishes its port on 127.0.0.1 only', async () => {
    const details = await client.inspectContainer(id);
    const port = details.ports['8080/tcp'];
    expect(port).toBeGreaterThan(0);
    const body = await waitFor('httpd', async () => (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => undefined)));
    expect(body).toBe('testbox\n');
  });

  it('keeps files in the home volume across containers', async () => {
    expect(await client.exec(id, ['sh', '-c', 'echo kept > /home/visp/note.txt'])).toMatchObject({ exitCode: 0 });
    const second = await client.createContainer({ ...spec(`${name}-2`, 'cat /home/visp/note.txt'), publish: undefined });
    try {
      await client.startContainer(second);
      const logs = await waitFor('second container output', async () => ((await client.logs(second)).stdout.includes('kept') ? true : undefined));
      expect(logs).toBe(true);
    } finally {
      await client.removeContainer(second, { force: true });
    }
  });

  it('maps a name conflict to ConflictError', async () => {
    await expect(client.createContainer(spec(name, 'true'))).rejects.toBeInstanceOf(ConflictError);
  });

  it('follows logs without hanging on a quiet container, and stops on abort', async () => {
    const quiet = await client.createContainer({ ...spec(`${name}-quiet`, 'sleep 1; echo late-line; sleep 60'), publish: undefined });
    try {
      await client.startContainer(quiet);
      const abort = new AbortController();
      const startedAt = Date.now();
      const stream = client.followLogs(quiet, { signal: abort.signal });
      expect(Date.now() - startedAt).toBeLessThan(100);
      let text = '';
      stream.on('data', (d: Buffer) => (text += d.toString()));
      await waitFor('late line', () => text.includes('late-line'));
      const ended = new Promise((resolve) => stream.once('end', resolve));
      abort.abort();
      await ended;
    } finally {
      await client.removeContainer(quiet, { force: true });
    }
  });

  it('reports container events by label', async () => {
    const abort = new AbortController();
    const seen: string[] = [];
    const listening = (async () => {
      for await (const event of client.events({ labels: { [LABEL.instance]: instance }, signal: abort.signal })) {
        seen.push(event.action);
        if (event.action === 'remove') break;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const short = await client.createContainer({ ...spec(`${name}-events`, 'true'), publish: undefined });
    await client.startContainer(short);
    await client.removeContainer(short, { force: true });
    const giveUp = setTimeout(() => abort.abort(), 10_000);
    await listening;
    clearTimeout(giveUp);
    abort.abort();
    expect(seen).toEqual(expect.arrayContaining(['create', 'start', 'remove']));
  });

  it('stops and removes; a second stop or remove is not an error; a gone container is NotFound', async () => {
    const doomed = await client.createContainer({ ...spec(`${name}-doomed`, 'sleep 60'), publish: undefined });
    await client.startContainer(doomed);
    await client.stopContainer(doomed, 1);
    await client.stopContainer(doomed, 1);
    expect((await client.inspectContainer(doomed)).running).toBe(false);
    await client.removeContainer(doomed);
    await client.removeContainer(doomed);
    await expect(client.inspectContainer(doomed)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('creates networks idempotently and removes them by name', async () => {
    const network = `visp-test-${instance}`;
    await client.ensureNetwork(network, { instance, internal: true });
    await client.ensureNetwork(network, { instance, internal: true });
    const info = await client.docker.getNetwork(network).inspect();
    expect(info.Internal).toBe(true);
    await client.removeNetwork(network);
    await client.removeNetwork(network);
  });

  it('says the API is unavailable when the socket is missing', async () => {
    const nowhere = new PodmanClient({ socketPath: '/nonexistent/podman.sock' });
    await expect(nowhere.ping()).rejects.toBeInstanceOf(PodmanUnavailableError);
  });
});

// Its own describe, after the one above has removed its container: Podman's bridge of the default network is down
// then, and comes up again after the CNI bridge, as it did on the machine where this was seen.
describe('PodmanClient against real Podman, beside a CNI bridge', () => {
  it("still publishes a port beside Debian's CNI bridge, which a plain `podman run` here leaves behind with 10.88.0.0/16", async () => {
    // What cni-podman0 is then: up with 10.88.0.1/16 and nothing on it (no carrier), holding the route of the whole
    // /16 (Podman's default subnet, and CNI's) before Podman's own bridge comes up for the next container. The
    // project's containers.conf gives the default network another subnet, so that route leads nowhere anyone is.
    const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: 'pipe' });
    // Such a bridge left by a run that was killed here goes first.
    for (const stale of ip('-o', 'link', 'show', 'type', 'bridge').matchAll(/^\d+: (vispcni\d+)[:@]/gm)) ip('link', 'del', stale[1] as string);
    const bridge = `vispcni${process.pid % 100_000}`;
    ip('link', 'add', bridge, 'type', 'bridge');
    let beside: string | undefined;
    try {
      ip('addr', 'add', '10.88.0.1/16', 'dev', bridge);
      ip('link', 'set', bridge, 'up');
      beside = await client.createContainer({ ...spec(`visp-session-testbox-${sid}-beside-cni`, 'exec httpd -f -p 8080 -h /var/www'), volumes: [] });
      await client.startContainer(beside);
      const port = (await client.inspectContainer(beside)).ports['8080/tcp'];
      const body = await waitFor('httpd', async () => (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => undefined)));
      expect(body).toBe('testbox\n');
    } finally {
      if (beside) await client.removeContainer(beside, { force: true });
      ip('link', 'del', bridge);
    }
  });
});
