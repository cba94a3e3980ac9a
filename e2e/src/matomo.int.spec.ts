// Usage analytics against a stand-in Matomo on 127.0.0.1 that records every tracking request: the start page's
// tracker and CSP; sign-in, launch, ready, failure and finished transcription reported once each, by one of two
// gateways, as requests Matomo's Tracking HTTP API documents, naming no user unless the operator opts in; and a
// Matomo that hangs or is down costs users nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeRedis, createRedis, EventBus, type Redis } from '@visp/bus';
import { startOwnRedis, waitFor, type OwnRedis } from '@visp/testing';
import { useGatewayStack, type Auth } from './gateway-stack';
import { TEST_SECRETS } from './launch';

const PORTS = { sessionManager: 19620, gateway: 19680, second: 19681, optedIn: 19682, matomo: 19690 };
const SITE_ID = '7';
const MATOMO = { MATOMO_URL: `http://127.0.0.1:${PORTS.matomo}/`, MATOMO_SITE_ID: SITE_ID };

/**
 * The parameters of Matomo's Tracking HTTP API reference (developer.matomo.org/api-reference/tracking-api) that a
 * server-side event may carry: required (idsite, rec), recommended (action_name, url, _id, rand, apiv), user info
 * (urlref, ua, lang, uid, cid, new_visit), event info (e_c, e_a, e_n, e_v) and send_image. Written here, apart
 * from the gateway's code, so that the test checks against the documentation rather than against itself.
 */
const DOCUMENTED = new Set(['idsite', 'rec', 'action_name', 'url', '_id', 'rand', 'apiv', 'urlref', 'ua', 'lang', 'uid', 'cid', 'new_visit', 'e_c', 'e_a', 'e_n', 'e_v', 'send_image']);

interface Recorded {
  method: string;
  path: string;
  query: string;
  headers: IncomingMessage['headers'];
  body: string;
  params: URLSearchParams;
}

/** A stand-in Matomo: records each request; answers 204 (as `send_image=0` asks), or hangs, or is not there. */
class FakeMatomo {
  readonly requests: Recorded[] = [];
  mode: 'answer' | 'hang' = 'answer';
  private readonly hanging: ServerResponse[] = [];
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://matomo');
        const body = Buffer.concat(chunks).toString('utf8');
        this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.search, headers: req.headers, body, params: new URLSearchParams(body) });
        if (this.mode === 'hang') this.hanging.push(res);
        else res.writeHead(204).end();
      });
    });
    this.server.listen(PORTS.matomo, '127.0.0.1');
    await new Promise((resolve) => this.server?.once('listening', resolve));
  }

  async stop(): Promise<void> {
    for (const res of this.hanging.splice(0)) res.destroy();
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
    this.server = undefined;
  }

  /** Requests for events of `category`/`action` (and name, when given). */
  events(category: string, action: string, name?: string): Recorded[] {
    return this.requests.filter((r) => r.params.get('e_c') === category && r.params.get('e_a') === action && (name === undefined || r.params.get('e_n') === name));
  }
}

