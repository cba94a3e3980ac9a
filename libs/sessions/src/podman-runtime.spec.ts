import { BUILTIN_SESSION_TYPES, createLogger } from '@visp/config';
import { LABEL } from '@visp/contracts';
import { NotFoundError, PodmanError, SESSION_GUARD_PATH, type ContainerSpec, type PodmanClient } from '@visp/podman-client';
import { PodmanRuntime } from './podman-runtime';
import { SpawnError, type SpawnRequest } from './session-runtime';

/** Just the calls a start makes, recorded; `start` answers from the script given. */
function fakePodman(startResults: Array<'ok' | Error>) {
  const calls: string[] = [];
  const specs: ContainerSpec[] = [];
  let created = 0;
  const podman = {
    ensureVolume: async () => void calls.push('volume'),
    ensureSessionNetwork: async (name: string) => void calls.push(`network ${name}`),
    connectNetwork: async (name: string, container: string) => {
      calls.push(`connect ${container}`);
      if (container === 'visp-recovery') throw new NotFoundError(`no container ${container}`, 404);
    },
    createContainer: async (spec: ContainerSpec) => (calls.push(`create ${spec.name} on ${typeof spec.network === 'object' ? spec.network.name : spec.network}${spec.publish ? ' published' : ''}`), specs.push(spec), `id${++created}`),
    // The R stand-in's image: no ENTRYPOINT, its app in CMD.
    imageCommand: async () => ({ entrypoint: [], cmd: ['R', '-q', '-e', 'shiny::runApp()'] }),
    startContainer: async (id: string) => {
      calls.push(`start ${id}`);
      const result = startResults.shift();
      if (result instanceof Error) throw result;
    },
    removeContainer: async (id: string) => void calls.push(`remove ${id}`),
    inspectContainer: async (id: string) => ({ id, ports: { '8007/tcp': 40000 + created }, networks: { 'visp-session-net-abcdefghij23': `10.89.7.${created}` } }),
  };
  return { podman: podman as unknown as PodmanClient, calls, specs };
}

const request: SpawnRequest = {
  sid: 'abcdefghij23',
  owner: 'alice',
  typeName: 'jupyter',
  type: BUILTIN_SESSION_TYPES.jupyter,
  limits: BUILTIN_SESSION_TYPES.jupyter.limits.default,
  createdAt: new Date(),
  token: 't'.repeat(32),
};
const settings = { instance: 'unit', networking: { mode: 'local' as const }, guardBinary: '/srv/visp/.visp/bin/visp-session-guard' };
const logger = createLogger({ component: 'test', level: 'silent' });
const portTaken = () => new PodmanError('start: cannot listen on the TCP port: listen tcp4 127.0.0.1:35225: bind: address already in use', 500);

