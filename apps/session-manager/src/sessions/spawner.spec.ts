import { BUILTIN_SESSION_TYPES } from '@visp/config';
import { PodmanError, type ContainerSpec, type PodmanClient } from '@visp/podman-client';
import { Spawner, type SpawnRequest } from './spawner';

/** Just the calls a start makes, recorded; `start` answers from the script given. */
function fakePodman(startResults: Array<'ok' | Error>) {
  const calls: string[] = [];
  let created = 0;
  const podman = {
    ensureVolume: async () => void calls.push('volume'),
    ensureNetwork: async (name: string, options: { isolated?: boolean }) => void calls.push(`network ${name}${options.isolated ? ' isolated' : ''}`),
    createContainer: async (spec: ContainerSpec) => (calls.push(`create ${spec.name}`), `id${++created}`),
    startContainer: async (id: string) => {
      calls.push(`start ${id}`);
      const result = startResults.shift();
      if (result instanceof Error) throw result;
    },
    removeContainer: async (id: string) => void calls.push(`remove ${id}`),
    inspectContainer: async (id: string) => ({ id, ports: { '8888/tcp': 40000 + created } }),
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
const settings = { instance: 'unit', mode: 'local' as const, network: 'visp-sessions', startTimeoutMs: 5000 };
const portTaken = () => new PodmanError('start: cannot listen on the TCP port: listen tcp4 127.0.0.1:35225: bind: address already in use', 500);

describe('Spawner.createAndStart', () => {
  it('creates the container again when Podman picked a host port that another start took', async () => {
    const { podman, calls } = fakePodman([portTaken(), 'ok']);
    const started = await new Spawner(podman, settings).createAndStart(request, () => undefined);
    expect(started).toEqual({ containerId: 'id2', target: 'http://127.0.0.1:40002' });
    expect(calls).toEqual(['volume', 'network visp-session-net-abcdefghij23 isolated', 'create visp-session-jupyter-abcdefghij23', 'start id1', 'remove id1', 'create visp-session-jupyter-abcdefghij23', 'start id2']);
  });

  it('gives up after three port races, and never retries other failures', async () => {
    const racing = fakePodman([portTaken(), portTaken(), portTaken()]);
    await expect(new Spawner(racing.podman, settings).createAndStart(request, () => undefined)).rejects.toThrow('address already in use');
    expect(racing.calls.filter((c) => c.startsWith('create'))).toHaveLength(3);

    const broken = fakePodman([new PodmanError('start: OCI runtime error', 500)]);
    await expect(new Spawner(broken.podman, settings).createAndStart(request, () => undefined)).rejects.toThrow('OCI runtime error');
    expect(broken.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
  });
});
