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
    expect(gate.load).toEqual({ holding: 2, waiting: 2, capacity: 2 });

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
});
