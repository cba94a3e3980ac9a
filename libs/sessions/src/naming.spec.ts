import { containerName, newSessionId, newSessionToken, toResourceLimits } from './naming';
import { homeVolumeName } from './index';
import { SessionIdSchema } from '@visp/contracts';

describe('naming', () => {
  it('makes valid, distinct session ids and long tokens', () => {
    const ids = new Set(Array.from({ length: 1000 }, newSessionId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(SessionIdSchema.safeParse(id).success).toBe(true);
    expect(newSessionToken().length).toBeGreaterThanOrEqual(32);
  });

  it('names containers and home volumes safely and distinctly', () => {
    expect(containerName('jupyter', 'abcdefghij23')).toBe('visp-session-jupyter-abcdefghij23');
    const a = homeVolumeName('Alice@Uni.se');
    expect(a).toMatch(/^visp-home-alice-uni-se-[0-9a-f]{8}$/);
    expect(homeVolumeName('alice-uni.se')).not.toBe(a);
    expect(homeVolumeName('alice@uni.se')).not.toBe(a);
    expect(homeVolumeName('x'.repeat(128))).toMatch(/^visp-home-x{40}-[0-9a-f]{8}$/);
  });

  it('converts limits to what Podman takes', () => {
    expect(toResourceLimits({ memoryMiB: 512, cpus: 1.5, pids: 100 })).toEqual({ memoryBytes: 536870912, nanoCpus: 1_500_000_000, pids: 100 });
  });
});
