// Recovery, as built, against the real session-manager, gateway, Podman, Redis and database: no user loses a
// session when the session-manager dies, even with its database records and routes gone.
import { closeRedis, createRedis, keys, RedisRouteTable } from '@visp/bus';
import { LABEL } from '@visp/contracts';
import { encodeSessionLabels, discoverPodman, PodmanClient } from '@visp/podman-client';
import { openStore, type Store } from '@visp/store';
import { execute, openKernel, testPodmanHost, waitFor } from '@visp/testing';
import type WebSocket from 'ws';
import { useGatewayStack, type Auth } from './gateway-stack';
import { launch, untilReady, type Launched } from './launch';
import { crashSession } from './session-crash';

const stack = useGatewayStack({ sessionManager: 18420, gateway: 18480 }, 'recovery', { RECOVERY_URL: 'http://127.0.0.1:18430', ADMIN_USERS: 'root' });
const redis = createRedis(stack.redisUrl(), { name: 'e2e-recovery' });
const { url: GW, origin: ORIGIN, api, signIn, launchSession } = stack;
const routes = new RedisRouteTable(redis);
const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
let store: Store;
const recoveries: Launched[] = [];

beforeAll(async () => {
  store = await openStore(stack.env().MONGO_URI ?? '');
});
afterAll(async () => {
  for (const r of recoveries) r.child.kill('SIGTERM');
  await Promise.all(recoveries.map((r) => r.exited));
  await store.close();
  await closeRedis(redis);
});

function startRecovery(port: number, env: Record<string, string> = {}): Launched {
  const run = launch('recovery', { ...stack.env(), PORT: String(port), RECOVERY_INTERVAL: '1', LOG_LEVEL: 'info', ...env });
  recoveries.push(run);
  return run;
}

async function stopRecovery(run: Launched): Promise<void> {
  run.child.kill('SIGTERM');
  await run.exited;
}

/** The audit lines a recovery process wrote. */
const audit = (run: Launched) =>
  run
    .output()
    .split('\n')
    .filter((line) => line.includes('"audit":true'))
    .map((line) => JSON.parse(line) as { kind: string; sid?: string; result: string; actor: string; detail?: string });

async function killSessionManager(): Promise<void> {
  const manager = stack.sessionManager();
  manager.child.kill('SIGKILL');
  await manager.exited;
}

async function kernelSocket(auth: Auth, sid: string, kernel: string): Promise<WebSocket> {
  return openKernel(`${GW.replace('http', 'ws')}/s/${sid}/api/kernels/${kernel}/channels`, { ...auth, ...ORIGIN });
}

