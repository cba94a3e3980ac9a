// Chaos, with real processes, Podman, Redis and a database: five users launch 20 sessions and send 10 recordings
// while, one after another, the session-manager, recovery, the whisper-worker and the gateway are killed with -9
// (and started again, as systemd would) and Redis and the database restart. Afterwards every launch has ended in a
// working session or a failure that says why, nothing runs without a record or is recorded without running, no
// route points at nothing, and every transcription completed exactly once.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { BULL_PREFIX, closeRedis, createRedis, QUEUES, RedisRouteTable } from '@visp/bus';
import { FINISHED_TRANSCRIPTION_STATES, ReconcileReportSchema, type SessionView, type TranscriptionView } from '@visp/contracts';
import { decodeSessionLabels, discoverPodman, PodmanClient } from '@visp/podman-client';
import { openStore } from '@visp/store';
import { librivoxClips, startOwnDatabase, startOwnRedis, testPodmanHost, waitFor, type OwnDatabase, type OwnRedis } from '@visp/testing';
import { useGatewayStack, type Auth } from './gateway-stack';
import { launch, TEST_SECRETS, untilReady, type Launched } from './launch';

let redis: OwnRedis | undefined;
let database: OwnDatabase | undefined;
beforeAll(async () => {
  [redis, database] = await Promise.all([startOwnRedis(), startOwnDatabase()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), database?.stop()]);
});

const PORTS = { sessionManager: 19320, gateway: 19380, recovery: 19330, worker: 19340 };
const GATEWAY_ENV = { LOGIN_RATE_LIMIT: '1000' };
const stack = useGatewayStack(PORTS, 'chaos', GATEWAY_ENV, {
  redisUrl: () => redis!.url,
  mongoUri: () => database!.uri('visp'),
  sessionManagerEnv: { MAX_SESSIONS_PER_USER: '4', MAX_SESSIONS_TOTAL: '20' },
});
const USERS = ['ada', 'bea', 'cal', 'dev', 'eli'];
const clips = librivoxClips();

const ARTIFACTS = path.resolve(__dirname, '../../.visp/artifacts/chaos');

/** Every process's log, in the order they were started, for the reader of a failed run. */
function saveLogs(processes: Array<{ name: string; run: Launched }>): void {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const [i, { name, run }] of processes.entries()) writeFileSync(path.join(ARTIFACTS, `${i}-${name}.log`), run.output());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kills with -9 and waits until it is gone. */
async function kill(run: Launched): Promise<void> {
  run.child.kill('SIGKILL');
  await run.exited;
}

async function startRecovery(): Promise<Launched> {
  const run = launch('recovery', { ...stack.env(), PORT: String(PORTS.recovery), RECOVERY_INTERVAL: '1', LOG_LEVEL: 'info' });
  await untilReady(run, PORTS.recovery, 20_000);
  return run;
}

// A killed worker's job is taken again after its lock lapses: 10 s rather than the default 30 s keeps the test
// short, and stays well above Redis's second of downtime, through which a live worker's lock must hold.
const startWorker = () => stack.startWorker(PORTS.worker, { TRANSCRIPTION_LOCK_MS: '10000', LOG_LEVEL: 'info' });

/** A refusal as the user sees it: the status and the error's message. */
interface Refusal {
  status: number;
  message: string;
}

async function refusalOf(res: Response): Promise<Refusal> {
  const body = (await res.json()) as { error?: { message?: string } };
  return { status: res.status, message: body.error?.message ?? '' };
}

