import { decide, formatDuration, type CullPolicy } from './culling';

const s = 1000;
const policy: CullPolicy = { idleMs: 60 * s, maxAgeMs: 3600 * s, warningMs: 10 * s, intervalMs: 5 * s, warmUnusedMs: 0 };

describe('decide', () => {
  const created = 0;

  it('keeps a session used within the idle timeout, and forgets any warning', () => {
    expect(decide({ createdAt: created, lastActivity: 100 * s, warned: true }, 120 * s, policy)).toEqual({ action: 'keep' });
  });

  it('warns once the deadline is within the warning time, naming when and why', () => {
    expect(decide({ createdAt: created, lastActivity: 100 * s, warned: false }, 152 * s, policy)).toEqual({ action: 'warn', cullAt: 160 * s, reason: 'idle for 1 min' });
    expect(decide({ createdAt: created, lastActivity: 100 * s, warned: true }, 155 * s, policy)).toEqual({ action: 'wait' });
  });

  it('culls a warned session once its deadline has passed', () => {
    expect(decide({ createdAt: created, lastActivity: 100 * s, warned: true }, 160 * s, policy)).toEqual({ action: 'cull', reason: 'idle for 1 min' });
  });

  it('never culls unannounced: a deadline passed between two looks is announced and moved to the next look', () => {
    expect(decide({ createdAt: created, lastActivity: 100 * s, warned: false }, 500 * s, policy)).toEqual({ action: 'warn', cullAt: 505 * s, reason: 'idle for 1 min' });
  });

  it('culls at once when warnings are off', () => {
    expect(decide({ createdAt: created, lastActivity: 100 * s, warned: false }, 160 * s, { ...policy, warningMs: 0 })).toEqual({ action: 'cull', reason: 'idle for 1 min' });
  });

  it('stops a session at its maximum age however busy it is', () => {
    const busyNow = 3595 * s;
    expect(decide({ createdAt: created, lastActivity: busyNow, warned: false }, busyNow, policy)).toEqual({ action: 'warn', cullAt: 3600 * s, reason: 'reached the maximum age of 1 h' });
    expect(decide({ createdAt: created, lastActivity: 3600 * s, warned: true }, 3600 * s, policy)).toMatchObject({ action: 'cull', reason: 'reached the maximum age of 1 h' });
  });

  it('keeps everything when both limits are off', () => {
    expect(decide({ createdAt: created, lastActivity: 0, warned: false }, 1e12, { ...policy, idleMs: 0, maxAgeMs: 0 })).toEqual({ action: 'keep' });
  });
});

describe('formatDuration', () => {
  it.each([
    [45 * s, '45 s'],
    [90 * s, '90 s'],
    [30 * 60 * s, '30 min'],
    [2 * 3600 * s, '2 h'],
  ])('%d ms is %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});
