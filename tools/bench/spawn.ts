// tools/bench/spawn: what the platform adds to starting a session, against bare Podman doing the same start.
//
// visp:  POST /api/v1/sessions to the real session-manager (its bundle, as in production), until its SSE stream
//        says `ready` (database records, events, capacity, volume, labels, limits, readiness probe, route).
// bare:  the same image, command, environment and limits created and started through the same Podman API socket
//        with nothing else, port published on 127.0.0.1, its readiness path polled every 10 ms.
// bare with the session's isolation (one session of each built-in type): the container the session-manager makes,
//        its spec from the runtime itself (PodmanRuntime.containerSpec behind the session guard: the home volume, a
//        tmpfs /tmp, no capabilities, no-new-privileges, an init, its own user-mode network), started the same bare
//        way: what is left between it and visp is the platform's own work (records, events, capacity, the route).
// Both print where each start spent its time: the platform's from its own progress events, bare Podman's from
// its calls.
// Runs alternate between the two so that drift on the machine hits both alike; medians are compared.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { BUILTIN_SESSION_TYPES, createLogger, expandLaunch, type SessionTypeConfig, type SessionTypes } from '@visp/config';
import { closeRedis, createRedis, EventBus } from '@visp/bus';
import { isSessionEvent, LABEL, type SessionStreamMessage, type SessionView } from '@visp/contracts';
import { discoverPodman, homeVolumeName, PodmanClient } from '@visp/podman-client';
import { behindGuard, newSessionId, PodmanRuntime, templateValues, type SpawnRequest } from '@visp/sessions';
import { readSse } from '@visp/testing';
import { TESTBOX_IMAGE } from '../src/images';
import { log, withBench } from './harness';
import { ISSUE_25, type BenchResult, type Measure } from './results';

export interface SpawnBenchOptions {
  runs: number;
  /** How many sessions start at once in the burst comparison. */
  burst: number;
}

const TOKEN = randomBytes(24).toString('base64url');

const BOX: SessionTypeConfig = {
  image: TESTBOX_IMAGE,
  port: 8080,
  command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
  env: {},
  user: '1000:1000',
  homeDir: '/home/visp',
  readinessPath: '/',
  readinessHeaders: {},
  baseUrlAware: false,
  activity: 'none',
  tmpfsMiB: 16,
  writableRoot: false,
  limits: { default: { memoryMiB: 64, cpus: 0.5, pids: 64 }, max: { memoryMiB: 256, cpus: 1, pids: 128 } },
};
/** The same, with an app that takes a second to start, as every real app does: shows starts overlapping. */
const SLOWBOX: SessionTypeConfig = { ...BOX, command: ['sh', '-c', 'sleep 1; exec httpd -f -p 8080 -h /var/www'] };
const BENCH_TYPES: SessionTypes = { ...BUILTIN_SESSION_TYPES, box: BOX, slowbox: SLOWBOX };

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const at = (i: number) => sorted[i] ?? Number.NaN;
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Where a launch spends its time, between the session-manager's own events (their `at`): each phase ends at its
 * event. `admit`: the owner lock, the count, the lease, the record; `capacity`: waiting in line and `→ starting`;
 * `preflight`: the image inspected, the home volume, the guard's command; `create`, `start` (with the port's
 * inspect): Podman; `ready`: the readiness polls, the route, `→ ready`, the lease given back.
 */
const PHASES = [
  // A session with room at once is stored `starting` straight away: its admission ends there, and its wait for
  // capacity is nothing.
  ['admit', ['state:pending', 'state:starting']],
  ['capacity', ['state:starting']],
  ['preflight', ['progress:creating']],
  ['create', ['progress:starting']],
  ['start', ['progress:waiting-ready']],
  ['ready', ['progress:ready']],
] as const;
type Phase = (typeof PHASES)[number][0];
/** Bare Podman's phases, for the same table: its calls are create, start, inspect, then the polls. */
type BarePhase = 'create' | 'start' | 'ready';

/** Every session event of the bench's session-manager, by session: what the phases are read from. */
class EventClock {
  private readonly seen = new Map<string, Map<string, number>>();
  private constructor(private readonly close_: () => Promise<void>) {}

  static async listen(redisUrl: string): Promise<EventClock> {
    const redis = createRedis(redisUrl, { name: 'bench-spawn' });
    const bus = new EventBus(redis);
    const clock: EventClock = new EventClock(async () => (await bus.close(), await closeRedis(redis)));
    await bus.subscribe((event) => {
      if (!isSessionEvent(event) || event.type === 'session.cull-warning') return;
      const key = event.type === 'session.state' ? `state:${event.state}` : `progress:${event.step}`;
      const times = clock.seen.get(event.sid) ?? new Map<string, number>();
      if (!times.has(key)) times.set(key, Date.parse(event.at));
      clock.seen.set(event.sid, times);
    });
    return clock;
  }

