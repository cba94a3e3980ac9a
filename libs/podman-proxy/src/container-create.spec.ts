import { LABEL } from '@visp/contracts';
import { homeVolumeName, projectRepository, SESSION_GUARD_PATH, toCreateOptions, toLibpodSpec, type ContainerSpec } from '@visp/podman-client';
import { checkCreate } from './container-create';
import { mutate, random } from './mutations';
import { checkExecCreate, checkNetworkCreate, checkNetworkJoin, checkVolumeCreate } from './other-bodies';
import { defaultPolicies } from './policy';

/** The session-manager's policy in local mode (the guard given: user-mode networking allowed), and in network mode. */
const policy = defaultPolicies([/^localhost\/visp-/], { sessionGuard: '/srv/visp/.visp/bin/visp-session-guard' })['session-manager']!;
const networkModePolicy = defaultPolicies([/^localhost\/visp-/])['session-manager']!;
const home = homeVolumeName('ann');
/** What the session-manager sends for a session in local mode (published port) and in network mode. */
const session = (mode: 'local' | 'network' = 'local') =>
  JSON.parse(
    JSON.stringify(
      toCreateOptions({
        name: 'visp-session-box-aaaaaaaaaaaa',
        image: 'localhost/visp-testbox:1',
        labels: { [LABEL.managed]: 'true', [LABEL.instance]: 'prod', [LABEL.owner]: 'ann', [LABEL.sessionId]: 'aaaaaaaaaaaa' },
        user: '1000:1000',
        cmd: ['sleep', '600'],
        env: { VISP_TOKEN: 't' },
        workdir: '/home/visp',
        limits: { memoryBytes: 2 ** 26, nanoCpus: 5e8, pids: 64 },
        tmpfs: [{ target: '/tmp', sizeBytes: 2 ** 24, mode: 0o1777 }],
        volumes: [{ name: home, target: '/home/visp' }],
        ...(mode === 'local' ? { network: 'slirp4netns' as const, publish: { containerPort: 8080 } } : { network: { name: 'visp-session-net-aaaaaaaaaaaa' } }),
      }),
    ),
  ) as Record<string, unknown> & { HostConfig: Record<string, unknown> };
const withHost = (hostConfig: object) => ({ ...session(), HostConfig: { ...session().HostConfig, ...hostConfig } });
const libpod = { image: 'localhost/visp-testbox:1', user: '1000:1000', cap_drop: ['ALL'], no_new_privileges: true, labels: { [LABEL.owner]: 'ann' } };

