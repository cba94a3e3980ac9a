// tools/bench/spawn: what the platform adds to starting a session, against bare Podman doing the same start.
//
// visp:  POST /api/v1/sessions to the real session-manager (its bundle, as in production), until its SSE stream
//        says `ready` (database records, events, capacity, volume, labels, limits, readiness probe, route).
// bare:  the same image, command and environment created and started through the same Podman API socket with
//        nothing else, port published on 127.0.0.1, its readiness path polled every 10 ms.
// Runs alternate between the two so that drift on the machine hits both alike; medians are compared.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { BUILTIN_SESSION_TYPES, expandLaunch, type SessionTypeConfig, type SessionTypes } from '@visp/config';
import { LABEL, type SessionStreamMessage, type SessionView } from '@visp/contracts';
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

/** The platform: one or more sessions requested at once, until every one is ready. */
async function platformStart(api: string, type: string, count: number): Promise<number> {
  const headers = { 'x-service-token': TOKEN };
  const started = performance.now();
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
  await Promise.all(sessions.map((sid) => fetch(`${api}/api/v1/sessions/${sid}`, { method: 'DELETE', headers })));
  return ms;
}

/** Bare Podman: create, start, find the port, poll the readiness path. */
async function bareStart(docker: Docker, type: SessionTypeConfig, count: number, instance: string): Promise<number> {
  const started = performance.now();
  const names = Array.from({ length: count }, (_, i) => `visp-bench-bare-${instance}-${i}`);
  await Promise.all(
    names.map(async (name) => {
      const launch = expandLaunch(type, { baseUrl: `/s/${name}/`, token: TOKEN, user: 'bench' });
      const container = await docker.createContainer({
        name,
        Image: type.image,
        // Only so that a bench cut short leaves nothing behind: removeLeftovers finds them by these.
        Labels: { [LABEL.managed]: 'true', [LABEL.instance]: instance },
        Cmd: launch.command,
        Env: Object.entries(launch.env).map(([k, v]) => `${k}=${v}`),
        User: type.user,
        ExposedPorts: { [`${type.port}/tcp`]: {} },
        HostConfig: { PortBindings: { [`${type.port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] } },
      });
      await container.start();
      const info = await container.inspect();
      const hostPort = info.NetworkSettings.Ports[`${type.port}/tcp`]?.[0]?.HostPort;
      const url = `http://127.0.0.1:${hostPort}${launch.readinessPath}`;
      while (!(await fetch(url, { headers: launch.readinessHeaders, redirect: 'manual' }).then((r) => (r.body?.cancel(), r.status < 400), () => false))) await sleep(10);
    }),
  );
  const ms = performance.now() - started;
  await Promise.all(names.map((name) => docker.getContainer(name).remove({ force: true })));
  return ms;
}

interface Row {
  what: string;
  visp: number;
  bare: number;
}

function printTable(rows: Row[], runs: number): void {
  const lines = [
    `spawn: median of ${runs} runs, ms (time until the app answers its readiness path)`,
    `${'start'.padEnd(34)}${'visp'.padStart(8)}${'bare podman'.padStart(13)}${'ratio'.padStart(8)}${'added'.padStart(8)}`,
    ...rows.map((r) => `${r.what.padEnd(34)}${r.visp.toFixed(0).padStart(8)}${r.bare.toFixed(0).padStart(13)}${(r.visp / r.bare).toFixed(2).padStart(8)}${(r.visp - r.bare).toFixed(0).padStart(8)}`),
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

    const measure = async (what: string, visp: () => Promise<number>, bare: () => Promise<number>): Promise<Row> => {
      await visp(); // warm-up: first-use costs (image layers in the page cache, home volumes) are not what is measured
      await bare();
      const times = { visp: [] as number[], bare: [] as number[] };
      for (let run = 0; run < options.runs; run++) {
        times.visp.push(await visp());
        times.bare.push(await bare());
      }
      log(`${what}: visp ${times.visp.map((t) => t.toFixed(0)).join(' ')}; bare ${times.bare.map((t) => t.toFixed(0)).join(' ')}`);
      return { what, visp: median(times.visp), bare: median(times.bare) };
    };
    // Every built-in type, one session, against a bare start of its own image, command and environment.
    const builtIn: Row[] = [];
    for (const [name, type] of Object.entries(BUILTIN_SESSION_TYPES)) builtIn.push(await measure(`${name}, one session`, () => platformStart(api, name, 1), () => bareStart(docker, type, 1, instance)));
    const box = await measure('box, one session', () => platformStart(api, 'box', 1), () => bareStart(docker, BOX, 1, instance));
    const burst = await measure(`box, ${options.burst} at once`, () => platformStart(api, 'box', options.burst), () => bareStart(docker, BOX, options.burst, instance));
    const slow = await measure('slowbox (1 s app), one session', () => platformStart(api, 'slowbox', 1), () => bareStart(docker, SLOWBOX, 1, instance));
    const slowBurst = await measure(`slowbox, ${options.burst} at once`, () => platformStart(api, 'slowbox', options.burst), () => bareStart(docker, SLOWBOX, options.burst, instance));
    printTable([...builtIn, box, burst, slow, slowBurst], options.runs);
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
    return { measures: [...builtIn, box, burst, slow, slowBurst].map(toMeasure) };
  });
}