it('brings back every session after a kill -9 with records and routes wiped: same URL and token, the kernel keeps its state, nothing restarted', async () => {
  const ann = await signIn('ann');
  const ben = await signIn('ben');
  const cy = await signIn('cy');
  const [{ session: jupyter }, { session: echoBen }, { session: echoCy }] = await Promise.all([launchSession(ann, 'jupyter'), launchSession(ben, 'echo'), launchSession(cy, 'echo')]);
  const sids = [jupyter.sid, echoBen.sid, echoCy.sid];

  const kernelRes = await fetch(`${GW}/s/${jupyter.sid}/api/kernels`, { method: 'POST', headers: { ...ann, ...ORIGIN, 'content-type': 'application/json' }, body: '{"name":"python3"}' });
  const { id: kernel } = (await kernelRes.json()) as { id: string };
  const before = await kernelSocket(ann, jupyter.sid, kernel);
  expect(await execute(before, 'answer = 41\nanswer')).toBe('41');
  before.close();

  const routesBefore = new Map(await Promise.all(sids.map(async (sid) => [sid, await routes.get(sid)] as const)));
  const containersBefore = await podman.listManaged(stack.instance);
  const startedBefore = new Map(await Promise.all(containersBefore.map(async (c) => [c.id, (await podman.inspectContainer(c.id)).startedAt?.toISOString()] as const)));

  await killSessionManager();
  // The sessions collection is gone; its transition log is not (it must not replay into rebuilt records).
  await store.connection.collection('sessions').deleteMany({});
  await redis.del(keys.routes);
  expect(await store.sessions.listAnyOwner()).toEqual([]);

  const recovery = startRecovery(18430);
  for (const sid of sids) {
    const record = await waitFor(`session ${sid} adopted`, async () => ((await store.sessions.getAnyOwner(sid))?.state === 'ready' ? store.sessions.getAnyOwner(sid) : undefined), 60_000);
    expect(record).toMatchObject({ sid, state: 'ready', instance: stack.instance, adoptedAt: expect.any(Date) });
    const route = await routes.get(sid);
    expect({ target: route?.target, token: route?.token }).toEqual({ target: routesBefore.get(sid)?.target, token: routesBefore.get(sid)?.token });
  }
  expect((await store.sessions.getAnyOwner(jupyter.sid))?.owner).toBe('ann');

  // Through the gateway, with the session-manager still dead: the same kernel, with what it knew.
  const after = await kernelSocket(ann, jupyter.sid, kernel);
  expect(await execute(after, 'answer + 1')).toBe('42');
  after.close();
  expect((await fetch(`${GW}/s/${echoBen.sid}/cgi-bin/env`, { headers: ben })).status).toBe(200);
  expect((await fetch(`${GW}/s/${echoCy.sid}/cgi-bin/env`, { headers: ben })).status).toBe(404);

  // Nothing was restarted: the same containers, started when they were.
  const containersAfter = await podman.listManaged(stack.instance);
  expect(containersAfter.map((c) => c.id).sort()).toEqual(containersBefore.map((c) => c.id).sort());
  for (const c of containersAfter) expect((await podman.inspectContainer(c.id)).startedAt?.toISOString()).toBe(startedBefore.get(c.id));

  const adopted = audit(recovery).filter((a) => a.kind === 'adopt' && a.result === 'done');
  expect(adopted.map((a) => a.sid).sort()).toEqual([...sids].sort());
  const metrics = await (await fetch('http://127.0.0.1:18430/metrics')).text();
  expect(metrics).toMatch(/visp_recovery_actions_total\{action="adopt",result="done",service="recovery"\} 3/);

  // The session-manager comes back to the adopted sessions and can stop them.
  await stopRecovery(recovery);
  await stack.startSessionManager();
  expect(await (await api('/api/v1/sessions', cy)).json()).toMatchObject({ sessions: [{ sid: echoCy.sid, state: 'ready' }] });
  for (const [auth, sid] of [[ann, jupyter.sid], [ben, echoBen.sid], [cy, echoCy.sid]] as const) {
    expect(await (await api(`/api/v1/sessions/${sid}`, auth, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
  }
}, 240_000);

it("ends a session whose container dies at once, from Podman's events, not at the next pass an hour later", async () => {
  const gus = await signIn('gus');
  const { session } = await launchSession(gus, 'echo');
  const recovery = startRecovery(18434, { RECOVERY_INTERVAL: '3600' });
  // Stopped whatever happens: a leader left running would keep the next tests' recoveries from acting.
  try {
    await untilReady(recovery, 18434, 20_000);
    const over = await crashSession(podman, store, stack.instance, session.sid);
    expect(over.reason).toBe('its container exited');
    expect(await routes.get(session.sid)).toBeUndefined();
    expect(await podman.listManaged(stack.instance, { [LABEL.sessionId]: session.sid })).toEqual([]);
  } finally {
    await stopRecovery(recovery);
  }
}, 60_000);

it('leaves either a ready session or no container at all when the session-manager dies in the middle of a start', async () => {
  const dana = await signIn('dana');
  const res = await api('/api/v1/sessions', dana, { method: 'POST', body: { type: 'slowecho' } });
  const { sid } = (await res.json()) as { sid: string };
  await waitFor('the container', async () => (await podman.listManaged(stack.instance, { [LABEL.sessionId]: sid })).length > 0, 30_000);
  await killSessionManager();
  expect((await store.sessions.getAnyOwner(sid))?.state).toBe('starting');

  // The dead session-manager's lease on the session runs out (30 s); then recovery decides.
  const recovery = startRecovery(18431);
  const settled = await waitFor('the start resolved', async () => {
    const record = await store.sessions.getAnyOwner(sid);
    return record && record.state !== 'starting' ? record : undefined;
  }, 90_000);
  const containers = await podman.listManaged(stack.instance, { [LABEL.sessionId]: sid });
  if (settled.state === 'ready') {
    expect(containers.map((c) => c.state)).toEqual(['running']);
    expect(await routes.get(sid)).toBeDefined();
  } else {
    expect({ state: settled.state, containers }).toEqual({ state: expect.stringMatching(/stopped|failed/), containers: [] });
  }
  expect(audit(recovery).filter((a) => a.sid === sid && a.result === 'skipped').every((a) => /busy|does not answer/.test(a.detail ?? ''))).toBe(true);
  await stopRecovery(recovery);
  await stack.startSessionManager();
}, 180_000);

it('acts once however many recovery processes run, and reports malformed and foreign containers without touching them', async () => {
  const eve = await signIn('eve');
  const { session } = await launchSession(eve, 'echo');
  await killSessionManager();
  await store.connection.collection<{ _id: string }>('sessions').deleteMany({ _id: session.sid });
  await redis.hdel(keys.routes, session.sid);

  // Hand-made containers claiming to be managed: broken labels, and another instance's.
  const labels = encodeSessionLabels({ instance: stack.instance, id: 'handmadeaaaa', type: 'echo', owner: 'eve', created: new Date().toISOString() });
  const strays = [
    { name: `stray-noowner-${stack.instance}`, labels: { ...labels, [LABEL.owner]: '' } },
    { name: `stray-schema-${stack.instance}`, labels: { ...labels, [LABEL.schema]: '7' } },
    { name: `stray-foreign-${stack.instance}`, labels: { ...labels, [LABEL.instance]: `${stack.instance}-other`, [LABEL.sessionId]: 'handmadebbbb' } },
  ];
  const strayIds: string[] = [];
  try {
    for (const stray of strays) {
      const created = await podman.docker.createContainer({ name: stray.name, Image: 'localhost/visp-testbox:1', Cmd: ['sleep', '600'], Labels: stray.labels });
      strayIds.push(created.id);
    }

    const [first, second] = [startRecovery(18432), startRecovery(18433)];
    await waitFor('the session adopted', async () => (await store.sessions.getAnyOwner(session.sid))?.state === 'ready', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // a few more passes of both
    const acted = [...audit(first), ...audit(second)].filter((a) => a.result === 'done');
    expect(acted.filter((a) => a.sid === session.sid).map((a) => a.kind)).toEqual(['adopt']);
    const actors = new Set(acted.map((a) => a.actor.split('#')[0]));
    expect(actors.size).toBe(1);

    const reports = [...audit(first), ...audit(second)].filter((a) => a.kind === 'report');
    expect(reports.map((r) => r.detail)).toEqual(expect.arrayContaining([`${LABEL.owner}: Too small: expected string to have >=1 characters`, 'unsupported label schema "7"', `belongs to instance ${stack.instance}-other`]));
    for (const id of strayIds) expect((await podman.inspectContainer(id)).state).toBe('created');
    for (const run of [first, second]) expect(run.child.exitCode).toBeNull();
    await Promise.all([stopRecovery(first), stopRecovery(second)]);
  } finally {
    for (const id of strayIds) await podman.removeContainer(id, { force: true });
  }
  await stack.startSessionManager();
  expect((await api(`/api/v1/sessions/${session.sid}`, eve, { method: 'DELETE' })).status).toBe(200);
}, 180_000);

it('plans without acting on a dry run, asked for by an administrator through the gateway', async () => {
  const fay = await signIn('fay');
  const root = await signIn('root');
  const { session } = await launchSession(fay, 'echo');
  await killSessionManager();
  await redis.hdel(keys.routes, session.sid);

  // From the command line: the plan, and nothing changed.
  const cli = launch('recovery', { ...stack.env(), LOG_LEVEL: 'warn' }, ['--dry-run']);
  expect(await cli.exited).toBe(0);
  expect(cli.output()).toContain(JSON.stringify({ kind: 'republish-route', sid: session.sid, result: 'planned' }));
  expect(cli.output()).toMatch(/\d+ planned actions \(dry run: nothing was changed\)/);
  expect(await routes.get(session.sid)).toBeUndefined();

  const recovery = startRecovery(18430, { RECOVERY_DRY_RUN: 'true' });
  await untilReady(recovery, 18430, 20_000);
  expect((await api('/api/v1/admin/reconcile?dryRun=true', fay, { method: 'POST' })).status).toBe(403);
  expect((await api('/api/v1/admin/reconcile?dryRun=maybe', root, { method: 'POST' })).status).toBe(400);
  const res = await api('/api/v1/admin/reconcile?dryRun=true', root, { method: 'POST' });
  expect(res.status).toBe(200);
  const report = (await res.json()) as { dryRun: boolean; outcomes: Array<{ kind: string; sid?: string; result: string }> };
  expect(report.dryRun).toBe(true);
  expect(report.outcomes).toContainEqual({ kind: 'republish-route', sid: session.sid, result: 'planned' });
  expect(await routes.get(session.sid)).toBeUndefined();
  expect(audit(recovery).filter((a) => a.result === 'done')).toEqual([]);

  await stopRecovery(recovery);
  await stack.startSessionManager();
  expect((await api(`/api/v1/sessions/${session.sid}`, fay, { method: 'DELETE' })).status).toBe(200);
}, 120_000);
