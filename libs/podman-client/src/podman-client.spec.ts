import { LABEL } from '@visp/contracts';
import { ConflictError, decodeSessionLabels, demuxBuffer, discoverPodman, encodeSessionLabels, NotFoundError, PodmanError, PodmanUnavailableError, projectRepository, toCreateOptions, toLibpodSpec, toPodmanError, type ContainerSpec } from './index';

/** A decoder's reason that starts by naming `label`. */
const namingLabel = (label: string) => expect.stringMatching(new RegExp(`^${label.replaceAll('.', '\\.')}: `));

const session = { instance: 'prod', id: 'abcdefghij23', type: 'jupyter', owner: 'alice@uni.se', project: 'p1', created: '2026-01-02T03:04:05.000Z' };

describe('label codec', () => {
  it('round-trips session metadata through labels', () => {
    const labels = encodeSessionLabels(session);
    expect(labels).toMatchObject({ [LABEL.managed]: 'true', [LABEL.instance]: 'prod', [LABEL.schema]: '1', [LABEL.owner]: 'alice@uni.se' });
    expect(decodeSessionLabels(labels)).toEqual({ ok: true, session });
    const { project: _omitted, ...withoutProject } = session;
    expect(decodeSessionLabels(encodeSessionLabels(withoutProject))).toEqual({ ok: true, session: withoutProject });
    // A prepared session (the warm pool) says so; any other session carries no such label at all.
    expect(encodeSessionLabels({ ...session, warm: true })[LABEL.warm]).toBe('true');
    expect(labels[LABEL.warm]).toBeUndefined();
    expect(decodeSessionLabels(encodeSessionLabels({ ...session, warm: true }))).toEqual({ ok: true, session: { ...session, warm: true } });
  });

  it('reports malformed or foreign labels as reasons, naming the label', () => {
    const labels = encodeSessionLabels(session);
    expect(decodeSessionLabels({})).toEqual({ ok: false, reason: 'not managed by visp' });
    expect(decodeSessionLabels(null)).toEqual({ ok: false, reason: 'not managed by visp' });
    expect(decodeSessionLabels({ ...labels, [LABEL.schema]: '2' })).toEqual({ ok: false, reason: 'unsupported label schema "2"' });
    const { [LABEL.owner]: _owner, ...noOwner } = labels;
    expect(decodeSessionLabels(noOwner)).toMatchObject({ ok: false, reason: namingLabel(LABEL.owner) });
    expect(decodeSessionLabels({ ...labels, [LABEL.sessionId]: 'NOT-AN-ID' })).toMatchObject({ ok: false, reason: namingLabel(LABEL.sessionId) });
    // Not ours, so not read as either: only `true` means prepared.
    for (const value of ['false', 'True', '', '1']) expect(decodeSessionLabels({ ...labels, [LABEL.warm]: value })).toMatchObject({ ok: false, reason: namingLabel(LABEL.warm) });
  });

  it('refuses to encode invalid metadata', () => {
    expect(() => encodeSessionLabels({ ...session, owner: '../bob' })).toThrow();
  });
});

describe('socket discovery', () => {
  const none = () => false;
  it('follows CONTAINER_HOST, DOCKER_HOST, the rootless socket, then the rootful one', () => {
    expect(discoverPodman({ CONTAINER_HOST: 'unix:///a.sock', DOCKER_HOST: 'unix:///b.sock' }, none)).toEqual({ socketPath: '/a.sock' });
    expect(discoverPodman({ DOCKER_HOST: 'tcp://127.0.0.1:2375' }, none)).toEqual({ host: '127.0.0.1', port: 2375, protocol: 'http' });
    expect(discoverPodman({ XDG_RUNTIME_DIR: '/run/user/1000' }, () => true)).toEqual({ socketPath: '/run/user/1000/podman/podman.sock' });
    expect(discoverPodman({ XDG_RUNTIME_DIR: '/run/user/1000' }, (p) => p === '/run/podman/podman.sock')).toEqual({ socketPath: '/run/podman/podman.sock' });
  });

  it('says what it tried when there is no socket, and rejects unsupported schemes', () => {
    expect(() => discoverPodman({}, none)).toThrow('no Podman socket found (tried /run/podman/podman.sock)');
    expect(() => discoverPodman({ CONTAINER_HOST: 'ssh://core@host/run/podman.sock' }, none)).toThrow('CONTAINER_HOST: ssh:// is not supported');
  });
});

