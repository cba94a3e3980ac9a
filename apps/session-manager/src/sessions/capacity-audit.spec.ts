import type { SessionState } from '@visp/contracts';
import { createLogger } from '@visp/config';
import { CapacityGate } from './capacity';
import { CapacityAudit } from './capacity-audit';

const logger = createLogger({ component: 'test', level: 'silent' });

/**
 * A gate holding `held`, the store's word on each (none: no record yet), the starts in progress, and the sessions
 * recovery adopted (each read of them runs `duringRead` first).
 */
function setup(capacity: number, held: string[], stored: Record<string, SessionState>, starting: string[] = [], prepared: string[] = [], adopted: Array<{ sid: string; warm: boolean }> = [], duringRead: () => void = () => undefined) {
  const stoppedForRoom: string[] = [];
  const gate: CapacityGate = new CapacityGate(capacity, { crowded: (): Promise<void> => audit.soon(), preempt: (sid) => stoppedForRoom.push(sid) });
  for (const sid of held) gate.reserve(sid);
  for (const sid of prepared) gate.reserve(sid, { preemptible: true });
  const asked: string[][] = [];
  const sessions = {
    statesOf: async (sids: readonly string[]) => (asked.push([...sids]), new Map(sids.flatMap((sid) => (stored[sid] ? [[sid, stored[sid]] as const] : [])))),
    adoptedSince: async (instance: string, since: Date) => (adoptionsAsked.push({ instance, since }), duringRead(), adopted),
  };
  const adoptionsAsked: Array<{ instance: string; since: Date }> = [];
  const audit = new CapacityAudit({ gate, sessions, instance: 'here', starting: () => new Set(starting), logger }, 0);
  return { gate, audit, asked, adoptionsAsked, stoppedForRoom };
}

describe('CapacityAudit', () => {
  it('frees the slots of sessions stored as over, and only those', async () => {
    const { gate, audit } = setup(5, ['stopped', 'failed', 'ready', 'stopping', 'no-record-yet'], { stopped: 'stopped', failed: 'failed', ready: 'ready', stopping: 'stopping' });
    audit.soon();
    await audit.settled();
    expect(gate.held().sort()).toEqual(['no-record-yet', 'ready', 'stopping']);
  });

  it('leaves a start in progress to settle its own slot, whatever its record says meanwhile', async () => {
    const { gate, audit, asked } = setup(2, ['mine', 'gone'], { mine: 'failed', gone: 'stopped' }, ['mine']);
    audit.soon();
    await audit.settled();
    expect({ held: gate.held(), asked }).toEqual({ held: ['mine'], asked: [['gone']] });
  });

  it('is asked by a request that has to wait, which then gets the slot of a session that ended elsewhere', async () => {
    const { gate, audit } = setup(1, ['dead'], { dead: 'stopped' });
    await gate.acquire('next'); // resolves only once the audit has freed the dead session's slot
    await audit.settled();
    expect(gate.held()).toEqual(['next']);
  });

  it('stops no prepared session for a request that the slot of a session over lets in', async () => {
    const { gate, stoppedForRoom } = setup(2, ['dead'], { dead: 'stopped', warm: 'ready' }, [], ['warm']);
    await gate.acquire('next');
    expect({ held: gate.held().sort(), stoppedForRoom }).toEqual({ held: ['next', 'warm'], stoppedForRoom: [] });
  });

  it('has a prepared session stopped for a request still waiting once the audit has looked', async () => {
    const { gate, audit, stoppedForRoom } = setup(1, [], { warm: 'ready' }, [], ['warm']);
    const next = gate.acquire('next');
    await audit.settled();
    expect(stoppedForRoom).toEqual(['warm']);
    gate.release('warm'); // its stop frees the slot
    await next;
    expect(gate.held()).toEqual(['next']);
  });

  it('runs once more after the audit in progress when asked meanwhile, not once per call', async () => {
    const { audit, asked } = setup(1, ['a'], { a: 'ready' });
    audit.soon();
    audit.soon();
    audit.soon();
    await audit.settled();
    expect(asked).toHaveLength(2);
  });

  it('reads no session over while a slot is free and nobody waits: a stale slot changes nothing then', async () => {
    const { audit, asked } = setup(3, ['a'], { a: 'stopped' });
    audit.soon();
    await audit.settled();
    expect(asked).toEqual([]);
  });

  it('counts the sessions recovery adopted that hold no slot, prepared ones preemptibly; not a start in progress here', async () => {
    const adopted = [
      { sid: 'revived', warm: false },
      { sid: 'rebuilt-prepared', warm: true },
      { sid: 'held', warm: false },
      { sid: 'mine', warm: false },
    ];
    const { gate, audit, adoptionsAsked } = setup(2, ['held'], {}, ['mine'], [], adopted);
    audit.soon();
    await audit.settled();
    expect(gate.held().sort()).toEqual(['held', 'rebuilt-prepared', 'revived']);
    expect(gate.load).toMatchObject({ holding: 3, warm: 1 });
    expect(adoptionsAsked.map((a) => a.instance)).toEqual(['here']);
    // Over capacity now: the next request waits (before, it started at once).
    expect(gate.tryAcquire('next')).toBe(false);
  });

  it('does not count a session released while it read the store: the read may predate the stop', async () => {
    const stop: { of?: CapacityGate } = {};
    const { gate, audit } = setup(2, ['stopped-meanwhile'], {}, [], [], [{ sid: 'stopped-meanwhile', warm: false }], () => stop.of?.release('stopped-meanwhile'));
    stop.of = gate;
    audit.soon();
    await audit.settled();
    expect(gate.held()).toEqual([]);
  });

  it('looks for adoptions since its previous look began, reaching a minute further back for the clock of recovery’s host', async () => {
    jest.useFakeTimers({ now: 1_000_000_000_000, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const { audit, adoptionsAsked } = setup(2, [], {});
      jest.setSystemTime(1_000_000_005_000);
      audit.soon();
      await audit.settled();
      jest.setSystemTime(1_000_000_020_000);
      audit.soon();
      await audit.settled();
      // The first look reaches back from when the audit was made (the slots at start-up were read just before).
      expect(adoptionsAsked.map((a) => a.since.getTime())).toEqual([1_000_000_000_000 - 60_000, 1_000_000_005_000 - 60_000]);
    } finally {
      jest.useRealTimers();
    }
  });
});
