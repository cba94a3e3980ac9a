import type { EventBus, RouteStore } from '@visp/bus';
import { createLogger } from '@visp/config';
import type { SessionState } from '@visp/contracts';
import type { SessionLeases, SessionRuntime } from '@visp/sessions';
import type { SessionRecord, SessionRepository } from '@visp/store';
import { Actor } from './act';

const SID = 'aaaaaaaaaaaa';

/** An actor whose session record is `state` when it looks again, with no container; what it changed is recorded. */
function actorSeeing(state: SessionState, reason: string) {
  const record = { sid: SID, owner: 'ada@uni.se', instance: 'test', state, reason } as SessionRecord;
  const changes: string[] = [];
  const reasons: string[] = [];
  const sessions = {
    getAnyOwner: async () => record,
    transition: async (_sid: string, from: readonly SessionState[], to: SessionState, options: { reason: string }) => (
      changes.push(`${from.join('|')} → ${to}`), reasons.push(options.reason), from.includes(record.state) ? { ...record, state: to } : undefined
    ),
  } as unknown as SessionRepository;
  const actor = new Actor({
    runtime: { list: async () => [], removeRemains: async () => undefined } as unknown as SessionRuntime,
    sessions,
    routes: { delete: async () => void changes.push('route deleted') } as unknown as RouteStore,
    events: { announce: async () => void changes.push('announced') } as unknown as EventBus,
    leases: { with: async <T>(_sid: string, work: () => Promise<T>) => work() } as unknown as SessionLeases,
    types: {} as never,
    instance: 'test',
    logger: createLogger({ component: 'test', level: 'silent' }),
  });
  return { actor, changes, reasons, planned: { ...record, state: 'starting' as const } };
}

describe('mark-lost, looked at again under the lease', () => {
  it.each([
    ['failed', 'the app did not answer'],
    ['stopped', 'idle'],
  ] as const)('leaves a session the session-manager ended meanwhile (%s) as it is, its own reason standing', async (state, reason) => {
    const { actor, changes, planned } = actorSeeing(state, reason);
    await expect(actor.run({ kind: 'mark-lost', sid: SID, record: planned })).resolves.toMatchObject({ result: 'skipped' });
    expect(changes).toEqual([]);
  });

  it("ends a ready session as lost, with the engine's word on why its workload went when it had one", async () => {
    const { actor, reasons, planned } = actorSeeing('ready', '');
    await actor.run({ kind: 'mark-lost', sid: SID, record: planned, why: 'EvictionByEvictionAPI: Eviction API: evicting' });
    expect(reasons).toEqual(['lost (EvictionByEvictionAPI: Eviction API: evicting)']);
  });

  it('fails a start that is still starting, and says why', async () => {
    const { actor, changes, planned } = actorSeeing('starting', '');
    await expect(actor.run({ kind: 'mark-lost', sid: SID, record: planned })).resolves.toMatchObject({ result: 'done' });
    expect(changes).toEqual(['route deleted', 'starting → failed', 'announced']);
  });
});

describe('remove-container', () => {
  const container = { id: 'c1', name: 'visp-session-echo-aaaaaaaaaaaa', state: 'exited', labels: {} };
  it("ends a ready session whose workload is over, with the engine's word on why when it has one", async () => {
    const { actor, reasons } = actorSeeing('ready', '');
    await expect(actor.run({ kind: 'remove-container', sid: SID, container: { ...container, ended: 'Evicted: The node was low on resource: memory.' } })).resolves.toMatchObject({ result: 'done' });
    await expect(actor.run({ kind: 'remove-container', sid: SID, container })).resolves.toMatchObject({ result: 'done' });
    expect(reasons).toEqual(['its container exited (Evicted: The node was low on resource: memory.)', 'its container exited']);
  });
});
