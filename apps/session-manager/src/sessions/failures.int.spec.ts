import type { SessionView } from '@visp/contracts';
import { PodmanClient } from '@visp/podman-client';
import { getSession, requestSession, startHarness, waitForState, type Harness } from '../testing/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SESSION_START_TIMEOUT: 5, MAX_SESSIONS_PER_USER: 2 });
});
afterAll(async () => {
  await h.close();
});

/**
 * Stops a session once its start is over. A stop during a start waits for it only so long (then 503), which a
 * loaded machine can exceed: unchecked, that left a running container behind now and then.
 */
async function stopWhenReady(sid: string): Promise<void> {
  await waitForState(h, sid, 'ready', 60_000);
  expect((await h.api('DELETE', `/api/v1/sessions/${sid}`)).status).toBe(200);
}

async function sessionCount(): Promise<number> {
  return (await h.store.sessions.listAnyOwner({ instance: h.instance })).length;
}

describe('a session that cannot start ends failed, with a reason, leaving nothing behind', () => {
  const cases: Array<[string, RegExp]> = [
    ['missing', /^image localhost\/visp-no-such-image:1 is not available on this host$/],
    ['dies', /^the container exited with code 3 before it was ready; last log lines:\ncannot open \/data: no such file$/],
    ['never', /^the app did not answer within 5 s/],
  ];
  it.each(cases)('%s', async (type, reason) => {
    const session = await requestSession(h, `user-${type}`, type);
    const failed = await waitForState(h, session.sid, 'failed', 30_000);
    expect(failed.reason).toMatch(reason);
    expect(await h.containersOf(session.sid)).toEqual([]);
    expect(await h.routes.get(session.sid)).toBeUndefined();
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  it('when the Podman socket is down', async () => {
    const down = await startHarness({}, { podman: new PodmanClient({ socketPath: '/nonexistent/podman.sock' }) });
    try {
      const res = await down.api('POST', '/api/v1/sessions', { owner: 'carol', type: 'box' });
      const session = (await res.json()) as SessionView;
      const failed = await waitForState(down, session.sid, 'failed', 15_000);
      expect(failed.reason).toMatch(/Podman API unavailable/);
      expect(await down.routes.get(session.sid)).toBeUndefined();
      expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${down.url}/readyz`)).status).toBe(503);
    } finally {
      await down.close();
    }
  });
});

// The database can take a write and die before it answers (a restart, a cut connection): the start saw an error
// and, believing itself failed, removed the container of a session the record called ready. Recovery then found a
// ready session with nothing behind it and called it lost (the chaos test, once in a few runs).
it('a start whose ready write landed but whose answer was lost keeps its session: ready, running, routed', async () => {
  const repository = h.store.sessions;
  const transition = repository.transition.bind(repository);
  let cut = 0;
  const spy = jest.spyOn(repository, 'transition').mockImplementation(async (sid, from, to, options) => {
    const stored = await transition(sid, from, to, options);
    if (to !== 'ready' || cut++ > 0) return stored;
    throw new Error('connection 3 to 127.0.0.1:27017 closed');
  });
  try {
    const session = await requestSession(h, 'hank', 'box');
    await waitForState(h, session.sid, 'ready', 60_000);
    await h.manager.sessions.settled();
    expect({ cut, state: (await getSession(h, session.sid)).state, containers: (await h.containersOf(session.sid)).length, routed: (await h.routes.get(session.sid))?.sid }).toEqual({
      cut: 1,
      state: 'ready',
      containers: 1,
      routed: session.sid,
    });
    await stopWhenReady(session.sid);
  } finally {
    spy.mockRestore();
  }
});

describe('bad input gets a 4xx with a clear message and creates nothing', () => {
  const json = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: { code: string; message: string } }).error });

  it('rejects each bad create request', async () => {
    const before = await sessionCount();
    const containersBefore = (await h.podman.listManaged(h.instance)).length;
    const cases: Array<[unknown, Record<string, string> | undefined, number, string, RegExp]> = [
      [{ owner: 'alice', type: 'nosuch' }, undefined, 400, 'validation_failed', /unknown session type "nosuch" \(known: jupyter, rstudio, vscode, box, never, gated, dies, missing\)/],
      [{ owner: 'alice', type: 'box', limits: { memoryMiB: 100_000 } }, undefined, 400, 'validation_failed', /body\.limits: above the maximum for box \(memoryMiB 256/],
      [{ owner: 'alice', type: 'box', limits: { memoryMiB: 1 } }, undefined, 400, 'validation_failed', /^body\.limits\.memoryMiB: /],
      [{ owner: '../etc', type: 'box' }, undefined, 400, 'validation_failed', /^body\.owner: /],
      [{ owner: 'alice', type: 'box', privileged: true }, undefined, 400, 'validation_failed', /privileged/],
      ['{"owner":', undefined, 400, 'invalid_json', /not valid JSON/],
      [JSON.stringify({ owner: 'alice', type: 'box', project: 'p'.repeat(200_000) }), undefined, 413, 'payload_too_large', /too large/],
      ['owner=alice&type=box', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type', /application\/json/],
    ];
    for (const [body, headers, status, code, message] of cases) {
      const res = await h.api('POST', '/api/v1/sessions', body, headers);
      const error = await json(res);
      expect([error.status, error.code]).toEqual([status, code]);
      expect(error.message).toMatch(message);
    }
    expect(await sessionCount()).toBe(before);
    expect((await h.podman.listManaged(h.instance)).length).toBe(containersBefore);
  });

  it('requires the service token', async () => {
    for (const headers of [{ 'x-service-token': '' }, { 'x-service-token': 'wrong-token-wrong-token-wrong' }]) {
      const res = await h.api('POST', '/api/v1/sessions', { owner: 'alice', type: 'box' }, headers);
      expect(res.status).toBe(401);
    }
  });

  it('answers 404 for unknown, malformed and foreign session ids', async () => {
    for (const path of ['/api/v1/sessions/aaaaaaaaaaaa', '/api/v1/sessions/NOT-A-SID', '/api/v1/sessions/..%2F..%2Fetc']) {
      expect((await json(await h.api('GET', path))).code).toBe('not_found');
      expect((await h.api('DELETE', path)).status).toBe(404);
    }
    const session = await requestSession(h, 'dave', 'box');
    expect((await h.api('GET', `/api/v1/sessions/${session.sid}?owner=mallory`)).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/sessions/${session.sid}?owner=mallory`)).status).toBe(404);
    expect((await h.api('GET', `/api/v1/sessions/${session.sid}?owner=dave`)).status).toBe(200);
    await stopWhenReady(session.sid);
  });

  it('holds each user to their session limit', async () => {
    const first = await requestSession(h, 'erin', 'box');
    const second = await requestSession(h, 'erin', 'box');
    const third = await json(await h.api('POST', '/api/v1/sessions', { owner: 'erin', type: 'box' }));
    expect(third).toMatchObject({ status: 409, code: 'conflict', message: 'erin already has 2 active session(s), the most allowed; stop one first' });
    await Promise.all([first, second].map((s) => stopWhenReady(s.sid)));
    const fourth = await requestSession(h, 'erin', 'box');
    await stopWhenReady(fourth.sid);
  });

  // `types[name]` found what every object inherits: "constructor" (a valid type name) named a function and the
  // request crashed (500). The other inherited names are not lowercase, so the schema refuses them first.
  it('refuses a session type named after what every object inherits as unknown (400)', async () => {
    const answer = await h.api('POST', '/api/v1/sessions', { owner: 'gus', type: 'constructor' });
    expect({ status: answer.status, body: await answer.json() }).toMatchObject({ status: 400, body: { error: { code: 'validation_failed', message: expect.stringContaining('unknown session type "constructor"') } } });
    expect(await h.store.sessions.list('gus')).toEqual([]);
  });

  // A count-then-insert lets every request that counts before the first insert through: 20 at once gave 20.
  it('holds the limit when 20 launches by one user arrive at once: exactly 2 are accepted', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => h.api('POST', '/api/v1/sessions', { owner: 'fiona', type: 'box' })));
    const statuses = answers.map((r) => r.status).sort();
    const accepted = (await Promise.all(answers.filter((r) => r.status === 202).map((r) => r.json()))) as SessionView[];
    const stored = await h.store.sessions.list('fiona');
    // Stop whatever was accepted before asserting, so that a failure here leaves no container behind.
    await Promise.all(accepted.map((s) => stopWhenReady(s.sid)));
    expect(statuses).toEqual([...Array<number>(2).fill(202), ...Array<number>(18).fill(409)]);
    expect(stored.map((s) => s.sid).sort()).toEqual(accepted.map((s) => s.sid).sort());
  });
});
