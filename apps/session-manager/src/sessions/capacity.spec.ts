import { CapacityGate, LeftTheLineError } from './capacity';

describe('CapacityGate', () => {
  it('admits up to capacity at once, then lines requests up in order with their positions', async () => {
    const gate = new CapacityGate(2);
    await gate.acquire('a');
    await gate.acquire('b');
    const positions: Record<string, number[]> = { c: [], d: [] };
    const admitted: string[] = [];
    const c = gate.acquire('c', (p) => positions.c!.push(p)).then(() => admitted.push('c'));
    const d = gate.acquire('d', (p) => positions.d!.push(p)).then(() => admitted.push('d'));
    expect(gate.load).toEqual({ holding: 2, waiting: 2, capacity: 2, warm: 0 });

    gate.release('a');
    await c;
    expect(admitted).toEqual(['c']);
    expect(positions).toEqual({ c: [1], d: [2, 1] });

    gate.release('b');
    await d;
    expect(admitted).toEqual(['c', 'd']);
  });

  it('lets a waiting request leave the line; the ones behind move up', async () => {
    const gate = new CapacityGate(1);
    await gate.acquire('a');
    const positions: number[] = [];
    const b = gate.acquire('b');
    const c = gate.acquire('c', (p) => positions.push(p));
    gate.release('b');
    await expect(b).rejects.toBeInstanceOf(LeftTheLineError);
    expect(positions).toEqual([2, 1]);
    gate.release('a');
    await c;
    expect(gate.load.holding).toBe(1);
  });

  it('counts sessions found running at start-up, and is idempotent per session', async () => {
    const gate = new CapacityGate(1);
    gate.reserve('running');
    await gate.acquire('running');
    let admitted = false;
    const next = gate.acquire('new').then(() => (admitted = true));
    await Promise.resolve();
    expect(admitted).toBe(false);
    gate.release('running');
    await next;
    expect(admitted).toBe(true);
  });

  it('has a prepared session give way, oldest first and each once, to a request that would wait; never makes one wait', async () => {
    const told: string[] = [];
    const gate = new CapacityGate(3, { preempt: (sid) => told.push(sid) });
    expect(gate.tryAcquire('warm-1', { preemptible: true })).toBe(true);
    expect(gate.tryAcquire('warm-2', { preemptible: true })).toBe(true);
    await gate.acquire('real');
    expect(gate.tryAcquire('warm-3', { preemptible: true })).toBe(false);
    expect(gate.load).toEqual({ holding: 3, waiting: 0, capacity: 3, warm: 2 });

    const first = gate.acquire('a');
    const second = gate.acquire('b');
    expect(told).toEqual(['warm-1', 'warm-2']);
    // Told to give way, it can no longer be launched from; its release lets the first in line in.
    expect(gate.keep('warm-1')).toBe(false);
    gate.release('warm-1');
    await first;
    gate.release('warm-2');
    await second;
    expect(gate.load).toEqual({ holding: 3, waiting: 0, capacity: 3, warm: 0 });
  });

  it('keeps a launched prepared session for good: it no longer gives way', async () => {
    const told: string[] = [];
    const gate = new CapacityGate(1, { preempt: (sid) => told.push(sid) });
    gate.reserve('warm', { preemptible: true });
    expect(gate.keep('warm')).toBe(true);
    let admitted = false;
    const next = gate.acquire('next').then(() => (admitted = true));
    await Promise.resolve();
    expect(told).toEqual([]);
    expect(admitted).toBe(false);
    expect(gate.load).toMatchObject({ holding: 1, waiting: 1, warm: 0 });
    gate.release('next');
    await expect(next).rejects.toBeInstanceOf(LeftTheLineError);
  });

  it('lets either a launch keep a prepared session or the culler give it up, never both', () => {
    const gate = new CapacityGate(3);
    gate.reserve('kept', { preemptible: true });
    gate.reserve('culled', { preemptible: true });
    expect(gate.keep('kept')).toBe(true);
    expect(gate.giveUp('kept')).toBe(false);
    expect(gate.giveUp('culled')).toBe(true);
    expect(gate.keep('culled')).toBe(false);
    expect(gate.giveUp('culled')).toBe(false);
    // One recovery adopted while this process ran is counted as it is given up.
    expect(gate.giveUp('adopted')).toBe(true);
    expect(gate.load).toMatchObject({ holding: 3 });
  });

  it('lets a prepared session whose stop failed be given up again', () => {
    const gate = new CapacityGate(1);
    gate.reserve('warm', { preemptible: true });
    expect(gate.giveUp('warm')).toBe(true);
    gate.stillHeld('warm'); // its stop failed: the culler's next pass tries again
    expect(gate.giveUp('warm')).toBe(true);
  });

  it('keeps a prepared session it counted as it was given up preemptible, should its stop fail', () => {
    const told: string[] = [];
    const gate = new CapacityGate(1, { preempt: (sid) => told.push(sid) });
    expect(gate.giveUp('adopted')).toBe(true); // recovery adopted it while this process ran
    gate.stillHeld('adopted'); // its stop failed
    expect(gate.load).toMatchObject({ holding: 1, warm: 1 });
    void gate.acquire('next').catch(() => undefined);
    expect(told).toEqual(['adopted']);
  });

  it('has a prepared session it counts from the store give way to a request already waiting', async () => {
    const told: string[] = [];
    const gate = new CapacityGate(1, { preempt: (sid) => told.push(sid) });
    gate.reserve('launched');
    const next = gate.acquire('next');
    expect(told).toEqual([]); // nothing prepared to stop when it joined the line
    expect(await gate.countRunning(async () => [{ sid: 'adopted-prepared', preemptible: true }])).toEqual(['adopted-prepared']);
    expect(told).toEqual(['adopted-prepared']);
    gate.release('adopted-prepared'); // its stop
    gate.release('launched');
    await next;
    expect(gate.held()).toEqual(['next']);
  });
});