  /** The phases of one launch asked for at `askedAt` (epoch ms); undefined if an event is missing. */
  phases(sid: string, askedAt: number): Record<Phase, number> | undefined {
    const times = this.seen.get(sid);
    let from = askedAt;
    const out: Partial<Record<Phase, number>> = {};
    for (const [phase, keys] of PHASES) {
      const at = keys.map((key) => times?.get(key)).find((time) => time !== undefined);
      if (at === undefined) return undefined;
      out[phase] = at - from;
      from = at;
    }
    this.seen.delete(sid);
    return out as Record<Phase, number>;
  }

  close(): Promise<void> {
    return this.close_();
  }
}

/** Phase times of every launch of one measure, visp's and bare Podman's (plain, and with the session's isolation). */
interface Breakdown {
  visp: Array<Record<Phase, number>>;
  bare: Array<Record<BarePhase, number>>;
  isolated: Array<Record<BarePhase, number>>;
}
const newBreakdown = (): Breakdown => ({ visp: [], bare: [], isolated: [] });

/** The platform: one or more sessions requested at once, until every one is ready. */
async function platformStart(api: string, type: string, count: number, clock?: EventClock, breakdown?: Breakdown): Promise<number> {
  const headers = { 'x-service-token': TOKEN };
  const started = performance.now();
  const askedAt = Date.now();
  const sessions = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${api}/api/v1/sessions`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        // The same owners every run: their home volumes exist after the warm-up, as for returning users.
        body: JSON.stringify({ owner: `bench-user-${i}`, type }),
      });
      if (res.status !== 202) throw new Error(`create answered ${res.status}: ${await res.text()}`);
      const session = (await res.json()) as SessionView;
      const stream = await readSse<SessionStreamMessage>(`${api}/api/v1/sessions/${session.sid}/events`, headers, (m) => m.kind === 'state' && ['ready', 'failed', 'stopped'].includes(m.state));
      const last = stream.at(-1);
      if (last?.kind !== 'state' || last.state !== 'ready') throw new Error(`session ${session.sid} did not become ready: ${JSON.stringify(last)}`);
      return session.sid;
    }),
  );
  const ms = performance.now() - started;
  for (const sid of sessions) {
    const phases = clock?.phases(sid, askedAt);
    if (phases) breakdown?.visp.push(phases);
  }
  await Promise.all(sessions.map((sid) => fetch(`${api}/api/v1/sessions/${sid}`, { method: 'DELETE', headers })));
  return ms;
}

/** Bare Podman: create, start, find the port, poll the readiness path. */
async function bareStart(docker: Docker, type: SessionTypeConfig, count: number, instance: string, breakdown?: Breakdown): Promise<number> {
  const started = performance.now();
  const names = Array.from({ length: count }, (_, i) => `visp-bench-bare-${instance}-${i}`);
  await Promise.all(
    names.map(async (name) => {
      const launch = expandLaunch(type, { baseUrl: `/s/${name}/`, token: TOKEN, user: 'bench' });
      const create = () =>
        docker.createContainer({
          name,
          Image: type.image,
          // Only so that a bench cut short leaves nothing behind: removeLeftovers finds them by these.
          Labels: { [LABEL.managed]: 'true', [LABEL.instance]: instance },
          Cmd: launch.command,
          Env: Object.entries(launch.env).map(([k, v]) => `${k}=${v}`),
          User: type.user,
          ExposedPorts: { [`${type.port}/tcp`]: {} },
          // The session's own limits: a like-for-like start of the same session, as `podman run --memory --cpus
          // --pids-limit` would make it. A CPU limit slows apps that start on several threads (code-server).
          HostConfig: {
            PortBindings: { [`${type.port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
            Memory: type.limits.default.memoryMiB * 2 ** 20,
            MemorySwap: type.limits.default.memoryMiB * 2 ** 20,
            NanoCpus: Math.round(type.limits.default.cpus * 1e9),
            PidsLimit: type.limits.default.pids,
          },
        });
      let container = await create();
      const created = performance.now();
      // Podman picks a free host port at create and binds it at start: parallel starts can pick the same one, and
      // are made again, as the platform's runtime does (libs/sessions PodmanRuntime).
      for (let attempt = 1; ; attempt++) {
        try {
          await container.start();
          break;
        } catch (err) {
          if (attempt === 3 || !(err instanceof Error && /address already in use/.test(err.message))) throw err;
          await container.remove({ force: true });
          container = await create();
        }
      }
      const info = await container.inspect();
      const running = performance.now();
      const hostPort = info.NetworkSettings.Ports[`${type.port}/tcp`]?.[0]?.HostPort;
      const url = `http://127.0.0.1:${hostPort}${launch.readinessPath}`;
      while (!(await fetch(url, { headers: launch.readinessHeaders, redirect: 'manual' }).then((r) => (r.body?.cancel(), r.status < 400), () => false))) await sleep(10);
      breakdown?.bare.push({ create: created - started, start: running - created, ready: performance.now() - running });
    }),
  );
  const ms = performance.now() - started;
  await Promise.all(names.map((name) => docker.getContainer(name).remove({ force: true })));
  return ms;
}