describe('container spec', () => {
  const spec: ContainerSpec = {
    name: 'visp-session-jupyter-abcdefghij23',
    image: 'localhost/x:1',
    labels: encodeSessionLabels(session),
    user: '1000:1000',
    limits: { memoryBytes: 256 * 2 ** 20, nanoCpus: 5e8, pids: 128 },
    tmpfs: [{ target: '/tmp', sizeBytes: 2 ** 26, mode: 0o1777 }],
    publish: { containerPort: 8888 },
  };

  it('always drops capabilities, forbids privilege gain and applies limits', () => {
    const host = toCreateOptions(spec).HostConfig!;
    expect(host).toMatchObject({ CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], Memory: 268435456, MemorySwap: 268435456, NanoCpus: 5e8, PidsLimit: 128 });
    expect(host.Mounts).toContainEqual(expect.objectContaining({ Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 2 ** 26, Mode: 0o1777 } }));
    expect(host.PortBindings).toEqual({ '8888/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(host.Privileged).toBeUndefined();
  });

  it('mounts host files read-only, always, and sets the entrypoint only when asked', () => {
    expect(toCreateOptions(spec).Entrypoint).toBeUndefined();
    const options = toCreateOptions({ ...spec, entrypoint: ['/opt/g'], readOnlyBinds: [{ source: '/srv/g', target: '/opt/g' }] });
    expect(options.Entrypoint).toEqual(['/opt/g']);
    expect(options.HostConfig?.Mounts).toContainEqual({ Type: 'bind', Source: '/srv/g', Target: '/opt/g', ReadOnly: true });
  });

  it('refuses root and bad tmpfs modes', () => {
    for (const user of ['0', 'root', '0:0', '']) expect(() => toCreateOptions({ ...spec, user })).toThrow(/refusing to run as root/);
    expect(() => toCreateOptions({ ...spec, tmpfs: [{ target: '/tmp', sizeBytes: 1, mode: 0o17777 }] })).toThrow('invalid mode');
    for (const user of ['0', 'root']) expect(() => toLibpodSpec({ ...spec, user })).toThrow(/refusing to run as root/);
  });

  describe('a writable host directory (a project repository)', () => {
    const project = projectRepository('/srv/repos', 'p1', '/home/visp/');
    const withProject: ContainerSpec = {
      ...spec,
      volumes: [{ name: 'visp-home-alice-1', target: '/home/visp' }],
      entrypoint: ['/opt/g'],
      cmd: ['-listen', '0.0.0.0:8007'],
      env: { VISP_SESSION_TOKEN: 't' },
      workdir: '/home/visp',
      readOnlyBinds: [{ source: '/srv/g', target: '/opt/g' }],
      network: 'slirp4netns',
      writableBinds: [project],
    };

    it('is <root>/<project> at <home>/project, and only for a project id that is one path segment', () => {
      expect(project).toEqual({ source: '/srv/repos/p1', target: '/home/visp/project' });
      for (const bad of ['..', '.', '', 'a/b', '../etc', '.git']) expect(() => projectRepository('/srv/repos', bad, '/home/visp')).toThrow(/not one path segment/);
    });

    it('goes through libpod, with the same security settings, limits, mounts, network and port as the compatible body', () => {
      expect(() => toCreateOptions(withProject)).toThrow(/through libpod only/);
      expect(toLibpodSpec(withProject)).toEqual({
        name: spec.name,
        image: spec.image,
        labels: spec.labels,
        user: '1000:1000',
        entrypoint: ['/opt/g'],
        command: ['-listen', '0.0.0.0:8007'],
        env: { VISP_SESSION_TOKEN: 't' },
        work_dir: '/home/visp',
        cap_drop: ['ALL'],
        no_new_privileges: true,
        init: true,
        resource_limits: { memory: { limit: 268435456, swap: 268435456 }, cpu: { quota: 50_000, period: 100_000 }, pids: { limit: 128 } },
        mounts: [
          { type: 'tmpfs', source: 'tmpfs', destination: '/tmp', options: [`size=${2 ** 26}`, 'mode=1777'] },
          { type: 'bind', source: '/srv/g', destination: '/opt/g', options: ['ro'] },
          // Never U (chown), z or Z (relabel), nor a propagation of its own.
          { type: 'bind', source: '/srv/repos/p1', destination: '/home/visp/project', options: ['rw', 'nosuid', 'nodev'] },
        ],
        volumes: [{ Name: 'visp-home-alice-1', Dest: '/home/visp' }],
        netns: { nsmode: 'slirp4netns' },
        portmappings: [{ host_ip: '127.0.0.1', container_port: 8888, host_port: 0, protocol: 'tcp' }],
      });
      expect(toLibpodSpec({ ...withProject, network: { name: 'visp-session-net-abcdefghij23' }, publish: undefined })).toMatchObject({ netns: { nsmode: 'bridge' }, Networks: { 'visp-session-net-abcdefghij23': {} } });
    });
  });
});

describe('stream and error handling', () => {
  it('demultiplexes Docker log frames', () => {
    const frame = (type: number, text: string) => {
      const header = Buffer.alloc(8);
      header[0] = type;
      header.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([header, Buffer.from(text)]);
    };
    expect(demuxBuffer(Buffer.concat([frame(1, 'out1\n'), frame(2, 'err\n'), frame(1, 'out2\n')]))).toEqual({ stdout: 'out1\nout2\n', stderr: 'err\n' });
  });

  it('types errors by meaning, whatever status Podman chose', () => {
    expect(toPodmanError({ statusCode: 404, json: { message: 'no such container' } }, 'inspect x')).toBeInstanceOf(NotFoundError);
    expect(toPodmanError({ statusCode: 409, json: { message: 'conflict' } }, 'create x')).toBeInstanceOf(ConflictError);
    const podmanConflict = toPodmanError({ statusCode: 500, json: { message: 'creating container storage: the container name "x" is already in use by abc' } }, 'create x');
    expect(podmanConflict).toBeInstanceOf(ConflictError);
    expect(podmanConflict.message).toBe('create x: creating container storage: the container name "x" is already in use by abc');
    expect(toPodmanError({ code: 'ECONNREFUSED' }, 'ping')).toBeInstanceOf(PodmanUnavailableError);
    const other = toPodmanError({ statusCode: 500, json: { message: 'runc failed' } }, 'start x');
    expect([other instanceof ConflictError, other instanceof PodmanError, other.statusCode]).toEqual([false, true, 500]);
  });
});
