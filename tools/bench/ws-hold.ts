// tools/bench/ws-hold: what holding many WebSockets open for long costs the gateway in memory, beside
// configurable-http-proxy holding as many. For `minutes`, the gateway holds `sockets` webclient WebSockets
// (/api/v1/ws, each sending `listTranscriptions` every `interval` seconds and reading the answer) and `sockets`
// session-proxy WebSockets (/s/<sid>/echo to an echoing upstream, a message each interval); configurable-http-proxy
// holds `sockets` proxied ones the same way. Each process's resident memory (with its children) is printed at the
// start, every minute and at the end; a message that goes unanswered, or a socket that closes, is counted.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { closeRedis, createRedis, RedisRouteTable } from '@visp/bus';
import { ROOT } from '../src/paths';
import { freePort, waitUntil } from '../src/processes';
import { log, withBench } from './harness';
import type { BenchResult } from './results';

export interface WsHoldOptions {
  sockets: number;
  minutes: number;
  /** Seconds between two messages of one socket. */
  interval: number;
}

const SID = 'benchholdaaa';
const OWNER = 'bench';
const LOGIN_KEY = randomBytes(18).toString('base64url');

/** Resident memory of `pid` and its children (a gateway's workers), in MB, from /proc. */
export function residentMb(pid: number): number {
  let kb = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      if (Number(entry) === pid || ppid === pid) kb += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // the process ended while we looked
    }
  }
  return kb / 1024;
}

/** A set of held sockets: each sends `message()` every interval and counts the answers it gets. */
class Held {
  readonly sockets: WebSocket[] = [];
  sent = 0;
  answered = 0;
  closed = 0;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly headers: Record<string, string>,
    private readonly message: () => string,
  ) {}

  /** Opens `count` sockets, a few at a time (as clients arrive), each starting its rhythm at a random offset. */
  async open(count: number, intervalMs: number): Promise<void> {
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, async () => {
          const ws = new WebSocket(this.url, { headers: this.headers });
          await new Promise<void>((resolve, reject) => {
            ws.once('open', () => resolve());
            ws.once('error', reject);
          });
          ws.on('message', () => this.answered++);
          ws.once('close', () => this.closed++);
          this.sockets.push(ws);
          const start = setTimeout(() => {
            const send = () => {
              if (ws.readyState !== WebSocket.OPEN) return;
              this.sent++;
              ws.send(this.message());
            };
            send();
            this.timers.push(setInterval(send, intervalMs));
          }, Math.random() * intervalMs);
          this.timers.push(start);
        }),
      );
    }
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    for (const ws of this.sockets) ws.terminate();
  }

  /** Messages sent, answered (an answer per message: echo or reply) and sockets closed under us. */
  summary(): string {
    return `${this.name}: ${this.sent} sent, ${this.answered} answered, ${this.closed} closed`;
  }
}

