// tools/bench/scale: the control plane's share at many sessions. Recovery runs as in production, against a stand-in
// for the engine's API that lists and inspects N session containers from memory (the engine's own cost, which a
// real Podman or API server adds, is the other benchmarks' subject), and one local app that answers every
// session's readiness probe. It prints, for 1,000 sessions (the reference) and N (10,000 by default) side by side:
// a recovery pass that re-adopts every session (records and routes lost), a pass with nothing to do, the route
// table's full read (what a gateway or recovery reads on start) and one route's, and Redis's memory per route.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { closeRedis, createRedis, keys, RedisRouteTable } from '@visp/bus';
import { SESSION_GUARD_PORT } from '@visp/config';
import type { ReconcileReport } from '@visp/contracts';
import { Agent, request } from 'undici';
import { encodeSessionLabels } from '@visp/podman-client';
import { containerName, newSessionId, newSessionToken, TOKEN_ENV } from '@visp/sessions';
import { log, withBench } from './harness';
import type { BenchResult, Measure } from './results';

export interface ScaleBenchOptions {
  sessions: number;
}

const REFERENCE = 1000;
/** No time limit on a pass's answer: the bench measures how long it takes. */
const patient = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
const TYPE = 'box';
const BOX = {
  image: 'localhost/visp-testbox:1',
  port: 8080,
  command: ['httpd'],
  readinessPath: '/',
  baseUrlAware: false,
  tmpfsMiB: 16,
  limits: { default: { memoryMiB: 64, cpus: 0.5, pids: 64 }, max: { memoryMiB: 64, cpus: 0.5, pids: 64 } },
};

interface Container {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Labels: Record<string, string>;
  Created: number;
  token: string;
}

/**
 * The few calls of the Podman API that a recovery pass makes (ping, list containers by label, inspect one, list
 * networks), answered from memory as Podman answers them, on a unix socket.
 */
function fakeEngine(socket: string, containers: Map<string, Container>, appPort: number): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://engine');
    const route = url.pathname.replace(/^\/v[\d.]+/, '');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (route === '/_ping') return void res.end('OK');
    if (route === '/containers/json') {
      const wanted = (JSON.parse(url.searchParams.get('filters') ?? '{}') as { label?: string[] }).label ?? [];
      const matches = (c: Container) => wanted.every((f) => (f.includes('=') ? c.Labels[f.slice(0, f.indexOf('='))] === f.slice(f.indexOf('=') + 1) : f in c.Labels));
      return json(200, [...containers.values()].filter(matches).map(({ token: _token, ...c }) => c));
    }
    if (route === '/networks') return json(200, []);
    const inspected = /^\/containers\/([^/]+)\/json$/.exec(route);
    const container = inspected ? containers.get(decodeURIComponent(inspected[1] ?? '')) : undefined;
    if (!container) return json(404, { message: 'no such container' });
    json(200, {
      Id: container.Id,
      Name: `/${container.Names[0] ?? ''}`,
      Image: container.Image,
      Config: { Labels: container.Labels, Env: [`${TOKEN_ENV}=${container.token}`], User: '1000:1000' },
      State: { Status: 'running', Running: true, ExitCode: 0, StartedAt: new Date().toISOString() },
      NetworkSettings: { Ports: { [`${SESSION_GUARD_PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(appPort) }] }, Networks: {} },
      HostConfig: { Memory: 64 * 2 ** 20, NanoCpus: 0.5e9, PidsLimit: 64 },
    });
  });
  return new Promise((resolve) => server.listen(socket, () => resolve(server)));
}

interface Measured {
  sessions: number;
  adoptMs: number;
  adopted: number;
  steadyMs: number;
  steadyActions: number;
  routesAllMs: number;
  routeGetMs: number;
  bytesPerRoute: number;
}

export function benchScale(options: ScaleBenchOptions): Promise<BenchResult> {
  return withBench(async ({ instance, stateDir, infra, service }) => {
    // Every session's app: one local server, as the guard's published port would answer.
    const app = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const appPort = (app.address() as AddressInfo).port;
    const typesFile = path.join(stateDir, 'session-types.json');
    writeFileSync(typesFile, JSON.stringify({ [TYPE]: BOX }));
    const redis = createRedis(infra.env.REDIS_URL, { name: 'bench' });
    const routes = new RedisRouteTable(redis);
    const results: Measured[] = [];
    try {
      for (const [round, sessions] of [REFERENCE, options.sessions].entries()) {
        // The engine is empty when recovery starts (its pass at start finds nothing), then holds the sessions.
        const containers = new Map<string, Container>();
        const socket = path.join(stateDir, `engine-${round}.sock`);
        const engine = await fakeEngine(socket, containers, appPort);
        const token = randomBytes(24).toString('base64url');
        const memoryBefore = await usedMemory(redis);
        // A database of its own per round: the reference round's records are not the larger round's.
        const mongo = new URL(infra.env.MONGO_URI);
        mongo.pathname = `/bench_scale_${round}`;
        const recovery = await service('recovery', { SERVICE_TOKEN: token, SESSION_TYPES_FILE: typesFile, RECOVERY_INTERVAL: '3600', CONTAINER_HOST: `unix://${socket}`, MONGO_URI: mongo.toString() });
        const pass = async () => {
          try {
            // A pass over 10,000 sessions can outlast fetch's five minutes before the answer's headers.
            const res = await request(`http://127.0.0.1:${recovery.port}/admin/reconcile`, { method: 'POST', headers: { 'x-service-token': token }, dispatcher: patient });
            return (await res.body.json()) as ReconcileReport;
          } catch (err) {
            const exit = recovery.child.process.exitCode ?? recovery.child.process.signalCode;
            log(`the pass failed: ${err instanceof Error ? `${err.message} (${String((err.cause as Error | undefined)?.message ?? '')})` : String(err)}; recovery ${exit === null ? 'still runs' : `exited (${exit})`}; its log ends:\n${readFileSync(recovery.child.logFile, 'utf8').slice(-3000)}`);
            throw err;
          }
        };
        for (let i = 0; i < sessions; i++) {
          const sid = newSessionId();
          const Id = randomBytes(32).toString('hex');
          const Labels = encodeSessionLabels({ instance, id: sid, type: TYPE, owner: `user-${i}@uni.example`, created: new Date().toISOString() });
          containers.set(Id, { Id, Names: [containerName(TYPE, sid)], Image: BOX.image, State: 'running', Labels, Created: Math.floor(Date.now() / 1000), token: newSessionToken() });
        }
        log(`${sessions} sessions without records or routes: recovery re-adopts them all`);
        const adopt = await pass();
        const steady = await pass();
        const routesAllStarted = performance.now();
        const all = await routes.all();
        const routesAllMs = performance.now() - routesAllStarted;
        const sids = all.map((r) => r.sid);
        const getStarted = performance.now();
        for (let i = 0; i < 1000; i++) await routes.get(sids[(i * 7919) % sids.length] ?? '');
        const routeGetMs = (performance.now() - getStarted) / 1000;
        const bytesPerRoute = all.length ? Math.round(((await usedMemory(redis)) - memoryBefore) / all.length) : 0;
        results.push({
          sessions,
          adoptMs: adopt.ms,
          adopted: adopt.outcomes.filter((o) => o.kind === 'adopt' && o.result === 'done').length,
          steadyMs: steady.ms,
          steadyActions: steady.outcomes.length,
          routesAllMs,
          routeGetMs,
          bytesPerRoute,
        });
        await recovery.child.stop(15_000);
        await new Promise((resolve) => engine.close(resolve));
        await redis.del(keys.routes);
      }
    } finally {
      await closeRedis(redis);
      await new Promise((resolve) => app.close(resolve));
    }
    print(results);
    const short = results.find((r) => r.adopted !== r.sessions || r.steadyActions !== 0);
    return { measures: measures(results), failed: short && `adopted ${short.adopted} of ${short.sessions}, ${short.steadyActions} actions in the steady pass` };
  });
}