describe('PodmanRuntime.start', () => {
  it('in local mode: user-mode networking of its own (no network to make); created again when Podman picked a host port that another start took', async () => {
    const { podman, calls } = fakePodman([portTaken(), 'ok']);
    const started = await new PodmanRuntime(podman, settings, logger).start(request, () => undefined);
    expect(started).toEqual({ id: 'id2', target: 'http://127.0.0.1:40002' });
    const create = 'create visp-session-jupyter-abcdefghij23 on slirp4netns published';
    expect(calls).toEqual(['volume', create, 'start id1', 'remove id1', create, 'start id2']);
  });

  it('gives up after three port races, and never retries other failures', async () => {
    const racing = fakePodman([portTaken(), portTaken(), portTaken()]);
    await expect(new PodmanRuntime(racing.podman, settings, logger).start(request, () => undefined)).rejects.toThrow('address already in use');
    expect(racing.calls.filter((c) => c.startsWith('create'))).toHaveLength(3);

    const broken = fakePodman([new PodmanError('start: OCI runtime error', 500)]);
    await expect(new PodmanRuntime(broken.podman, settings, logger).start(request, () => undefined)).rejects.toThrow('OCI runtime error');
    expect(broken.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
  });

  it('in network mode: an internal network of its own that the joiners join, no published port, reached by its address there', async () => {
    const { podman, calls } = fakePodman(['ok']);
    const networking = { mode: 'network' as const, joiners: ['visp-gateway', 'visp-session-manager', 'visp-recovery'] };
    const started = await new PodmanRuntime(podman, { ...settings, networking }, logger).start(request, () => undefined);
    expect(started).toEqual({ id: 'id1', target: 'http://10.89.7.1:8888' });
    // A joiner that is not there (recovery restarting) does not fail the start: recovery joins it when it is back.
    expect(calls).toEqual([
      'volume',
      'network visp-session-net-abcdefghij23',
      'connect visp-gateway',
      'connect visp-session-manager',
      'connect visp-recovery',
      'create visp-session-jupyter-abcdefghij23 on visp-session-net-abcdefghij23',
      'start id1',
    ]);
  });
});

describe('PodmanRuntime in local mode', () => {
  const guard = ['-listen', '0.0.0.0:8007', '-app'];

  it('puts the session guard in front of the app: its binary read-only, run as the entrypoint, its port the only one published', async () => {
    const { podman, specs } = fakePodman(['ok']);
    const started = await new PodmanRuntime(podman, settings, logger).start(request, () => undefined);
    expect(started.target).toBe('http://127.0.0.1:40001');
    expect(specs[0]).toMatchObject({
      entrypoint: [SESSION_GUARD_PATH],
      cmd: [...guard, '127.0.0.1:8888', '--', ...(new PodmanRuntime(podman, settings, logger).containerSpec(request).cmd ?? [])],
      readOnlyBinds: [{ source: settings.guardBinary, target: SESSION_GUARD_PATH }],
      publish: { containerPort: 8007 },
    });
    expect(specs[0]?.cmd).toContain('--ServerApp.base_url=/s/abcdefghij23/');
  });

  it("starts the image's own command when the type names none (the R stand-in)", async () => {
    const { podman, specs } = fakePodman(['ok']);
    await new PodmanRuntime(podman, settings, logger).start({ ...request, typeName: 'rstudio', type: BUILTIN_SESSION_TYPES.rstudio }, () => undefined);
    expect(specs[0]?.cmd).toEqual([...guard, '127.0.0.1:8787', '--', 'R', '-q', '-e', 'shiny::runApp()']);
  });

  it('refuses to start a session without the guard', async () => {
    const { podman, calls } = fakePodman(['ok']);
    await expect(new PodmanRuntime(podman, { ...settings, guardBinary: undefined }, logger).start(request, () => undefined)).rejects.toThrow('SESSION_GUARD_BINARY');
    expect(calls.filter((c) => c.startsWith('create'))).toEqual([]);
  });
});

describe("PodmanRuntime with a project's repository", () => {
  const root = '/srv/visp/repositories';
  const withProjects = { ...settings, projectRepositories: root };
  const ofProject = { ...request, project: 'p1' };

  it('mounts <PROJECT_REPOSITORIES_DIR>/<project> read-write at <home>/project, in front of the guard as well', async () => {
    const { podman, specs } = fakePodman(['ok']);
    await new PodmanRuntime(podman, withProjects, logger).start(ofProject, () => undefined);
    const home = BUILTIN_SESSION_TYPES.jupyter.homeDir;
    expect(specs[0]).toMatchObject({ volumes: [{ target: home }], writableBinds: [{ source: `${root}/p1`, target: `${home}/project` }], entrypoint: [SESSION_GUARD_PATH] });
    const networking = { mode: 'network' as const, joiners: [] };
    expect(new PodmanRuntime(podman, { ...withProjects, networking }, logger).containerSpec(ofProject).writableBinds).toEqual([{ source: `${root}/p1`, target: `${home}/project` }]);
  });

  it('mounts nothing without a project, or without PROJECT_REPOSITORIES_DIR (a project is then only a label)', () => {
    const { podman } = fakePodman([]);
    expect(new PodmanRuntime(podman, withProjects, logger).containerSpec(request).writableBinds).toBeUndefined();
    const labelOnly = new PodmanRuntime(podman, settings, logger).containerSpec(ofProject);
    expect(labelOnly.writableBinds).toBeUndefined();
    expect(labelOnly.labels).toMatchObject({ [LABEL.project]: 'p1' });
  });

  it('refuses a project id that is not one path segment, whatever let it through (the labels refuse it too)', () => {
    const { podman } = fakePodman([]);
    for (const project of ['..', '.', 'a/b', '../etc']) expect(() => new PodmanRuntime(podman, withProjects, logger).containerSpec({ ...request, project })).toThrow(/project/);
  });

  it('fails with "mount path not found" when Podman finds no repository, without naming the host path; other failures as they are', async () => {
    const failing = (err: Error) => {
      const { podman, calls } = fakePodman([]);
      (podman as unknown as { createContainer: () => Promise<never> }).createContainer = () => Promise.reject(err);
      return { podman, calls };
    };
    const missing = failing(new PodmanError(`create visp-session-jupyter-abcdefghij23: statfs ${root}/p1: no such file or directory`, 500));
    const refused = new PodmanRuntime(missing.podman, withProjects, logger).start(ofProject, () => undefined);
    await expect(refused).rejects.toThrow(new SpawnError('project p1 has no repository on this host: mount path not found'));
    // Podman 5 answers the same with 404.
    const missing5 = failing(new NotFoundError(`create visp-session-jupyter-abcdefghij23: statfs ${root}/p1: no such file or directory`, 404));
    await expect(new PodmanRuntime(missing5.podman, withProjects, logger).start(ofProject, () => undefined)).rejects.toThrow('mount path not found');
    // Another path missing (the guard), or another failure: the error as Podman gave it.
    const guardMissing = failing(new PodmanError(`create x: statfs ${settings.guardBinary}: no such file or directory`, 500));
    await expect(new PodmanRuntime(guardMissing.podman, withProjects, logger).start(ofProject, () => undefined)).rejects.toThrow(settings.guardBinary);
    const other = failing(new PodmanError('create x: OCI runtime error', 500));
    await expect(new PodmanRuntime(other.podman, withProjects, logger).start(ofProject, () => undefined)).rejects.toThrow('OCI runtime error');
  });
});
