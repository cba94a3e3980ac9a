import { HeldConnections, type EndReason } from './held-connections';

const DAY_MS = 24 * 3600 * 1000;

describe('HeldConnections', () => {
  afterEach(() => jest.useRealTimers());

  it('ends every connection of a revoked credential once, and no other', () => {
    const held = new HeldConnections();
    const ended: string[] = [];
    const hold = (name: string, credential: string) => held.hold({ credential }, (reason) => ended.push(`${name} ${reason}`));
    hold('a1', 'login:a');
    hold('a2', 'login:a');
    hold('b', 'token:b');
    const releaseA3 = hold('a3', 'login:a');
    releaseA3(); // closed by itself first

    held.revoke('login:a');
    held.revoke('login:a');
    held.revoke('login:unknown');
    expect(ended).toEqual(['a1 revoked', 'a2 revoked']);
    held.revoke('token:b');
    expect(ended).toEqual(['a1 revoked', 'a2 revoked', 'b revoked']);
  });

  it('ends a connection when its credential expires, unless it closed first or was revoked', () => {
    jest.useFakeTimers({ now: 0 });
    const held = new HeldConnections();
    const ended: Array<[string, EndReason, number]> = [];
    const hold = (name: string, expiresAt: number) => held.hold({ credential: `token:${name}`, expiresAt }, (reason) => ended.push([name, reason, Date.now()]));
    hold('soon', 1000);
    const releaseClosed = hold('closed', 1000);
    hold('revoked', 1000);
    // Past setTimeout's longest wait (about 24.8 days): waited for in steps, not fired at once.
    hold('in a year', 365 * DAY_MS);

    releaseClosed();
    held.revoke('token:revoked');
    jest.advanceTimersByTime(999);
    expect(ended).toEqual([['revoked', 'revoked', 0]]);
    jest.advanceTimersByTime(1);
    expect(ended).toEqual([
      ['revoked', 'revoked', 0],
      ['soon', 'expired', 1000],
    ]);
    jest.advanceTimersByTime(364 * DAY_MS);
    expect(ended).toHaveLength(2);
    jest.advanceTimersByTime(DAY_MS);
    expect(ended.at(-1)).toEqual(['in a year', 'expired', 365 * DAY_MS]);
    held.revoke('token:soon'); // already ended: not again
    expect(ended).toHaveLength(3);
  });
});