it('a burst of 20 launches and 10 transcriptions from 5 users, every service killed with -9 and Redis and the database restarted in turn: nothing stuck, orphaned, lost or done twice', async () => {
  let gateway = stack.gateway();
  let recovery = await startRecovery();
  let worker = await startWorker();
  const processes = [
    { name: 'session-manager', run: stack.sessionManager() },
    { name: 'gateway', run: gateway },
    { name: 'recovery', run: recovery },
    { name: 'whisper-worker', run: worker },
  ];
  const auths = new Map<string, Auth>();
  for (const user of USERS) auths.set(user, await stack.signIn(user));

  // What a browser's user does when the gateway does not answer at all (refused, or cut off mid-request): tries
  // again. An answer, whatever its status, is final.
  let resent = 0;
  const send = async (request: () => Promise<Response>): Promise<Response> => {
    for (;;) {
      try {
        return await request();
      } catch (err) {
        // fetch's TypeError comes from Node's realm, not the test's: known by its name.
        if ((err as Error).name !== 'TypeError') throw err;
        resent++;
        await sleep(250);
      }
    }
  };

  const accepted: Array<{ owner: string; sid: string }> = [];
  const refused: Refusal[] = [];
  const uploadsRefused: Refusal[] = [];
  // The user then follows the start as the start page does, asking every 200 ms until it is over: requests are in
  // flight whenever a service dies.
  const follow = async (owner: string, sid: string) => {
    for (;;) {
      const res = await send(() => stack.api(`/api/v1/sessions/${sid}`, auths.get(owner)!));
      if (res.status === 200 && ['ready', 'failed', 'stopped'].includes(((await res.json()) as SessionView).state)) return;
      await sleep(200);
    }
  };
  const launchOne = async (owner: string, type: string) => {
    const res = await send(() => stack.api('/api/v1/sessions', auths.get(owner)!, { method: 'POST', body: { type } }));
    if (res.status !== 202) return void refused.push(await refusalOf(res));
    const { sid } = (await res.json()) as SessionView;
    accepted.push({ owner, sid });
    await follow(owner, sid);
  };
  const jobs: Array<{ owner: string; id: string }> = [];
  const uploadOne = async (owner: string, file: string) => {
    const res = await send(() => {
      const form = new FormData();
      form.set('file', new Blob([readFileSync(file)]), path.basename(file));
      return fetch(`${stack.url}/api/v1/transcriptions`, { method: 'POST', headers: { ...stack.origin, ...auths.get(owner)! }, body: form });
    });
    if (res.status === 202) jobs.push({ owner, id: ((await res.json()) as TranscriptionView).id });
    else uploadsRefused.push(await refusalOf(res));
  };

  // Each fault lands while the work sent just before it is in flight: starts waiting for their apps (slowecho
  // answers after 3 s), uploads queued and a job on the engine.
  const faults: Array<[string, () => Promise<void>]> = [
    ['session-manager', async () => (await kill(stack.sessionManager()), await stack.startSessionManager(), void processes.push({ name: 'session-manager', run: stack.sessionManager() }))],
    ['recovery', async () => (await kill(recovery), (recovery = await startRecovery()), void processes.push({ name: 'recovery', run: recovery }))],
    ['whisper-worker', async () => (await kill(worker), (worker = await startWorker()), void processes.push({ name: 'whisper-worker', run: worker }))],
    ['gateway', async () => (await kill(gateway), (gateway = await stack.startGateway(PORTS.gateway, GATEWAY_ENV)), void processes.push({ name: 'gateway', run: gateway }))],
    ['redis', () => redis!.restart({ downMs: 1000 })],
    ['database', () => database!.restart({ downMs: 1000 })],
  ];
  const launchesPerFault = [4, 4, 3, 3, 3, 3];
  const uploadsPerFault = [2, 2, 2, 2, 1, 1];
  const inFlight: Array<Promise<void>> = [];
  let launchNo = 0;
  let uploadNo = 0;
  for (const [i, [, fault]] of faults.entries()) {
    for (let n = 0; n < launchesPerFault[i]!; n++, launchNo++) inFlight.push(launchOne(USERS[launchNo % USERS.length]!, launchNo % 2 === 0 ? 'slowecho' : 'echo'));
    for (let n = 0; n < uploadsPerFault[i]!; n++, uploadNo++) inFlight.push(uploadOne(USERS[uploadNo % USERS.length]!, clips[uploadNo % clips.length]!.wav));
    await sleep(1000);
    await fault();
  }
  await Promise.all(inFlight);

  // Settled: no session between states (a start the session-manager was killed in is recovery's once its lease
  // lapses, 30 s), no job waiting or running.
  const store = await openStore(stack.env().MONGO_URI ?? '');
  const bus = createRedis(stack.redisUrl(), { name: 'e2e-chaos' });
  const queue = new Queue(QUEUES.transcriptions, { connection: { url: stack.redisUrl() }, prefix: BULL_PREFIX });
  try {
    const records = await waitFor('every session ready, failed or stopped', async () => {
      const all = await store.sessions.listAnyOwner({});
      return all.every((r) => ['ready', 'failed', 'stopped'].includes(r.state)) && all;
    }, 90_000, 500);
    let lastViews: TranscriptionView[] = [];
    const views = await waitFor('every transcription over', async () => {
      lastViews = await Promise.all(jobs.map(async ({ owner, id }) => (await (await stack.api(`/api/v1/transcriptions/${id}`, auths.get(owner)!)).json()) as TranscriptionView));
      return lastViews.every((v) => FINISHED_TRANSCRIPTION_STATES.includes(v.state)) && lastViews;
    }, 120_000, 500).catch((err: Error) => Promise.reject(new Error(`${err.message}: ${JSON.stringify(lastViews.map((v) => [v.id, v.state]))} (logs in ${ARTIFACTS})`)));

    // What is really there, looked at independently of recovery's own judgement.
    const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
    const containers = await podman.listManaged(stack.instance);
    const bySid = new Map<string, number>();
    for (const c of containers) {
      const labels = decodeSessionLabels(c.labels);
      const sid = labels.ok ? labels.session.id : c.name;
      bySid.set(sid, (bySid.get(sid) ?? 0) + (c.state === 'running' ? 1 : 100));
    }
    const ready = records.filter((r) => r.state === 'ready');
    const over = records.filter((r) => r.state !== 'ready');
    const routes = await new RedisRouteTable(bus).all();
    const readySids = new Set(ready.map((r) => r.sid));
    const serving = await Promise.all(
      ready.map(async (r) => (await stack.api(`/s/${r.sid}${r.type === 'echo' ? '/cgi-bin/env' : '/'}`, auths.get(r.owner)!).catch(() => undefined))?.status ?? 0),
    );
    const goneAnswers = await Promise.all(over.map(async (r) => (await stack.api(`/s/${r.sid}/`, auths.get(r.owner)!)).status));

    // Exactly once: one finished engine run per job, across every worker that ever ran (a killed worker's output
    // included), and BullMQ's own account.
    const transcribed = new Map<string, number>();
    for (const { run } of processes) {
      for (const line of run.output().split('\n')) {
        if (!line.includes('"msg":"transcribed"')) continue;
        const id = (JSON.parse(line) as { id: string }).id;
        transcribed.set(id, (transcribed.get(id) ?? 0) + 1);
      }
    }
    const completedInQueue = (await queue.getJobs(['completed'])).map((j) => j.id);

    const reasons = (list: Array<{ reason?: string; message?: string }>) =>
      list.reduce<Record<string, number>>((sum, r) => ({ ...sum, [r.reason ?? r.message ?? '']: (sum[r.reason ?? r.message ?? ''] ?? 0) + 1 }), {});
    const counts = {
      launched: accepted.length,
      ready: ready.length,
      adoptedByRecovery: ready.filter((r) => r.adoptedAt !== undefined).length,
      failedWithReason: { ...reasons(over), ...reasons(refused) },
      uploadsRefused: reasons(uploadsRefused),
      orphans: containers.filter((c) => {
        const labels = decodeSessionLabels(c.labels);
        return !labels.ok || !readySids.has(labels.session.id);
      }).length,
      // A ready session without its one running container, one recovery found gone ('lost'), one over without a
      // reason, or an accepted launch with no record.
      lost:
        ready.filter((r) => bySid.get(r.sid) !== 1).length +
        over.filter((r) => !r.reason || r.reason === 'lost').length +
        accepted.filter((a) => !records.some((r) => r.sid === a.sid)).length,
      deadRoutes: routes.filter((r) => !readySids.has(r.sid)).length + ready.filter((r) => !routes.some((route) => route.sid === r.sid)).length,
      notServing: serving.filter((status) => status !== 200).length + goneAnswers.filter((status) => status !== 404).length,
      jobs: jobs.length,
      jobsCompleted: views.filter((v) => v.state === 'completed').length,
      jobsLost: views.filter((v) => v.state !== 'completed').length + jobs.filter((j) => !completedInQueue.includes(j.id)).length,
      duplicatedJobs: [...transcribed.values()].filter((n) => n > 1).length,
      resent,
    };
    process.stdout.write(`chaos: ${JSON.stringify(counts)}\n`);
    // What the workers said about a job done twice, to find out why.
    for (const [id, n] of transcribed) {
      if (n > 1) process.stdout.write(`done ${n} times: ${id}\n${processes.flatMap(({ run }) => run.output().split('\n').filter((line) => line.includes(id))).join('\n')}\n`);
    }

    // Recovery, asked what it would do now, has nothing left to do.
    const planned = await fetch(`http://127.0.0.1:${PORTS.recovery}/admin/reconcile?dryRun=true`, { method: 'POST', headers: { 'x-service-token': TEST_SECRETS.SERVICE_TOKEN } });
    const planText = await planned.text();
    expect({ status: planned.status, body: planText }).toEqual({ status: 200, body: expect.any(String) });
    const plan = ReconcileReportSchema.parse(JSON.parse(planText));

    expect({ orphans: counts.orphans, lost: counts.lost, deadRoutes: counts.deadRoutes, notServing: counts.notServing, jobsLost: counts.jobsLost, duplicatedJobs: counts.duplicatedJobs }).toEqual({
      orphans: 0,
      lost: 0,
      deadRoutes: 0,
      notServing: 0,
      jobsLost: 0,
      duplicatedJobs: 0,
    });
    // Every launch and upload was answered: accepted, or refused with a status and a reason.
    expect(accepted.length + refused.length).toBe(20);
    expect(jobs.length + uploadsRefused.length).toBe(10);
    expect([...refused, ...uploadsRefused].filter((r) => r.status < 400 || r.message === '')).toEqual([]);
    expect(plan.outcomes).toEqual([]);
    // Every service is the one started last, still running: none died of the faults on its own.
    const current = [stack.sessionManager(), gateway, recovery, worker];
    expect(current.map((p) => p.child.exitCode ?? p.child.signalCode)).toEqual([null, null, null, null]);
  } finally {
    saveLogs(processes);
    // Recovery was launched here, not by the stack, which stops the rest.
    if (recovery.child.exitCode === null && recovery.child.signalCode === null) {
      recovery.child.kill('SIGTERM');
      await recovery.exited;
    }
    await queue.close();
    await closeRedis(bus);
    await store.close();
  }
}, 600_000);