/** How long the isolated start's app may take to answer before the bench gives up on it. */
const ISOLATED_READY_MS = 120_000;

/**
 * Bare Podman making the container the session-manager makes in local mode (libs/sessions PodmanRuntime's spec,
 * behind the guard, created through the same `toCreateOptions`), one session: create, start, poll through the guard.
 */
async function isolatedStart(podman: PodmanClient, runtime: PodmanRuntime, instance: string, type: SessionTypeConfig, guardBinary: string, breakdown?: Breakdown): Promise<number> {
  const request: SpawnRequest = { sid: newSessionId(), owner: 'bench-isolated', typeName: 'isolated', type, limits: type.limits.default, createdAt: new Date(), token: TOKEN };
  const started = performance.now();
  const launch = expandLaunch(type, templateValues(request));
  const [uid = '1000', gid = '1000'] = type.user.split(':');
  const [image] = await Promise.all([podman.imageCommand(type.image), podman.ensureVolume(homeVolumeName(request.owner), { instance, owner: { uid: Number(uid), gid: Number(gid) } })]);
  // The runtime's own spec, behind the guard as its start puts it: only the engine calls are made here.
  const guarded = behindGuard(runtime.containerSpec(request), type.port, image, guardBinary);
  const id = await podman.createContainer(guarded);
  try {
    const created = performance.now();
    await podman.startContainer(id);
    const hostPort = (await podman.inspectContainer(id)).ports[`${guarded.publish?.containerPort}/tcp`];
    const running = performance.now();
    const url = `http://127.0.0.1:${hostPort}${launch.readinessPath}`;
    const headers = { ...launch.readinessHeaders, Authorization: `token ${TOKEN}` };
    for (const until = running + ISOLATED_READY_MS; !(await fetch(url, { headers, redirect: 'manual' }).then((r) => (r.body?.cancel(), r.status < 400), () => false)); await sleep(10)) {
      if (performance.now() > until) throw new Error(`${type.image} behind the guard did not answer within ${ISOLATED_READY_MS / 1000} s`);
    }
    breakdown?.isolated.push({ create: created - started, start: running - created, ready: performance.now() - running });
    return performance.now() - started;
  } finally {
    await podman.removeContainer(id, { force: true });
  }
}

interface Row {
  what: string;
  visp: number;
  bare: number;
  /** Bare Podman making the session's own isolated container (built-in types, one session). */
  isolated?: number;
}

const WARM_OWNER = 'bench-warm';

/** Asks for the owner's session to be prepared (as their sign-in does) and waits until it is ready. */
async function prepareAhead(api: string, owner: string): Promise<void> {
  const headers = { 'x-service-token': TOKEN };
  const res = await fetch(`${api}/api/v1/sessions/prepare`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ owner }) });
  if (res.status !== 202) throw new Error(`prepare answered ${res.status}: ${await res.text()}`);
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(100)) {
    const { sessions } = (await (await fetch(`${api}/api/v1/sessions?state=ready`, { headers })).json()) as { sessions: SessionView[] };
    if (sessions.some((s) => s.owner === owner && s.warm)) return;
  }
  throw new Error(`no session was prepared for ${owner} within 120 s`);
}

