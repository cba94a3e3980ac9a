import { BUILTIN_SESSION_TYPES, createLogger } from '@visp/config';
import { NotFoundError, PodmanError, type ContainerSpec, type PodmanClient } from '@visp/podman-client';
import { Spawner, type SpawnRequest } from './spawner';

/** Just the calls a start makes, recorded; `start` answers from the script given. */
function fakePodman(startResults: Array<'ok' | Error>) {
  const calls: string[] = [];
  let created = 0;
  const podman = {
    ensureVolume: async () => void calls.push('volume'),
    ensureNetwork: async (name: string, options: { isolated?: boolean; internal: boolean }) => void calls.push(`network ${name}${options.isolated ? ' isolated' : ''}${options.internal ? ' internal' : ''}`),
    connectNetwork: async (name: string, container: string) => {
      calls.push(`connect ${container}`);
      if (container === 'visp-recovery') throw new NotFoundError(`no container ${container}`, 404);
    },
    createContainer: async (spec: ContainerSpec) => (calls.push(`create ${spec.name} on ${spec.network?.name}${spec.publish ? ' published' : ''}`), `id${++created}`),
    startContainer: async (id: string) => {
      calls.push(`start ${id}`);
      const result = startResults.shift();
      if (result instanceof Error) throw result;
    },
    removeContainer: async (id: string) => void calls.push(`remove ${id}`),
    inspectContainer: async (id: string) => ({ id, ports: { '8888/tcp': 40000 + created }, networks: { 'visp-session-net-abcdefghij23': `10.89.7.${created}` } }),
  };
  return { podman: podman as unknown as PodmanClient, calls };
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
const settings = { instance: 'unit', networking: { mode: 'local' as const }, startTimeoutMs: 5000 };
const logger = createLogger({ component: 'test', level: 'silent' });
const portTaken = () => new PodmanError('start: cannot listen on the TCP port: listen tcp4 127.0.0.1:35225: bind: address already in use', 500);

describe('Spawner.createAndStart', () => {
  it('creates the container again when Podman picked a host port that another start took', async () => {
    const { podman, calls } = fakePodman([portTaken(), 'ok']);
    const started = await new Spawner(podman, settings, logger).createAndStart(request, () => undefined);
    expect(started).toEqual({ containerId: 'id2', target: 'http://127.0.0.1:40002' });
    const create = 'create visp-session-jupyter-abcdefghij23 on visp-session-net-abcdefghij23 published';
    expect(calls).toEqual(['volume', 'network visp-session-net-abcdefghij23 isolated', create, 'start id1', 'remove id1', create, 'start id2']);
  });

  it('gives up after three port races, and never retries other failures', async () => {
    const racing = fakePodman([portTaken(), portTaken(), portTaken()]);
    await expect(new Spawner(racing.podman, settings, logger).createAndStart(request, () => undefined)).rejects.toThrow('address already in use');
    expect(racing.calls.filter((c) => c.startsWith('create'))).toHaveLength(3);

    const broken = fakePodman([new PodmanError('start: OCI runtime error', 500)]);
    await expect(new Spawner(broken.podman, settings, logger).createAndStart(request, () => undefined)).rejects.toThrow('OCI runtime error');
    expect(broken.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
  });

  it('in network mode: an internal network of its own that the joiners join, no published port, reached by its address there', async () => {
    const { podman, calls } = fakePodman(['ok']);
    const networking = { mode: 'network' as const, joiners: ['visp-gateway', 'visp-session-manager', 'visp-recovery'] };
    const started = await new Spawner(podman, { ...settings, networking }, logger).createAndStart(request, () => undefined);
    expect(started).toEqual({ containerId: 'id1', target: 'http://10.89.7.1:8888' });
    // A joiner that is not there (recovery restarting) does not fail the start: recovery joins it when it is back.
    expect(calls).toEqual([
      'volume',
      'network visp-session-net-abcdefghij23 isolated internal',
      'connect visp-gateway',
      'connect visp-session-manager',
      'connect visp-recovery',
      'create visp-session-jupyter-abcdefghij23 on visp-session-net-abcdefghij23',
      'start id1',
    ]);
  });
});