/** The larger round's figures against the reference round's. */
function measures([reference, measured]: Measured[]): Measure[] {
  if (!reference || !measured) return [];
  const against = (value: number) => ({ name: `${reference.sessions.toLocaleString('en-US')} sessions`, value });
  const at = `${measured.sessions.toLocaleString('en-US')} sessions`;
  return [
    { name: `recovery pass re-adopting all, ${at}`, unit: 'ms', visp: measured.adoptMs, reference: against(reference.adoptMs) },
    { name: `recovery pass with nothing to do, ${at}`, unit: 'ms', visp: measured.steadyMs, reference: against(reference.steadyMs) },
    { name: `route table, all routes read, ${at}`, unit: 'ms', visp: measured.routesAllMs, reference: against(reference.routesAllMs) },
    { name: `Redis memory per route, ${at}`, unit: 'B', visp: measured.bytesPerRoute, reference: against(reference.bytesPerRoute) },
  ];
}

async function usedMemory(redis: ReturnType<typeof createRedis>): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

function print(results: Measured[]): void {
  const [reference, measured] = results;
  if (!reference || !measured) return;
  const scale = measured.sessions / reference.sessions;
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : '–');
  console.log(`\n| | ${reference.sessions} sessions (reference) | ${measured.sessions} sessions | ratio (${scale}× the sessions) |`);
  console.log('| --- | --- | --- | --- |');
  console.log(`| recovery pass re-adopting all (probe, route, record each) | ${reference.adoptMs} ms | ${measured.adoptMs} ms | ${ratio(measured.adoptMs, reference.adoptMs)} |`);
  console.log(`| recovery pass with nothing to do | ${reference.steadyMs} ms | ${measured.steadyMs} ms | ${ratio(measured.steadyMs, reference.steadyMs)} |`);
  console.log(`| route table, all routes read | ${reference.routesAllMs.toFixed(1)} ms | ${measured.routesAllMs.toFixed(1)} ms | ${ratio(measured.routesAllMs, reference.routesAllMs)} |`);
  console.log(`| one route read | ${reference.routeGetMs.toFixed(3)} ms | ${measured.routeGetMs.toFixed(3)} ms | ${ratio(measured.routeGetMs, reference.routeGetMs)} |`);
  console.log(`| Redis memory per route | ${reference.bytesPerRoute} B | ${measured.bytesPerRoute} B | |`);
  console.log(`\nadopted ${reference.adopted}/${reference.sessions} and ${measured.adopted}/${measured.sessions}; actions in the steady passes: ${reference.steadyActions}, ${measured.steadyActions}`);
}