/** Median phase times of each measure's launches, visp's beside bare Podman's. */
function printBreakdown(rows: Array<[string, Breakdown]>): void {
  const at = (values: number[]) => (values.length ? median(values).toFixed(0) : '–');
  const barePhases = (label: string, runs: Array<Record<BarePhase, number>>) => `${label.padStart(11)}${(['create', 'start', 'ready'] as const).map((p) => at(runs.map((x) => x[p])).padStart(8)).join('')}`;
  const header = `${'where the time went (median ms)'.padEnd(34)}${PHASES.map(([phase]) => phase.padStart(10)).join('')}${'│ bare:'.padStart(9)}${(['create', 'start', 'ready'] as const).map((p) => p.padStart(8)).join('')}${'│ isolated:'.padStart(13)}${(['create', 'start', 'ready'] as const).map((p) => p.padStart(8)).join('')}`;
  const lines = rows.map(([what, b]) => `${what.padEnd(34)}${PHASES.map(([phase]) => at(b.visp.map((p) => p[phase])).padStart(10)).join('')}${barePhases('│', b.bare)}${b.isolated.length ? barePhases('│', b.isolated) : ''}`);
  console.log(`\n${[header, ...lines].join('\n')}\n`);
}

function printTable(rows: Row[], runs: number): void {
  const isolated = (r: Row) => (r.isolated === undefined ? '' : `${r.isolated.toFixed(0).padStart(16)}${(r.visp / r.isolated).toFixed(2).padStart(8)}`);
  const lines = [
    `spawn: median of ${runs} runs, ms (time until the app answers its readiness path)`,
    `${'start'.padEnd(34)}${'visp'.padStart(8)}${'bare podman'.padStart(13)}${'ratio'.padStart(8)}${'added'.padStart(8)}${'bare, isolated'.padStart(16)}${'ratio'.padStart(8)}`,
    ...rows.map((r) => `${r.what.padEnd(34)}${r.visp.toFixed(0).padStart(8)}${r.bare.toFixed(0).padStart(13)}${(r.visp / r.bare).toFixed(2).padStart(8)}${(r.visp - r.bare).toFixed(0).padStart(8)}${isolated(r)}`),
  ];
  console.log(`\n${lines.join('\n')}\n`);
}

