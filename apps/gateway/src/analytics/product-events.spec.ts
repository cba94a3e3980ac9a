import type { EventBus, EventHandler, Redis } from '@visp/bus';
import type { BusEvent, SessionView } from '@visp/contracts';
import type { TranscriptionRecord } from '@visp/store';
import { memoryLogger } from '@visp/testing';
import type { ProductEvent } from './matomo';
import { ProductEvents } from './product-events';

const at = new Date().toISOString();

/** The bus every gateway process hears: each subscriber gets every event. */
function fakeBus() {
  const handlers = new Set<EventHandler>();
  const bus = { subscribe: async (handler: EventHandler) => (handlers.add(handler), () => handlers.delete(handler)) } as unknown as EventBus;
  return { bus, publish: (event: BusEvent) => handlers.forEach((handler) => handler(event)) };
}

/** Redis's SET … NX (what `claim` sends) shared by the processes, or one that is down. */
function fakeRedis(down = false) {
  const keys = new Set<string>();
  const redis = {
    set: async (key: string, _value: string, _px: 'PX', _ttl: number, _nx: 'NX') => {
      if (down) throw new Error('connection lost');
      if (keys.has(key)) return null;
      keys.add(key);
      return 'OK';
    },
  } as unknown as Redis;
  return { redis, keys };
}

const session = (sid: string, type: string, readyAfterSeconds?: number): SessionView => {
  const created = new Date('2026-01-01T10:00:00.000Z');
  return {
    sid,
    owner: 'alice',
    type,
    state: 'ready',
    limits: { memoryMiB: 512, cpus: 1, pids: 256 },
    path: `/s/${sid}/`,
    createdAt: created.toISOString(),
    readyAt: readyAfterSeconds === undefined ? undefined : new Date(created.getTime() + readyAfterSeconds * 1000).toISOString(),
    history: [],
  };
};

function gateways(count: number, options: { redisDown?: boolean; sessionsDown?: boolean } = {}) {
  const { bus, publish } = fakeBus();
  const { redis, keys } = fakeRedis(options.redisDown);
  const reported: ProductEvent[] = [];
  const processes = Array.from({ length: count }, () =>
    new ProductEvents({
      redis,
      events: bus,
      sessions: { get: async (sid) => (options.sessionsDown ? Promise.reject(new Error('down')) : session(sid, 'jupyter', 12.4)) },
      transcriptions: { get: async (_owner, id) => ({ id, backend: 'faster-whisper', durationSec: 61.2 }) as TranscriptionRecord },
      report: (event) => reported.push(event),
      logger: memoryLogger().logger,
    }),
  );
  return { processes, publish, reported, keys, start: () => Promise.all(processes.map((p) => p.start())), close: () => Promise.all(processes.map((p) => p.close())) };
}

describe('ProductEvents', () => {
  it('reports each session and transcription outcome once, however many gateway processes hear it', async () => {
    const g = gateways(3);
    await g.start();
    for (const state of ['pending', 'starting', 'ready', 'stopping', 'stopped'] as const) g.publish({ type: 'session.state', owner: 'alice', sid: 'aaaaaaaaaaaa', state, at });
    g.publish({ type: 'session.state', owner: 'alice', sid: 'bbbbbbbbbbbb', state: 'failed', reason: 'it exited', at });
    g.publish({ type: 'session.progress', owner: 'alice', sid: 'aaaaaaaaaaaa', step: 'creating', message: 'creating', at });
    g.publish({ type: 'transcription.state', owner: 'bob', id: 'a'.repeat(24), state: 'completed', at });
    g.publish({ type: 'transcription.state', owner: 'bob', id: 'b'.repeat(24), state: 'running', at });
    g.publish({ type: 'transcription.state', owner: 'bob', id: 'c'.repeat(24), state: 'cancelled', at });
    await g.close();
    expect(g.reported).toEqual([
      { category: 'session', action: 'launched', name: 'jupyter', value: undefined, username: 'alice' },
      { category: 'session', action: 'ready', name: 'jupyter', value: 12.4, username: 'alice' },
      { category: 'session', action: 'failed', name: 'jupyter', value: undefined, username: 'alice' },
      { category: 'transcription', action: 'completed', name: 'faster-whisper', value: 61.2, username: 'bob' },
    ]);
    expect([...g.keys].sort()).toEqual([
      'visp:analytics:reported:session:aaaaaaaaaaaa:launched',
      'visp:analytics:reported:session:aaaaaaaaaaaa:ready',
      'visp:analytics:reported:session:bbbbbbbbbbbb:failed',
      `visp:analytics:reported:transcription:${'a'.repeat(24)}:completed`,
    ]);
  });

  it('counts a launch once, whatever state a session first announces: starting (room at once), ready (prepared ahead)', async () => {
    const g = gateways(2);
    await g.start();
    for (const state of ['starting', 'ready'] as const) g.publish({ type: 'session.state', owner: 'alice', sid: 'aaaaaaaaaaaa', state, at });
    g.publish({ type: 'session.state', owner: 'bob', sid: 'bbbbbbbbbbbb', state: 'ready', at });
    await g.close();
    const launchedOrReady = (r: { action?: string }) => r.action === 'launched' || r.action === 'ready';
    expect(g.reported.filter(launchedOrReady).map((r) => `${r.username} ${r.action}`).sort()).toEqual(['alice launched', 'alice ready', 'bob launched', 'bob ready']);
  });

  it('still counts a session whose type cannot be looked up, unnamed', async () => {
    const g = gateways(1, { sessionsDown: true });
    await g.start();
    g.publish({ type: 'session.state', owner: 'alice', sid: 'aaaaaaaaaaaa', state: 'failed', at });
    await g.close();
    expect(g.reported).toEqual([{ category: 'session', action: 'failed', name: undefined, value: undefined, username: 'alice' }]);
  });

  it('reports nothing it could not claim (Redis down): rather missing than twice', async () => {
    const g = gateways(2, { redisDown: true });
    await g.start();
    g.publish({ type: 'session.state', owner: 'alice', sid: 'aaaaaaaaaaaa', state: 'ready', at });
    await g.close();
    expect(g.reported).toEqual([]);
  });

  it('reports a sign-in where it happens, and hears nothing once closed', async () => {
    const g = gateways(1);
    await g.start();
    g.processes[0]!.signedIn('carol', 'shibboleth');
    await g.close();
    g.publish({ type: 'session.state', owner: 'alice', sid: 'aaaaaaaaaaaa', state: 'pending', at });
    expect(g.reported).toEqual([{ category: 'user', action: 'signed-in', name: 'shibboleth', username: 'carol' }]);
  });
});
