import { SESSION_GUARD_PATH, type ContainerSpec } from '@visp/podman-client';
import { behindGuard } from './guard';

const spec: ContainerSpec = { name: 'visp-session-x-abcdefghij23', image: 'localhost/x:1', labels: {}, user: '1000:1000', limits: { memoryBytes: 1, nanoCpus: 1, pids: 1 }, publish: { containerPort: 8888 } };

describe('behindGuard', () => {
  it("starts what the container would have started: the image's ENTRYPOINT, then the type's command or else the image's CMD", () => {
    const image = { entrypoint: ['tini', '--'], cmd: ['start-notebook.sh'] };
    expect(behindGuard({ ...spec, cmd: ['jupyter', 'lab'] }, 8888, image, '/g').cmd).toEqual(['-listen', '0.0.0.0:8007', '-app', '127.0.0.1:8888', '--', 'tini', '--', 'jupyter', 'lab']);
    expect(behindGuard(spec, 8888, image, '/g').cmd).toEqual(['-listen', '0.0.0.0:8007', '-app', '127.0.0.1:8888', '--', 'tini', '--', 'start-notebook.sh']);
  });

  it("publishes the guard's port instead of the app's, and mounts the guard read-only as the entrypoint", () => {
    expect(behindGuard(spec, 8888, { entrypoint: [], cmd: ['app'] }, '/srv/g')).toMatchObject({ entrypoint: [SESSION_GUARD_PATH], publish: { containerPort: 8007 }, readOnlyBinds: [{ source: '/srv/g', target: SESSION_GUARD_PATH }] });
  });

  it('refuses an image and a type that name nothing to run', () => {
    expect(() => behindGuard(spec, 8888, { entrypoint: [], cmd: [] }, '/g')).toThrow('names no command');
  });
});
