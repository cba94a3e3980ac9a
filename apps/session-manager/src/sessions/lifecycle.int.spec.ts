import WebSocket from 'ws';
import { EventBus } from '@visp/bus';
import { LABEL, type SessionView } from '@visp/contracts';
import { execute, openKernel, startKernel } from '@visp/testing';
import { requestSession, startHarness, waitForState, type Harness } from '../testing/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function launch(owner: string, type: string): Promise<SessionView> {
  const view = await requestSession(h, owner, type);
  expect(view).toMatchObject({ owner, type, state: 'starting', path: `/s/${view.sid}/` });
  await waitForState(h, view.sid, 'ready');
  return view;
}

describe('a Jupyter session', () => {
  let session: SessionView;
  let route: { target: string; token: string; stripPrefix: boolean };

  beforeAll(async () => {
    session = await launch('alice@uni.se', 'jupyter');
    route = (await h.routes.get(session.sid))!;
  }, 180_000);

  it('publishes a route with its token, served under its base URL', async () => {
    expect(route).toMatchObject({ sid: session.sid, owner: 'alice@uni.se', stripPrefix: false });
    expect(route.target).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const base = `${route.target}/s/${session.sid}/`;
    expect((await fetch(`${base}api/status`, { headers: { authorization: `token ${route.token}` } })).status).toBe(200);
    expect((await fetch(`${base}api/status`)).status).toBe(403);
    expect((await fetch(`${base}api/status`, { headers: { authorization: 'token wrong' } })).status).toBe(403);
  });

  it('runs code on a kernel over its WebSocket', async () => {
    const base = `${route.target}/s/${session.sid}/`;
    const kernel = await startKernel(base, route.token);
    const ws = await openKernel(`${base.replace('http', 'ws')}api/kernels/${kernel}/channels`, { authorization: `token ${route.token}` });
    try {
      expect(await execute(ws, '6*7')).toBe('42');
    } finally {
      ws.close();
    }
  });

  it('runs as a labelled, limited, non-root container without capabilities', async () => {
    const [name] = await h.containersOf(session.sid);
    const details = await h.podman.inspectContainer(name!);
    expect(details.labels).toMatchObject({
      [LABEL.managed]: 'true',
      [LABEL.instance]: h.instance,
      [LABEL.schema]: '1',
      [LABEL.sessionId]: session.sid,
      [LABEL.sessionType]: 'jupyter',
      [LABEL.owner]: 'alice@uni.se',
      [LABEL.created]: expect.any(String),
    });
    expect(details.user).toBe('1000:1000');
    expect(details.hostConfig).toMatchObject({ Memory: 2048 * 2 ** 20, NanoCpus: 1e9, PidsLimit: 512 });
    expect(details.hostConfig.SecurityOpt).toContain('no-new-privileges');
    const status = await h.podman.exec(details.id, ['grep', '-E', '^(CapEff|Uid)', '/proc/self/status']);
    expect(status.stdout).toMatch(/CapEff:\s+0{16}/);
    expect(status.stdout).toMatch(/Uid:\s+1000\s/);
    expect(details.env.JUPYTER_TOKEN).toBe(route.token);
  });

  it('stops: container and route gone, home volume kept for the next session', async () => {
    const [name] = await h.containersOf(session.sid);
    expect((await h.podman.exec(name!, ['sh', '-c', 'echo from-the-first-session > /home/visp/kept.txt'])).exitCode).toBe(0);

    const res = await h.api('DELETE', `/api/v1/sessions/${session.sid}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as SessionView).state).toBe('stopped');
    expect(await h.containersOf(session.sid)).toEqual([]);
    expect(await h.routes.get(session.sid)).toBeUndefined();

    const next = await launch('alice@uni.se', 'jupyter');
    const [nextName] = await h.containersOf(next.sid);
    expect((await h.podman.exec(nextName!, ['cat', '/home/visp/kept.txt'])).stdout).toBe('from-the-first-session\n');
    await h.api('DELETE', `/api/v1/sessions/${next.sid}`);
  }, 180_000);
});

describe('an rstudio session (the offline R stand-in)', () => {
  it('serves HTTP and WebSocket at its root, so the gateway must strip the prefix', async () => {
    const session = await launch('bob', 'rstudio');
    const route = (await h.routes.get(session.sid))!;
    expect(route.stripPrefix).toBe(true);

    // Its published port is the session guard's: the app answers only with the session's credential.
    const credential = { authorization: `token ${route.token}` };
    expect((await fetch(`${route.target}/`)).status).toBe(403);
    const page = await (await fetch(`${route.target}/`, { headers: credential })).text();
    expect(page).toContain('VISP R session');

    const ws = new WebSocket(`${route.target.replace('http', 'ws')}/websocket/`, { headers: credential });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    ws.close();
    expect(first).toContain('config');

    await h.api('DELETE', `/api/v1/sessions/${session.sid}`);
    expect(await h.containersOf(session.sid)).toEqual([]);
  }, 180_000);
});

// A session stored `starting` (room at once) is announced before its start is registered: a stop in between (the
// owner reacting to the announcement, the access watch) finds no start to cut short, and the start must then make
// nothing.
it('makes nothing for a session stopped between being stored and its start', async () => {
  const announce = EventBus.prototype.announce;
  let stoppedEarly: Promise<SessionView> | undefined;
  const spy = jest.spyOn(EventBus.prototype, 'announce').mockImplementation(async function (this: EventBus, event) {
    await announce.call(this, event);
    if (event.type === 'session.state' && event.owner === 'early-stop' && event.state === 'starting' && !stoppedEarly) {
      stoppedEarly = h.manager.sessions.stop(event.sid, { reason: 'stopped at once' });
      await stoppedEarly;
    }
  });
  try {
    const view = await requestSession(h, 'early-stop', 'box');
    expect(view.state).toBe('starting');
    expect((await stoppedEarly)?.state).toBe('stopped');
    await h.manager.sessions.settled();
    expect({ state: (await h.manager.sessions.get(view.sid)).state, containers: await h.containersOf(view.sid), holding: h.manager.sessions.capacity().holding }).toEqual({
      state: 'stopped',
      containers: [],
      holding: 0,
    });
  } finally {
    spy.mockRestore();
  }
});
