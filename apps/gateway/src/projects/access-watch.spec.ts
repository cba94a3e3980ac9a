// Who may keep a live session, rechecked: each verdict on its own, with the session-manager, the directory and
// Redis's SET NX as stand-ins. The whole path, against VISP's real database edited behind the gateway's back, is
// the "VISP's database says" case of e2e/src/visp.int.spec.ts.
import type { Redis } from '@visp/bus';
import type { Owner, SessionView } from '@visp/contracts';
import { AppError } from '@visp/service-kit';
import { memoryLogger } from '@visp/testing';
import { AccessWatch } from './access-watch';

const session = (sid: string, owner: Owner, project?: string) => ({ sid, owner, project, state: 'ready' }) as SessionView;

/** SET NX with a TTL that never runs out within a test: the first claim of a key wins. */
function redisStandIn(): Redis {
  const held = new Set<string>();
  return { set: async (key: string) => (held.has(key) ? null : (held.add(key), 'OK')) } as unknown as Redis;
}

function watch(options: { sessions: SessionView[]; offList?: Owner[]; working?: (owner: Owner, project: string) => void; unreadable?: Owner[]; redis?: Redis; stopFails?: string[]; periodMs?: number }) {
  const stopped: string[] = [];
  const { logger, lines } = memoryLogger();
  const watcher = new AccessWatch(
    {
      manager: {
        list: async ({ state }) => options.sessions.filter((s) => s.state === state),
        stop: async (sid, owner, reason) => {
          if (options.stopFails?.includes(sid)) throw new AppError('unavailable', 'the session is being recovered');
          // As the session-manager answers: a prepared session is not its owner's to stop.
          if (owner !== undefined && options.sessions.find((s) => s.sid === sid)?.warm) throw new AppError('not_found', `session ${sid}`);
          if (reason !== 'access-revoked') throw new Error(`stopped for ${String(reason)}`);
          stopped.push(sid);
          return { ...(options.sessions.find((s) => s.sid === sid) as SessionView), state: 'stopping' };
        },
      },
      access: {
        workingProject: async (owner, project) => {
          options.working?.(owner, project);
          return { id: project } as never;
        },
      },
      accessList: {
        revokes: async (owner) => {
          if (options.unreadable?.includes(owner)) throw new Error('connection refused');
          return options.offList?.includes(owner) ?? false;
        },
      },
      redis: options.redis ?? redisStandIn(),
      logger,
    },
    options.periodMs ?? 30_000,
  );
  return { watcher, stopped, lines };
}

it('stops the sessions of owners off the access list, or no longer working in their project, or whose project is gone', async () => {
  const { watcher, stopped } = watch({
    sessions: [session('keeps', 'ann', 'p1'), session('offlist', 'bob'), session('lowered', 'cai', 'p1'), session('gone', 'dee', 'p9'), session('noproject', 'eve')],
    offList: ['bob'],
    working: (owner, project) => {
      if (owner === 'cai') throw new AppError('forbidden', 'only members of project p1 with the role admin or analyzer may work in it');
      if (project === 'p9') throw new AppError('not_found', 'there is no project p9');
    },
  });
  expect((await watcher.sweep()).map((s) => s.sid)).toEqual(['offlist', 'lowered', 'gone']);
  expect(stopped).toEqual(['offlist', 'lowered', 'gone']);
});

it('leaves a session running when the directory cannot be read, and says so', async () => {
  const { watcher, stopped, lines } = watch({
    sessions: [session('a', 'ann', 'p1'), session('b', 'bob', 'p1'), session('c', 'cy', 'p1')],
    unreadable: ['ann'],
    working: (owner) => {
      if (owner === 'bob') throw new Error('server selection timed out');
      // A record the directory cannot make sense of (ProjectAccess: a conflict) is no verdict either.
      if (owner === 'cy') throw new AppError('conflict', "VISP's database has two records for one sign-in name: ask the site's administrators to mend it");
    },
  });
  expect(await watcher.sweep()).toEqual([]);
  expect(stopped).toEqual([]);
  expect(lines.filter((l) => l.msg === 'could not read whether a session’s owner may keep it; left running').map((l) => l.sid)).toEqual(['a', 'b', 'c']);
});

it('looks once per period, whichever gateway process asks first', async () => {
  const redis = redisStandIn();
  const [first, second] = [watch({ sessions: [session('offlist', 'bob')], offList: ['bob'], redis }), watch({ sessions: [session('offlist', 'bob')], offList: ['bob'], redis })];
  expect((await first.watcher.sweep()).map((s) => s.sid)).toEqual(['offlist']);
  expect(await second.watcher.sweep()).toEqual([]);
  expect([first.stopped, second.stopped]).toEqual([['offlist'], []]);
});

it('goes on to the other sessions when one cannot be stopped, and says so', async () => {
  const { watcher, stopped, lines } = watch({ sessions: [session('stuck', 'bob'), session('next', 'bob')], offList: ['bob'], stopFails: ['stuck'] });
  expect((await watcher.sweep()).map((s) => s.sid)).toEqual(['next']);
  expect(stopped).toEqual(['next']);
  expect(lines.filter((l) => l.msg === 'could not stop a session its owner may no longer have; next period').map((l) => l.sid)).toEqual(['stuck']);
});

it('starts no look while the last is still going', async () => {
  jest.useFakeTimers();
  try {
    const { watcher } = watch({ sessions: [], periodMs: 1000 });
    let release = () => {};
    const sweep = jest.spyOn(watcher, 'sweep').mockImplementation(() => new Promise((resolve) => (release = () => resolve([]))));
    watcher.start();
    await jest.advanceTimersByTimeAsync(3500);
    expect(sweep).toHaveBeenCalledTimes(1);
    release();
    await jest.advanceTimersByTimeAsync(1000);
    expect(sweep).toHaveBeenCalledTimes(2);
    release();
    await watcher.close();
  } finally {
    jest.useRealTimers();
  }
});

it("stops a prepared session (the warm pool) of an owner off the access list as the system: it is not yet theirs to stop", async () => {
  const { watcher, stopped } = watch({ sessions: [{ ...session('prepared', 'bob'), warm: true }, session('launched', 'bob')], offList: ['bob'] });
  expect((await watcher.sweep()).map((s) => s.sid).sort()).toEqual(['launched', 'prepared']);
  expect(stopped.sort()).toEqual(['launched', 'prepared']);
});