describe('checkCreate', () => {
  it.each(['local', 'network'] as const)("passes the session-manager's own containers (%s mode), labels enforced", (mode) => {
    const checked = checkCreate('compat', { ...session(mode), Labels: { [LABEL.owner]: 'ann', [LABEL.sessionId]: 'aaaaaaaaaaaa' } }, mode === 'local' ? policy : networkModePolicy, 'prod');
    expect(checked).toEqual({ body: expect.objectContaining({ Labels: { [LABEL.managed]: 'true', [LABEL.instance]: 'prod', [LABEL.owner]: 'ann', [LABEL.sessionId]: 'aaaaaaaaaaaa' } }) });
  });

  it('refuses user-mode networking in network mode, where a session must be on its internal network only', () => {
    expect(checkCreate('compat', session('local'), networkModePolicy, 'prod')).toEqual({ refused: expect.stringMatching(/network "slirp4netns" is not allowed/) });
    expect(checkCreate('libpod', { ...libpod, netns: { nsmode: 'slirp4netns' } }, networkModePolicy, 'prod')).toHaveProperty('refused');
    expect(checkCreate('libpod', { ...libpod, netns: { nsmode: 'slirp4netns' } }, policy, 'prod')).toHaveProperty('body');
  });

  it('passes a libpod create of the same kind', () => {
    const body = { ...libpod, volumes: [{ Name: home, Dest: '/home/visp' }], mounts: [{ type: 'tmpfs', source: 'tmpfs', destination: '/tmp', options: ['size=16m', 'mode=1777'] }], netns: { nsmode: 'bridge' }, portmappings: [{ host_ip: '127.0.0.1', container_port: 8080, host_port: 0 }] };
    expect(checkCreate('libpod', body, policy, 'prod')).toHaveProperty('body');
  });

  it.each([
    ['an unlisted image', { Image: 'docker.io/library/alpine' }, /image "docker.io\/library\/alpine" is not allowed/],
    ['privileged', withHost({ Privileged: true }), /HostConfig.Privileged is not a field/],
    ['privileged under a lower-case HostConfig, beside the real one', { hostconfig: { Privileged: true } }, /keys "HostConfig" and "hostconfig" are one field to Podman/],
    ['privileged under a lower-case HostConfig alone', { HostConfig: undefined, hostconfig: { Privileged: true } }, /hostconfig is not spelt as the API documents \(HostConfig\)/],
    ['privileged spelt in lower case', withHost({ privileged: true }), /HostConfig.privileged is not a field/],
    ['NetworkMode spelt in lower case', withHost({ NetworkMode: undefined, networkmode: 'host' }), /HostConfig.networkmode is not spelt as the API documents \(NetworkMode\)/],
    ['HostConfig spelt with a long s (Go folds it to s)', { HostConfig: undefined, HoſtConfig: { Privileged: true } }, /HoſtConfig is not spelt as the API documents/],
    ['Image and image both', { image: 'docker.io/library/alpine' }, /keys "Image" and "image" are one field to Podman/],
    ['a __proto__ key', JSON.parse('{"__proto__": {"Privileged": true}}') as object, /__proto__ is not a field/],
    ['a constructor key', { constructor: true }, /constructor is not a field/],
    ['host network', withHost({ NetworkMode: 'host' }), /network "host" is not allowed/],
    // User-mode networking (local mode's), but with the host's loopback opened to the container.
    ['slirp4netns with the host loopback', withHost({ NetworkMode: 'slirp4netns:allow_host_loopback=true' }), /network "slirp4netns:allow_host_loopback=true" is not allowed/],
    ['slirp4netns with another port handler', withHost({ NetworkMode: 'slirp4netns:port_handler=slirp4netns' }), /is not allowed/],
    ['the services network', withHost({ NetworkMode: 'visp-net' }), /network "visp-net" is not allowed/],
    // The joiners resolve names through the DNS of every network they are on: an alias could shadow a service.
    ['an alias on its own network', { NetworkingConfig: { EndpointsConfig: { 'visp-session-net-aaaaaaaaaaaa': { Aliases: ['visp-redis'] } } } }, /Aliases is not a field/],
    ["another container's pid namespace", withHost({ PidMode: 'container:abc' }), /PidMode is not a field/],
    ['a device', withHost({ Devices: [{ PathOnHost: '/dev/kvm' }] }), /Devices is not a field/],
    ['CapAdd SYS_ADMIN', withHost({ CapAdd: ['SYS_ADMIN'] }), /capability SYS_ADMIN/],
    ['no CapDrop', withHost({ CapDrop: undefined }), /HostConfig.CapDrop is required/],
    ['CapDrop of one capability', withHost({ CapDrop: ['NET_RAW'] }), /CapDrop must be \["ALL"\]/],
    ['no no-new-privileges', withHost({ SecurityOpt: [] }), /no-new-privileges/],
    ['a / bind mount', withHost({ Binds: ['/:/host'] }), /bind mount of "\/"/],
    ['a bind Mount', withHost({ Mounts: [{ Type: 'bind', Source: '/etc', Target: '/x' }] }), /bind mount of "\/etc"/],
    ['visp-mongo as a volume', withHost({ Mounts: [{ Type: 'volume', Source: 'visp-mongo', Target: '/x' }] }), /volume "visp-mongo" is not one this client may use/],
    ['visp-caddy-data in Binds', withHost({ Binds: ['visp-caddy-data:/x'] }), /volume "visp-caddy-data"/],
    ["another user's home", withHost({ Mounts: [{ Type: 'volume', Source: homeVolumeName('bob'), Target: '/x' }] }), /not the home of this container's owner \("ann"\)/],
    ['a volume with driver options', withHost({ Mounts: [{ Type: 'volume', Source: home, Target: '/x', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } } }] }), /VolumeOptions is not a field/],
    ['an anonymous volume', { Volumes: { '/data': {} } }, /Volumes is not a field/],
    ['VolumesFrom', withHost({ VolumesFrom: ['other'] }), /VolumesFrom is not a field/],
    ['sysctls', withHost({ Sysctls: { 'net.ipv4.ip_forward': '1' } }), /Sysctls is not a field/],
    ['seccomp=unconfined', withHost({ SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] }), /seccomp=unconfined/],
    ['a port on every address', withHost({ PortBindings: { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '' }] } }), /HostIp may only be "127.0.0.1"/],
    ['root', { User: '0' }, /user "0" is not allowed/],
    ['root by name', { User: 'root' }, /user "root" is not allowed/],
    ['the root group', { User: '1000:0' }, /user "1000:0" is not allowed/],
    ['no user', { User: undefined }, /User is required/],
    ["another instance's labels", { Labels: { [LABEL.instance]: 'other', [LABEL.owner]: 'ann', [LABEL.sessionId]: 'aaaaaaaaaaaa' } }, /instance other/],
  ])('refuses %s', (_what, change, reason) => {
    const body = JSON.parse(JSON.stringify({ ...session(), ...change })) as unknown;
    expect(checkCreate('compat', body, policy, 'prod')).toEqual({ refused: expect.stringMatching(reason) });
  });

  it.each([
    ['privileged', { privileged: true }, /privileged is not a field/],
    ['host network', { netns: { nsmode: 'host' } }, /nsmode may only be/],
    ['slirp4netns with the host loopback', { netns: { nsmode: 'slirp4netns' }, network_options: { slirp4netns: ['allow_host_loopback=true'] } }, /network_options is not a field/],
    ['cap_add', { cap_add: ['CAP_SYS_ADMIN'] }, /capability CAP_SYS_ADMIN/],
    ['a bind mount', { mounts: [{ type: 'bind', source: '/', destination: '/host' }] }, /bind mount of "\/"/],
    ['apparmor=unconfined', { apparmor_profile: 'unconfined' }, /apparmor_profile is not a field/],
    ['visp-mongo as a named volume', { volumes: [{ Name: 'visp-mongo', Dest: '/x' }] }, /volume "visp-mongo"/],
    ["another user's home", { volumes: [{ Name: homeVolumeName('bob'), Dest: '/x' }] }, /not the home of this container's owner/],
    ['an overlay volume', { overlay_volumes: [{ source: '/', destination: '/x' }] }, /overlay_volumes is not a field/],
    ['an image volume', { image_volumes: [{ Source: 'localhost/visp-testbox:1', Destination: '/x', ReadWrite: true }] }, /image_volumes is not a field/],
    ['devices', { devices: [{ path: '/dev/kvm' }] }, /devices is not a field/],
    ['root', { user: 'root' }, /user "root" is not allowed/],
    ['no cap_drop', { cap_drop: undefined }, /cap_drop is required/],
    ['Image in compat spelling', { Image: 'docker.io/library/alpine' }, /keys "image" and "Image" are one field/],
  ])('refuses a libpod create with %s', (_what, change, reason) => {
    const body = JSON.parse(JSON.stringify({ ...libpod, ...change })) as unknown;
    expect(checkCreate('libpod', body, policy, 'prod')).toEqual({ refused: expect.stringMatching(reason) });
  });

  it("lets a session join its own network (visp-session-net-<sid>), never another session's", () => {
    const labels = { [LABEL.owner]: 'ann', [LABEL.sessionId]: 'abcdefghijkl' };
    const on = (name: string) => ({ ...session(), Labels: labels, HostConfig: { ...session().HostConfig, NetworkMode: name }, NetworkingConfig: { EndpointsConfig: { [name]: {} } } });
    expect(checkCreate('compat', on('visp-session-net-abcdefghijkl'), policy, 'prod')).toHaveProperty('body');
    expect(checkCreate('compat', on('visp-session-net-bbbbbbbbbbbb'), policy, 'prod')).toEqual({ refused: expect.stringMatching(/network "visp-session-net-bbbbbbbbbbbb" is not allowed/) });
  });

  describe('the session guard (local mode)', () => {
    const binary = '/srv/visp/.visp/bin/visp-session-guard';
    const guarded = defaultPolicies([/^localhost\/visp-/], { sessionGuard: binary })['session-manager']!;
    const mount = (extra: object) => ({ Type: 'bind', Source: binary, Target: SESSION_GUARD_PATH, ReadOnly: true, ...extra });
    const compat = (bind: object, more: object = {}) => ({ ...session(), Entrypoint: [SESSION_GUARD_PATH], HostConfig: { ...session().HostConfig, Mounts: [...(session().HostConfig.Mounts as object[]), bind] }, ...more });
    const viaLibpod = (options: string[], more: object = {}) => ({ ...libpod, entrypoint: [SESSION_GUARD_PATH], mounts: [{ type: 'bind', source: binary, destination: SESSION_GUARD_PATH, options }], ...more });

    it('passes its binary mounted read-only at its path and named as the entrypoint, as the session-manager sends it', () => {
      expect(checkCreate('compat', compat(mount({})), guarded, 'prod')).toHaveProperty('body');
      expect(checkCreate('libpod', viaLibpod(['ro']), guarded, 'prod')).toHaveProperty('body');
      expect(checkCreate('libpod', viaLibpod(['rbind', 'ro', 'nosuid']), guarded, 'prod')).toHaveProperty('body');
    });

    it.each([
      ['writable', compat(mount({ ReadOnly: false }))],
      ['without ReadOnly', compat(mount({ ReadOnly: undefined }))],
      ['at another target (over a file the app runs)', compat(mount({ Target: '/usr/bin/R' }))],
      ['its directory', compat(mount({ Source: '/srv/visp/.visp/bin' }))],
      ['a path beside it', compat(mount({ Source: '/srv/visp/.visp/bin/ferretdb' }))],
      ['a path that resolves to it', compat(mount({ Source: '/srv/visp/.visp/bin/../bin/visp-session-guard' }))],
      ['with propagation options', compat(mount({ BindOptions: { Propagation: 'rshared' } }))],
      ['in Binds', { ...session(), HostConfig: { ...session().HostConfig, Binds: [`${binary}:${SESSION_GUARD_PATH}:ro`] } }],
      ['another entrypoint', compat(mount({}), { Entrypoint: ['/bin/sh'] })],
      ['its entrypoint with arguments', compat(mount({}), { Entrypoint: [SESSION_GUARD_PATH, '-x'] })],
      ['a libpod bind without ro', viaLibpod([])],
      ['a libpod bind with ro and rw', viaLibpod(['ro', 'rw'])],
      ['a libpod bind elsewhere', { ...viaLibpod(['ro']), mounts: [{ type: 'bind', source: binary, destination: '/bin/sh', options: ['ro'] }] }],
      ['a libpod entrypoint of its own', viaLibpod(['ro'], { entrypoint: ['/bin/sh', '-c'] })],
    ])('refuses the guard %s', (_what, body) => {
      const api = 'image' in (body as object) ? 'libpod' : 'compat';
      expect(checkCreate(api, JSON.parse(JSON.stringify(body)), guarded, 'prod')).toEqual({ refused: expect.any(String) });
    });

    it('refuses it all to a policy without the guard (network mode, production)', () => {
      expect(checkCreate('compat', compat(mount({})), networkModePolicy, 'prod')).toEqual({ refused: expect.stringMatching(/bind mount of "\/srv\/visp\/.visp\/bin\/visp-session-guard" is outside the allowed roots/) });
      expect(checkCreate('compat', { ...session('network'), Entrypoint: [SESSION_GUARD_PATH] }, networkModePolicy, 'prod')).toEqual({ refused: expect.stringMatching(/Entrypoint may only be/) });
      expect(checkCreate('libpod', viaLibpod(['ro']), networkModePolicy, 'prod')).toEqual({ refused: expect.any(String) });
    });
  });

  it('refuses a compatible mount whose path would add options to the --mount string Podman makes of it', () => {
    // Podman joins each of HostConfig.Mounts into `type=volume,source=<home>,target=/data,source=visp-mongo`: the last source wins.
    const volume = (Target: string) => withHost({ Mounts: [{ Type: 'volume', Source: home, Target }] });
    expect(checkCreate('compat', volume('/data'), policy, 'prod')).toHaveProperty('body');
    for (const target of ['/data,source=visp-mongo', '/data,U', '/data,relabel=shared', '/da"ta', '/data\nx']) {
      expect([target, checkCreate('compat', volume(target), policy, 'prod')]).toEqual([target, { refused: expect.stringMatching(/Target .* is not free of ","/) }]);
    }
    expect(checkCreate('compat', withHost({ Mounts: [{ Type: 'tmpfs', Source: '', Target: '/tmp,tmpcopyup', TmpfsOptions: { SizeBytes: 1, Mode: 0o1777 } }] }), policy, 'prod')).toHaveProperty('refused');
    // A volume's name too, for a policy whose patterns would let a comma through.
    const anyVolume = { ...policy, volumes: [/.*/], ownerHome: false };
    expect(checkCreate('compat', withHost({ Mounts: [{ Type: 'volume', Source: 'data', Target: '/data' }] }), anyVolume, 'prod')).toHaveProperty('body');
    expect(checkCreate('compat', withHost({ Mounts: [{ Type: 'volume', Source: 'data,source=visp-mongo', Target: '/data' }] }), anyVolume, 'prod')).toEqual({ refused: expect.stringMatching(/Source .* is not free of ","/) });
  });

  describe("a project's repository (PROJECT_REPOSITORIES_DIR)", () => {
    const root = '/srv/visp/repositories';
    const guardBinary = '/srv/visp/.visp/bin/visp-session-guard';
    const withProjects = defaultPolicies([/^localhost\/visp-/], { sessionGuard: guardBinary, projectRepositories: root })['session-manager']!;
    const labels = { [LABEL.owner]: 'ann', [LABEL.sessionId]: 'aaaaaaaaaaaa', [LABEL.project]: 'p1' };
    const own = projectRepository(root, 'p1', '/home/visp');
    /** What the session-manager sends for a session of project p1 (libs/podman-client `toLibpodSpec`). */
    const sent = (extra: Partial<ContainerSpec> = {}): Record<string, unknown> & { mounts: Array<Record<string, unknown>> } =>
      JSON.parse(
        JSON.stringify(
          toLibpodSpec({
            name: 'visp-session-box-aaaaaaaaaaaa',
            image: 'localhost/visp-testbox:1',
            labels,
            user: '1000:1000',
            cmd: ['sleep', '600'],
            env: { VISP_SESSION_TOKEN: 't' },
            workdir: '/home/visp',
            limits: { memoryBytes: 2 ** 26, nanoCpus: 5e8, pids: 64 },
            tmpfs: [{ target: '/tmp', sizeBytes: 2 ** 24, mode: 0o1777 }],
            volumes: [{ name: home, target: '/home/visp' }],
            network: 'slirp4netns',
            publish: { containerPort: 8007 },
            entrypoint: [SESSION_GUARD_PATH],
            readOnlyBinds: [{ source: guardBinary, target: SESSION_GUARD_PATH }],
            writableBinds: [own],
            ...extra,
          }),
        ),
      );
    /** The body with the project's mount replaced (or its options, or its labels). */
    const bindOf = (source: string, more: object = {}) => {
      const body = sent();
      return { ...body, mounts: [...body.mounts.filter((m) => m.destination !== own.target), { type: 'bind', source, destination: own.target, options: ['rw', 'nosuid', 'nodev'], ...more }] };
    };
    const labelled = (project: string | undefined) => ({ ...sent(), labels: { ...labels, [LABEL.project]: project } });

    it('passes the session-manager\'s own: <root>/<its project> at <its home>/project, in local and network mode, read-write or read-only', () => {
      expect(checkCreate('libpod', sent(), withProjects, 'prod')).toHaveProperty('body');
      expect(checkCreate('libpod', sent({ network: { name: 'visp-session-net-aaaaaaaaaaaa' }, publish: undefined, entrypoint: undefined, readOnlyBinds: undefined }), withProjects, 'prod')).toHaveProperty('body');
      expect(checkCreate('libpod', bindOf(own.source, { options: ['ro'] }), withProjects, 'prod')).toHaveProperty('body');
      // A home mounted elsewhere (another session type's homeDir) takes the project under it.
      const elsewhere = { ...sent(), volumes: [{ Name: home, Dest: '/home/jovyan' }], work_dir: '/home/jovyan' };
      expect(checkCreate('libpod', { ...elsewhere, mounts: [{ type: 'bind', source: own.source, destination: '/home/jovyan/project', options: ['rw'] }] }, withProjects, 'prod')).toHaveProperty('body');
    });

    const outside = /is outside the allowed roots/;
    const notOwn = /is not the repository of the container's project "p1"/;
    it.each([
      ['the host /etc', '/etc', outside],
      ['<root>/../etc', `${root}/../etc`, outside],
      ['<root>/p1/../../etc', `${root}/p1/../../etc`, outside],
      ['<root>/p1/.. (the root)', `${root}/p1/..`, notOwn],
      ['<root>/', `${root}/`, notOwn],
      ['<root> itself', root, notOwn],
      ['<root>//p1', `${root}//p1`, notOwn],
      ['<root>/./p1', `${root}/./p1`, notOwn],
      ['<root>/p1/', `${root}/p1/`, notOwn],
      ['<root>/p1/sub (a path below the project)', `${root}/p1/sub`, notOwn],
      ['<root>/p1/.git', `${root}/p1/.git`, notOwn],
      ['the project percent-encoded, <root>/%70%31', `${root}/%70%31`, notOwn],
      ['<root>/%2e%2e/etc', `${root}/%2e%2e/etc`, notOwn],
      ['<root>/%2e%2e%2fetc', `${root}/%2e%2e%2fetc`, notOwn],
      ['the project in another case, <root>/P1', `${root}/P1`, notOwn],
      ["another project's repository than the label's", `${root}/p2`, notOwn],
      ['the parent of <root>', '/srv/visp', outside],
      ['<root>/.', `${root}/.`, notOwn],
      ['<root>/p1 with a NUL', `${root}/p1\u0000`, notOwn],
      ['a relative path', 'repositories/p1', outside],
    ])('refuses a bind of %s', (_what, source, reason) => {
      expect(checkCreate('libpod', bindOf(source), withProjects, 'prod')).toEqual({ refused: expect.stringMatching(reason) });
    });

    it('refuses the project\'s own repository under a label that names no project or another one', () => {
      expect(checkCreate('libpod', labelled('p2'), withProjects, 'prod')).toEqual({ refused: expect.stringMatching(/is not the repository of the container's project "p2"/) });
      for (const project of [undefined, '', '..', '.', '.hidden', 'p1/..', '../p1', 'p1/x']) {
        expect([project, checkCreate('libpod', labelled(project), withProjects, 'prod')]).toEqual([project, { refused: expect.any(String) }]);
      }
      // `..` as the label and `<root>/..` as the source: that is the root's parent, no bind root; `<root>/p1/..` is the root.
      expect(checkCreate('libpod', { ...bindOf(`${root}/..`), labels: { ...labels, [LABEL.project]: '..' } }, withProjects, 'prod')).toEqual({ refused: expect.stringMatching(/outside the allowed roots/) });
      expect(checkCreate('libpod', { ...bindOf(`${root}/p1/..`), labels: { ...labels, [LABEL.project]: 'p1/..' } }, withProjects, 'prod')).toEqual({ refused: expect.stringMatching(/names no project/) });
    });

    it('refuses it anywhere but <home>/project, without a home, or with options beyond ro/rw, nosuid, nodev, noexec, bind', () => {
      for (const destination of ['/home/visp', '/home/visp/project/', '/home/visp/.ssh', '/home/visp/project/x', '/opt/visp-guard', '/usr/local/bin', '/project', '/home/visp/../etc/project']) {
        expect([destination, checkCreate('libpod', bindOf(own.source, { destination }), withProjects, 'prod')]).toEqual([destination, { refused: expect.any(String) }]);
      }
      expect(checkCreate('libpod', { ...sent(), volumes: [] }, withProjects, 'prod')).toEqual({ refused: expect.stringMatching(/does not mount/) });
      expect(checkCreate('libpod', { ...sent(), volumes: [{ Name: homeVolumeName('bob'), Dest: '/home/visp' }] }, withProjects, 'prod')).toHaveProperty('refused');
      for (const option of ['U', 'z', 'Z', 'rshared', 'shared', 'rslave', 'idmap', 'idmap=uids=0-1000-1', 'O', 'copy', 'suid', 'dev', 'exec', 'relabel=shared']) {
        expect([option, checkCreate('libpod', bindOf(own.source, { options: ['rw', option] }), withProjects, 'prod')]).toEqual([option, { refused: expect.stringMatching(/option|is not one of/) }]);
      }
      for (const extra of [{ uidMappings: [{ container_id: 0, host_id: 0, size: 1 }] }, { UIDMappings: [] }, { Propagation: 'rshared' }]) {
        expect(checkCreate('libpod', bindOf(own.source, extra), withProjects, 'prod')).toEqual({ refused: expect.stringMatching(/is not a field/) });
      }
    });

    it("refuses it through the compatible API, where Podman would make a missing one: in Mounts, in Binds, with :U", () => {
      const compat = (hostConfig: object) => ({ ...session(), Labels: labels, HostConfig: { ...session().HostConfig, ...hostConfig } });
      const mounts = session().HostConfig.Mounts as object[];
      expect(checkCreate('compat', compat({ Mounts: [...mounts, { Type: 'bind', Source: own.source, Target: own.target }] }), withProjects, 'prod')).toEqual({ refused: expect.stringMatching(/through libpod's create only/) });
      expect(checkCreate('compat', compat({ Mounts: [...mounts, { Type: 'bind', Source: own.source, Target: own.target, ReadOnly: true }] }), withProjects, 'prod')).toHaveProperty('refused');
      for (const entry of [`${own.source}:${own.target}`, `${own.source}:${own.target}:rw`, `${own.source}:${own.target}:U`, `${root}:/home/visp/project`, `${root}/../etc:/x`]) {
        expect([entry, checkCreate('compat', compat({ Binds: [entry] }), withProjects, 'prod')]).toEqual([entry, { refused: expect.any(String) }]);
      }
    });

    it('refuses every project repository to a policy without the setting (PROJECT_REPOSITORIES_DIR unset) and to recovery', () => {
      expect(checkCreate('libpod', sent(), policy, 'prod')).toEqual({ refused: expect.stringMatching(/is outside the allowed roots/) });
      const recovery = defaultPolicies([/^localhost\/visp-/], { projectRepositories: root }).recovery!;
      expect(checkCreate('libpod', sent(), recovery, 'prod')).toHaveProperty('refused');
    });

    it('reads JSON escapes as Podman does: \\u002e\\u002e in a source is "..", and refused', () => {
      const text = JSON.stringify(bindOf(own.source)).replace(JSON.stringify(own.source), JSON.stringify(`${root}/p1/__/__/etc`).replaceAll('__', '\\u002e\\u002e'));
      const body = JSON.parse(text) as { mounts: Array<{ source: string }> };
      expect(body.mounts.at(-1)?.source).toBe(`${root}/p1/../../etc`);
      expect(checkCreate('libpod', body, withProjects, 'prod')).toEqual({ refused: expect.any(String) });
    });
  });

  it('refuses every mutation of key case and nesting of a valid create body (fuzz, 5,000 seeded cases)', () => {
    const valid = session();
    expect(checkCreate('compat', valid, policy, 'prod')).toHaveProperty('body');
    const seed = 20_2026;
    const pick = random(seed);
    for (let i = 0; i < 5000; i++) {
      const mutation = mutate(valid as never, pick);
      const result = checkCreate('compat', mutation.body, policy, 'prod');
      expect([i, mutation.what, result]).toEqual([i, mutation.what, { refused: expect.any(String) }]);
    }
  });
});

describe('the other bodies', () => {
  it('exec create: what the podman client sends passes; privileged or root does not', () => {
    expect(checkExecCreate({ Cmd: ['id'], AttachStdout: true, AttachStderr: true, Env: [] }, policy)).toHaveProperty('body');
    expect(checkExecCreate({ Cmd: ['id'], Privileged: true }, policy)).toEqual({ refused: 'Privileged is not a field this client may set' });
    expect(checkExecCreate({ Cmd: ['id'], privileged: true }, policy)).toEqual({ refused: 'privileged is not a field this client may set' });
    expect(checkExecCreate({ cmd: ['id'] }, policy)).toEqual({ refused: 'cmd is not spelt as the API documents (Cmd)' });
    expect(checkExecCreate({ Cmd: ['id'], User: 'root' }, policy)).toEqual({ refused: expect.stringMatching(/user "root"/) });
    expect(checkExecCreate({ Cmd: ['id'], User: '0:0' }, policy)).toEqual({ refused: expect.stringMatching(/user "0:0"/) });
  });

  it('volume create: a home with an owner passes, labelled; other names, drivers and driver options do not', () => {
    expect(checkVolumeCreate('compat', { Name: home, Labels: {}, DriverOpts: { o: 'uid=1000,gid=1000' } }, policy, 'prod')).toEqual({ body: { Name: home, Labels: { [LABEL.managed]: 'true', [LABEL.instance]: 'prod' }, DriverOpts: { o: 'uid=1000,gid=1000' } } });
    expect(checkVolumeCreate('compat', { Name: 'visp-mongo' }, policy, 'prod')).toEqual({ refused: expect.stringMatching(/volume "visp-mongo"/) });
    expect(checkVolumeCreate('compat', { Name: home, DriverOpts: { type: 'none', o: 'bind', device: '/' } }, policy, 'prod')).toHaveProperty('refused');
    expect(checkVolumeCreate('compat', { Name: home, DriverOpts: { o: 'bind' } }, policy, 'prod')).toHaveProperty('refused');
    expect(checkVolumeCreate('compat', { Name: home, Driver: 'nfs' }, policy, 'prod')).toHaveProperty('refused');
    expect(checkVolumeCreate('libpod', { Name: home, Options: { device: '/' } }, policy, 'prod')).toHaveProperty('refused');
    expect(checkVolumeCreate('compat', {}, policy, 'prod')).toEqual({ refused: expect.stringMatching(/anonymous/) });
  });

  it("network create: only sessions' own networks, internal isolated bridges without DNS, through libpod", () => {
    const net = 'visp-session-net-abcdefghijkl';
    const good = { name: net, driver: 'bridge', internal: true, dns_enabled: false, options: { isolate: 'true' }, labels: {} };
    expect(checkNetworkCreate('libpod', good, policy, 'prod')).toEqual({ body: { ...good, labels: { [LABEL.managed]: 'true', [LABEL.instance]: 'prod' } } });
    for (const bad of [
      { ...good, labels: { [LABEL.instance]: 'other' } },
      { ...good, name: 'visp-net' },
      { ...good, name: 'visp-sessions' },
      { ...good, driver: 'macvlan' },
      { ...good, options: { isolate: 'true', parent: 'eth0' } },
      { ...good, options: { isolate: 'false' } },
      { ...good, options: {} },
      { ...good, dns_enabled: true },
      { ...good, dns_enabled: undefined },
      { ...good, internal: false },
      { ...good, internal: undefined },
      { ...good, Name: net },
    ]) {
      expect([bad, checkNetworkCreate('libpod', JSON.parse(JSON.stringify(bad)), policy, 'prod')]).toEqual([bad, { refused: expect.any(String) }]);
    }
    // The compat API cannot turn DNS off: no session network is made there.
    expect(checkNetworkCreate('compat', { Name: net, Internal: true, Options: { isolate: 'true' } }, policy, 'prod')).toHaveProperty('refused');
    expect(checkNetworkCreate('compat', { Name: net, Internal: false, Options: { isolate: 'true' } }, policy, 'prod')).toHaveProperty('refused');
    expect(checkNetworkCreate('compat', { Name: 'visp-net' }, policy, 'prod')).toHaveProperty('refused');
  });

  it('network connect and disconnect: only a joiner by its exact name, nothing of the endpoint, compat only', () => {
    const joining = defaultPolicies([/^localhost\/visp-/], { joiners: ['visp-gateway'] })['session-manager']!;
    expect(checkNetworkJoin('compat', { Container: 'visp-gateway' }, joining, false)).toEqual({ body: { Container: 'visp-gateway' } });
    expect(checkNetworkJoin('compat', { Container: 'visp-gateway', Force: true }, joining, true)).toHaveProperty('body');
    for (const [body, disconnect] of [
      [{ Container: 'visp-session-box-aaaaaaaaaaaa' }, false],
      [{ Container: 'VISP-GATEWAY' }, false],
      [{ container: 'visp-gateway' }, false],
      [{ Container: 'visp-gateway', container: 'visp-redis' }, false],
      [{ Container: 'visp-gateway', EndpointConfig: { IPAMConfig: { IPv4Address: '10.89.254.2' } } }, false],
      [{ Container: 'visp-gateway', EndpointConfig: { Aliases: ['visp-redis'] } }, false],
      [{ Container: 'visp-gateway', Force: true }, false],
      [{}, false],
    ] as const) {
      expect([body, checkNetworkJoin('compat', body, joining, disconnect)]).toEqual([body, { refused: expect.any(String) }]);
    }
    expect(checkNetworkJoin('libpod', { container: 'visp-gateway' }, joining, false)).toHaveProperty('refused');
    // Nor can a client make a container of a joiner's name to put there instead (while the real one is down).
    expect(checkCreate('compat', { ...session('network'), name: 'visp-gateway' }, joining, 'prod')).toEqual({ refused: expect.stringMatching(/name of a service that joins/) });
    expect(checkCreate('libpod', { ...libpod, name: 'visp-gateway' }, joining, 'prod')).toEqual({ refused: expect.stringMatching(/name of a service that joins/) });
    // Without joiners (local mode's policy, a file that names none), nothing joins.
    expect(checkNetworkJoin('compat', { Container: 'visp-gateway' }, policy, false)).toHaveProperty('refused');
  });
});
