import type { RouteStore } from '@visp/bus';
import { createLogger } from '@visp/config';
import type { SessionState } from '@visp/contracts';
import type { FollowHandlers, SessionRuntime } from '@visp/sessions';
import type { SessionRepository } from '@visp/store';
import type { Actor } from './act';
import { Recovery } from './recovery';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Fake time: every timer, the passes' own included, fires as the clock is moved, never late. */
const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/**
 * A recovery in dry-run mode (no lock to take) whose passes are counted by the engine's lists, each taking
 * `passMs`; `news` is what the engine's stream would tell it. `stored`: the sessions' records' states (none: no
 * record); `leased`: the sessions someone holds the lease of.
 */
function recoveryWatching(passMs: number, stored: Record<string, SessionState> = {}, leased: string[] = []) {
  let passes = 0;
  let handlers: FollowHandlers | undefined;
  const runtime = {
    list: async () => (passes++, await sleep(passMs), []),
    follow: async (_instance: string, on: FollowHandlers) => void (handlers = on),
  } as unknown as SessionRuntime;
  const recovery = new Recovery(
    {
      runtime,
      sessions: { listAnyOwner: async () => [], getAnyOwner: async (sid: string) => (stored[sid] ? { sid, state: stored[sid] } : undefined) } as unknown as SessionRepository,
      leases: { heldAnywhere: async (sid: string) => leased.includes(sid) },
      routes: { all: async () => [] } as unknown as RouteStore,
      redis: {} as never,
      actor: {} as Actor,
      instance: 'unit',
      logger: createLogger({ component: 'test', level: 'silent' }),
    },
    { intervalMs: 3_600_000, dryRun: true },
  );
  return { recovery, passes: () => passes, news: () => handlers };
}

describe("Recovery's passes on the engine's news", () => {
  it('makes one pass for news that comes together, and one more for news during a pass, after it and a gap; none after stop', async () => {
    const { recovery, passes, news } = recoveryWatching(500);
    recovery.start(); // the pass at start: 0–500 ms
    await advance(50);
    for (let i = 0; i < 20; i++) news()?.ended(`s${i}`);
    news()?.watching();
    await advance(2400);
    expect(passes()).toBe(1); // the news waits for the pass at start to end (500 ms), then for the 2 s gap
    await advance(100);
    expect(passes()).toBe(2);
    await advance(10_000);
    expect(passes()).toBe(2); // nothing more was told
    news()?.ended('soon');
    await advance(2000);
    expect(passes()).toBe(3); // news while idle: 200 ms, or the gap after the last pass's end, whichever is later
    news()?.ended('late');
    await recovery.stop();
    await advance(10_000);
    expect(passes()).toBe(3);
  });

  it("makes no pass for the end of a workload its session's stop or failed start removed, one for any other end", async () => {
    const { recovery, passes, news } = recoveryWatching(100, { over: 'stopped', failed: 'failed', stopping: 'stopping', starting: 'starting', crashed: 'ready' }, ['stopping', 'starting']);
    recovery.start();
    await advance(3000);
    expect(passes()).toBe(1); // the pass at start
    // Over already, or being ended under its lease (by a stop, by a start that failed): theirs to finish.
    for (const sid of ['over', 'failed', 'stopping', 'starting']) news()?.ended(sid);
    await advance(3000);
    expect(passes()).toBe(1);
    // A ready session's workload that died, and one with no record: news.
    news()?.ended('crashed');
    await advance(3000);
    expect(passes()).toBe(2);
    news()?.ended('unknown');
    await advance(3000);
    expect(passes()).toBe(3);
    await recovery.stop();
  });
});