export function benchWsHold(options: WsHoldOptions): Promise<BenchResult> {
  return withBench(async ({ infra, service, spawn }) => {
    const redis = createRedis(infra.env.REDIS_URL, { name: 'bench' });
    const held: Held[] = [];
    try {
      const [upstreamPort, chpPort, chpApiPort] = [await freePort(), await freePort(), await freePort()];
      const upstream = `http://127.0.0.1:${upstreamPort}`;
      spawn('upstream', process.execPath, [path.join(ROOT, 'dist/tools/visp-dev.js'), 'bench', 'upstream', '--port', String(upstreamPort)]);
      const { child: gateway, port } = await service('gateway', {
        AUTH_MODE: 'dev-key',
        TEST_USER_LOGIN_KEY: LOGIN_KEY,
        COOKIE_SECRET: randomBytes(32).toString('base64url'),
        SERVICE_TOKEN: randomBytes(24).toString('base64url'),
        // One user holds them all.
        MAX_STREAMS_PER_USER: String(2 * options.sockets + 10),
        SESSION_MANAGER_URL: 'http://127.0.0.1:9',
        // The production default: one worker.
        GATEWAY_WORKERS: '1',
      }, '/healthz');
      const chp = spawn('chp', path.join(ROOT, 'node_modules/.bin/configurable-http-proxy'), ['--ip', '127.0.0.1', '--port', String(chpPort), '--api-ip', '127.0.0.1', '--api-port', String(chpApiPort), '--default-target', upstream, '--log-level', 'error'], {
        CONFIGPROXY_AUTH_TOKEN: randomBytes(16).toString('hex'),
      });
      await waitUntil('configurable-http-proxy', async () => (await fetch(`http://127.0.0.1:${chpPort}/`).catch(() => undefined)) !== undefined, { timeoutMs: 30_000 });

      const login = await fetch(`http://127.0.0.1:${port}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: OWNER, key: LOGIN_KEY }) });
      if (!login.ok) throw new Error(`bench sign-in failed: ${login.status}`);
      const auth = { cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '', origin: `http://127.0.0.1:${port}` };
      await new RedisRouteTable(redis).set({ sid: SID, owner: OWNER, target: upstream, token: randomBytes(24).toString('base64url'), stripPrefix: true, updatedAt: new Date().toISOString() });

      const pids = { gateway: gateway.process.pid ?? 0, chp: chp.process.pid ?? 0 };
      const memory = () => `gateway ${residentMb(pids.gateway).toFixed(0)} MB, configurable-http-proxy ${residentMb(pids.chp).toFixed(0)} MB`;
      log(`before: ${memory()}`);
      let n = 0;
      const intervalMs = options.interval * 1000;
      held.push(
        new Held('gateway webclient', `ws://127.0.0.1:${port}/api/v1/ws`, auth, () => JSON.stringify({ cmd: 'listTranscriptions', requestId: ++n })),
        new Held('gateway session proxy', `ws://127.0.0.1:${port}/s/${SID}/echo`, auth, () => 'x'.repeat(64)),
        new Held('configurable-http-proxy', `ws://127.0.0.1:${chpPort}/s/${SID}/echo`, {}, () => 'x'.repeat(64)),
      );
      for (const set of held) await set.open(options.sockets, intervalMs);
      const samples: Array<{ minute: number; gateway: number; chp: number }> = [];
      const sample = (minute: number) => {
        samples.push({ minute, gateway: residentMb(pids.gateway), chp: residentMb(pids.chp) });
        log(`minute ${minute}: ${memory()}; ${held.map((h) => h.summary()).join('; ')}`);
      };
      sample(0);
      for (let minute = 1; minute <= options.minutes; minute++) {
        await new Promise((resolve) => setTimeout(resolve, 60_000));
        sample(minute);
      }

      const [first, last] = [samples[0], samples.at(-1)];
      const peak = (key: 'gateway' | 'chp') => Math.max(...samples.map((s) => s[key]));
      console.log(`\nHeld for ${options.minutes} min: ${options.sockets} webclient + ${options.sockets} proxied WebSockets on the gateway (one worker), ${options.sockets} proxied on configurable-http-proxy, a message each per ${options.interval} s`);
      console.log('resident MB   at start   at end   peak   growth');
      for (const [name, key] of [['gateway', 'gateway'], ['chp', 'chp']] as const) {
        console.log(`${name.padEnd(12)} ${(first?.[key] ?? 0).toFixed(0).padStart(9)} ${(last?.[key] ?? 0).toFixed(0).padStart(8)} ${peak(key).toFixed(0).padStart(6)} ${((last?.[key] ?? 0) - (first?.[key] ?? 0)).toFixed(0).padStart(8)}`);
      }
      for (const set of held) console.log(set.summary());
      const lost = held.reduce((sum, set) => sum + set.closed + Math.max(0, set.sent - set.answered - set.sockets.length), 0);
      console.log(`\ntarget: gateway ≤ 150 MB and flat with ${2 * options.sockets} sockets → peak ${peak('gateway').toFixed(0)} MB, growth ${((last?.gateway ?? 0) - (first?.gateway ?? 0)).toFixed(0)} MB; gateway/chp at the end ${((last?.gateway ?? 0) / (last?.chp || 1)).toFixed(2)}× (chp holds half as many); lost ${lost}`);
      const holding = `${options.sockets} webclient + ${options.sockets} proxied WebSockets held ${options.minutes} min (configurable-http-proxy: ${options.sockets} proxied)`;
      const growth = (key: 'gateway' | 'chp') => (last?.[key] ?? 0) - (first?.[key] ?? 0);
      return {
        measures: [
          { name: `gateway's resident memory at its peak, ${holding}`, unit: 'MB', visp: peak('gateway'), reference: { name: 'configurable-http-proxy', value: peak('chp') } },
          { name: "gateway's resident memory, end minus start, same", unit: 'MB', visp: growth('gateway'), reference: { name: 'configurable-http-proxy', value: growth('chp') } },
        ],
      };
    } finally {
      for (const set of held) set.stop();
      await closeRedis(redis);
    }
  });
}