export function benchSpawn(options: SpawnBenchOptions): Promise<BenchResult> {
  return withBench(async ({ instance, stateDir, infra, service }) => {
    const typesFile = path.join(stateDir, 'session-types.json');
    writeFileSync(typesFile, JSON.stringify(BENCH_TYPES));
    const docker = new Docker({ socketPath: infra.env.CONTAINER_HOST.replace(/^unix:\/\//, '') });
    const { port } = await service('session-manager', {
      SERVICE_TOKEN: TOKEN,
      SESSION_TYPES_FILE: typesFile,
      MAX_SESSIONS_PER_USER: '1',
      MAX_SESSIONS_TOTAL: String(Math.max(20, options.burst)),
      IDLE_TIMEOUT: '0',
      MAX_SESSION_AGE: '0',
    });
    const api = `http://127.0.0.1:${port}`;
    const clock = await EventClock.listen(infra.env.REDIS_URL);

    const breakdowns = new Map<string, Breakdown>();
    type Start = (b?: Breakdown) => Promise<number>;
    const measure = async (what: string, visp: Start, bare: Start, isolated?: Start): Promise<Row> => {
      await visp(); // warm-up: first-use costs (image layers in the page cache, home volumes) are not what is measured
      await bare();
      await isolated?.();
      const times = { visp: [] as number[], bare: [] as number[], isolated: [] as number[] };
      const breakdown = newBreakdown();
      for (let run = 0; run < options.runs; run++) {
        times.visp.push(await visp(breakdown));
        times.bare.push(await bare(breakdown));
        if (isolated) times.isolated.push(await isolated(breakdown));
      }
      breakdowns.set(what, breakdown);
      log(`${what}: visp ${times.visp.map((t) => t.toFixed(0)).join(' ')}; bare ${times.bare.map((t) => t.toFixed(0)).join(' ')}${isolated ? `; bare, isolated ${times.isolated.map((t) => t.toFixed(0)).join(' ')}` : ''}`);
      return { what, visp: median(times.visp), bare: median(times.bare), ...(isolated ? { isolated: median(times.isolated) } : {}) };
    };
    const platform = (type: string, count: number) => (b?: Breakdown) => platformStart(api, type, count, clock, b);
    const barePodman = (type: SessionTypeConfig, count: number) => (b?: Breakdown) => bareStart(docker, type, count, instance, b);
    const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: infra.env.CONTAINER_HOST }));
    const runtime = new PodmanRuntime(podman, { instance, networking: { mode: 'local' }, guardBinary: infra.env.SESSION_GUARD_BINARY }, createLogger({ component: 'bench', level: 'silent' }));
    const isolatedPodman = (type: SessionTypeConfig) => (b?: Breakdown) => isolatedStart(podman, runtime, instance, type, infra.env.SESSION_GUARD_BINARY, b);
    // Every built-in type, one session, against a bare start of its own image, command and environment, and
    // against bare Podman making the session's own isolated container.
    const builtIn: Row[] = [];
    for (const [name, type] of Object.entries(BUILTIN_SESSION_TYPES)) builtIn.push(await measure(`${name}, one session`, platform(name, 1), barePodman(type, 1), isolatedPodman(type)));
    const box = await measure('box, one session', platform('box', 1), barePodman(BOX, 1));
    const burst = await measure(`box, ${options.burst} at once`, platform('box', options.burst), barePodman(BOX, options.burst));
    const slow = await measure('slowbox (1 s app), one session', platform('slowbox', 1), barePodman(SLOWBOX, 1));
    const slowBurst = await measure(`slowbox, ${options.burst} at once`, platform('slowbox', options.burst), barePodman(SLOWBOX, options.burst));
    await clock.close();

    // The warm pool: a session-manager of its own with it on; the user's session prepared (as at their sign-in)
    // before each launch, which is timed from the request until the answer says ready.
    const warmApi = `http://127.0.0.1:${(await service('session-manager', { SERVICE_TOKEN: TOKEN, SESSION_TYPES_FILE: typesFile, IDLE_TIMEOUT: '0', MAX_SESSION_AGE: '0', WARM_SESSIONS: '1', WARM_SESSION_TYPES: 'jupyter' })).port}`;
    const warmLaunch = async (): Promise<number> => {
      await prepareAhead(warmApi, WARM_OWNER);
      const started = performance.now();
      const res = await fetch(`${warmApi}/api/v1/sessions`, { method: 'POST', headers: { 'x-service-token': TOKEN, 'content-type': 'application/json' }, body: JSON.stringify({ owner: WARM_OWNER, type: 'jupyter' }) });
      const session = (await res.json()) as SessionView;
      const ms = performance.now() - started;
      if (res.status !== 202 || session.state !== 'ready') throw new Error(`the launch did not take the prepared session: ${res.status} ${session.state}`);
      await fetch(`${warmApi}/api/v1/sessions/${session.sid}`, { method: 'DELETE', headers: { 'x-service-token': TOKEN } });
      return ms;
    };
    const jupyterBare = builtIn.find((row) => row.what.startsWith('jupyter'));
    const warm = await measure('jupyter, prepared ahead (warm pool)', warmLaunch, barePodman(BUILTIN_SESSION_TYPES.jupyter as SessionTypeConfig, 1));
    console.log(`warm pool: jupyter launch to ready ${warm.visp.toFixed(0)} ms with a session prepared ahead, ${jupyterBare?.visp.toFixed(0) ?? '?'} ms without; bare podman ${warm.bare.toFixed(0)} ms (target ≤ 300 ms)`);
    printBreakdown([...builtIn, box, burst, slow, slowBurst].map((row) => [row.what, breakdowns.get(row.what) ?? newBreakdown()]));
    printTable([...builtIn, box, burst, slow, slowBurst, warm], options.runs);
    const times = (many: Row, one: Row) => `visp ${(many.visp / one.visp).toFixed(2)}×, bare podman ${(many.bare / one.bare).toFixed(2)}×`;
    console.log(`${options.burst} at once against one: box ${times(burst, box)}; slowbox ${times(slowBurst, slow)}`);
    const sizes = await Promise.all(Object.entries(BUILTIN_SESSION_TYPES).map(async ([name, type]) => `${name} ${((await docker.getImage(type.image).inspect()).Size / 1e9).toFixed(2)} GB`));
    console.log(`image sizes: ${sizes.join(', ')}`);
    const toMeasure = (row: Row): Measure => ({
      name: `${row.what}: start until ready (median of ${options.runs})`,
      unit: 'ms',
      visp: row.visp,
      reference: { name: 'bare podman', value: row.bare },
      target: row === burst || row === slowBurst ? ISSUE_25.spawnBurst : ISSUE_25.spawnOne,
    });
    const isolatedMeasures: Measure[] = builtIn.map((row) => ({
      name: `${row.what}: start until ready, against bare Podman making the session's isolated container (median of ${options.runs})`,
      unit: 'ms',
      visp: row.visp,
      reference: { name: 'bare podman, isolated', value: row.isolated ?? Number.NaN },
    }));
    const warmMeasure: Measure = { name: `jupyter launch to ready, prepared ahead (median of ${options.runs})`, unit: 'ms', visp: warm.visp, reference: { name: 'bare podman', value: warm.bare }, target: ISSUE_25.spawnWarm };
    return { measures: [...[...builtIn, box, burst, slow, slowBurst].map(toMeasure), ...isolatedMeasures, warmMeasure] };
  });
}