/** One request, checked against the reference: documented parameters only, the required ones right, no name unless opted in. */
function expectDocumented(request: Recorded, user: string, options: { userIds: boolean } = { userIds: false }): void {
  expect(request.method).toBe('POST');
  expect(request.path).toBe('/matomo.php');
  expect(request.query).toBe('');
  expect(request.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
  const params = request.params;
  for (const name of params.keys()) expect(DOCUMENTED).toContain(name);
  expect(params.getAll('idsite')).toEqual([SITE_ID]);
  expect(params.get('rec')).toBe('1');
  expect(params.get('apiv')).toBe('1');
  expect(params.get('send_image')).toBe('0');
  expect(params.get('rand')).toMatch(/^\w+$/);
  expect(params.get('_id')).toMatch(/^[0-9a-f]{16}$/);
  if (params.has('cid')) expect(params.get('cid')).toBe(params.get('_id'));
  // "Must not be empty" (whitespace is trimmed to empty); e_v "must be a float or integer value".
  expect(params.get('e_c')?.trim()).toBeTruthy();
  expect(params.get('e_a')?.trim()).toBeTruthy();
  if (params.has('e_v')) expect(Number.isFinite(Number(params.get('e_v')))).toBe(true);
  if (options.userIds) {
    expect(params.get('uid')).toBe(user);
  } else {
    expect(params.has('uid')).toBe(false);
    const everything = `${request.path}${request.query} ${JSON.stringify(request.headers)} ${request.body}`;
    expect(everything.toLowerCase()).not.toContain(user.toLowerCase());
  }
}

const matomo = new FakeMatomo();
let redis: OwnRedis | undefined;
const scratch = mkdtempSync(path.join(tmpdir(), 'visp-e2e-matomo-'));
const typesFile = path.join(scratch, 'types.json');
const LIMITS = { default: { memoryMiB: 64, cpus: 0.5, pids: 64 }, max: { memoryMiB: 128, cpus: 1, pids: 128 } };
// `web` becomes ready; `broken` exits at once, so its start fails.
writeFileSync(
  typesFile,
  JSON.stringify({
    web: { image: 'localhost/visp-testbox:1', port: 8080, command: ['sh', '-c', 'exec httpd -f -p 8080 -h /var/www'], readinessPath: '/', baseUrlAware: false, tmpfsMiB: 16, limits: LIMITS },
    broken: { image: 'localhost/visp-testbox:1', port: 8080, command: ['sh', '-c', 'echo broken on purpose; exit 3'], readinessPath: '/', baseUrlAware: false, tmpfsMiB: 16, limits: LIMITS },
  }),
);

beforeAll(async () => {
  [redis] = await Promise.all([startOwnRedis(), matomo.start()]);
}, 30_000);

// Its own Redis: every shared database number is taken (gateway-stack.ts), and this spec's claims must meet no other's.
const stack = useGatewayStack(PORTS, 'matomo', MATOMO, { redisUrl: () => redis!.url, sessionManagerEnv: { SESSION_TYPES_FILE: typesFile } });

afterAll(async () => {
  await matomo.stop();
  await redis?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Signs in with the dev key on the gateway at `port`. */
async function signInAt(port: number, username: string): Promise<Auth> {
  const origin = `http://127.0.0.1:${port}`;
  const res = await fetch(`${origin}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ username, key: TEST_SECRETS.TEST_USER_LOGIN_KEY }) });
  expect(res.status).toBe(200);
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '' };
}

/** Waits until an event is reported, then a while longer, so that a second report (by another gateway) would show. */
async function reported(what: () => Recorded[], label: string, timeoutMs = 30_000): Promise<Recorded[]> {
  await waitFor(label, () => what().length > 0, timeoutMs);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return what();
}

describe('Matomo', () => {
  let bus: EventBus;
  let publisher: Redis;
  beforeAll(async () => {
    // A second gateway on the same Redis: every bus event reaches both, and must still be reported once.
    await stack.startGateway(PORTS.second, MATOMO);
    publisher = createRedis(redis!.url, { name: 'matomo-test' });
    bus = new EventBus(publisher);
  }, 60_000);
  afterAll(async () => {
    await closeRedis(publisher);
  });

  it("the start page loads Matomo's tracker from /analytics.js, and its CSP allows exactly matomo.js and matomo.php for it", async () => {
    const page = await fetch(`${stack.url}/`);
    expect(page.status).toBe(200);
    const policy = page.headers.get('content-security-policy') ?? '';
    const origin = `http://127.0.0.1:${PORTS.matomo}`;
    const directives = Object.fromEntries(policy.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(directives['script-src']).toEqual(["'self'", `${origin}/matomo.js`]);
    expect(directives['connect-src']).toEqual(["'self'", `${origin}/matomo.php`]);
    expect(directives['img-src']).toEqual(["'self'", 'data:', `${origin}/matomo.php`]);
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(await page.text()).toContain('<script src="/analytics.js" defer></script>');
    const script = await (await fetch(`${stack.url}/analytics.js`)).text();
    for (const line of ['["setDoNotTrack",true]', '["disableCookies"]', `["setTrackerUrl","${origin}/matomo.php"]`, `["setSiteId","${SITE_ID}"]`, '["trackPageView"]']) expect(script).toContain(line);
    expect(script).toContain(`"${origin}/matomo.js"`);
  });

  it('each sign-in is reported once, as a documented event that does not name the user; one user is one visitor', async () => {
    for (const user of ['matilda', 'nora', 'matilda']) {
      const before = matomo.requests.length;
      await stack.signIn(user);
      const [signIn, ...more] = await reported(() => matomo.requests.slice(before).filter((r) => r.params.get('e_a') === 'signed-in'), `${user}'s sign-in`);
      expect(more).toEqual([]);
      expectDocumented(signIn!, user);
      expect(signIn!.params.get('e_c')).toBe('user');
      expect(signIn!.params.get('e_n')).toBe('dev-key');
    }
    const [matilda, nora, again] = matomo.events('user', 'signed-in').map((r) => r.params.get('_id'));
    expect(again).toBe(matilda);
    expect(nora).not.toBe(matilda);
  });

  it('a launch is reported launched and ready once each, with its type, as the same visitor as the sign-in', async () => {
    const before = matomo.requests.length;
    const auth = await stack.signIn('nikolai');
    const visitor = await waitFor('the sign-in', () => matomo.requests.slice(before).find((r) => r.params.get('e_a') === 'signed-in')?.params.get('_id'));
    await stack.launchSession(auth, 'web');
    const launched = await reported(() => matomo.events('session', 'launched', 'web').filter((r) => r.params.get('_id') === visitor), 'the launch');
    const ready = await reported(() => matomo.events('session', 'ready', 'web').filter((r) => r.params.get('_id') === visitor), 'the session ready');
    expect([launched.length, ready.length]).toEqual([1, 1]);
    for (const request of [...launched, ...ready]) expectDocumented(request, 'nikolai');
    // The value of `ready` is the start-up time in seconds.
    expect(Number(ready[0]!.params.get('e_v'))).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it('a start that fails is reported failed once, with its type', async () => {
    const auth = await stack.signIn('oskar');
    const res = await stack.api('/api/v1/sessions', auth, { method: 'POST', body: { type: 'broken' } });
    expect(res.status).toBe(202);
    const failed = await reported(() => matomo.events('session', 'failed', 'broken'), 'the failure', 90_000);
    expect(failed).toHaveLength(1);
    expect(matomo.events('session', 'launched', 'broken')).toHaveLength(1);
    expectDocumented(failed[0]!, 'oskar');
  }, 120_000);

  it('a finished transcription, announced on the bus as the worker does, is reported once', async () => {
    const id = 'feedfacefeedfacefeedface';
    await bus.publish({ type: 'transcription.state', owner: 'petra', id, state: 'completed', at: new Date().toISOString() });
    const completed = await reported(() => matomo.events('transcription', 'completed'), 'the transcription');
    expect(completed).toHaveLength(1);
    expectDocumented(completed[0]!, 'petra');
  });

  it("a Matomo that hangs or is down slows and fails no user's request, and is counted", async () => {
    matomo.mode = 'hang';
    for (const user of ['quentin', 'quentin', 'quentin']) {
      const started = Date.now();
      await stack.signIn(user);
      expect(Date.now() - started).toBeLessThan(1000);
    }
    await matomo.stop();
    const started = Date.now();
    await stack.signIn('rosa');
    expect(Date.now() - started).toBeLessThan(1000);
    const failures = async () => {
      const metrics = await (await fetch(`${stack.url}/metrics`)).text();
      return Number(/^visp_analytics_reports_total\{[^}]*outcome="failed"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    };
    // Three timed out while Matomo hung, one was refused.
    await waitFor('the failures counted', async () => (await failures()) >= 4, 15_000);
    matomo.mode = 'answer';
    await matomo.start();
  }, 30_000);

  it('names the user, as uid only, where the operator opted into User IDs', async () => {
    await stack.startGateway(PORTS.optedIn, { ...MATOMO, MATOMO_USER_IDS: 'true' });
    await signInAt(PORTS.optedIn, 'sigrid');
    const [signIn] = await reported(() => matomo.events('user', 'signed-in').filter((r) => r.params.get('uid') === 'sigrid'), 'the opted-in sign-in');
    expectDocumented(signIn!, 'sigrid', { userIds: true });
    // Nowhere else: every other request so far names nobody.
    for (const request of matomo.requests.filter((r) => r !== signIn)) expect(request.params.has('uid')).toBe(false);
  }, 60_000);
});
