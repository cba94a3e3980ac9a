import type { RouteStore } from '@visp/bus';
import { createLogger } from '@visp/config';
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
 * `passMs`; `news` is what the engine's stream would tell it.
 */
function recoveryWatching(passMs: number) {
  let passes = 0;
  let handlers: FollowHandlers | undefined;
  const runtime = {
    list: async () => (passes++, await sleep(passMs), []),
    follow: async (_instance: string, on: FollowHandlers) => void (handlers = on),
  } as unknown as SessionRuntime;
  const recovery = new Recovery(
    {
      runtime,
      sessions: { listAnyOwner: async () => [], getAnyOwner: async () => undefined } as unknown as SessionRepository,
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
});
