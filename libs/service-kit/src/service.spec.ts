import { request } from 'node:http';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { createLogger } from '@visp/config';
import { AppError, createService, parseOrThrow, propagationHeaders, requireServiceToken, type Service, type ServiceOptions } from './index';

const logLines: Record<string, unknown>[] = [];
const logger = createLogger({
  component: 'test',
  level: 'info',
  destination: new Writable({ write: (chunk, _e, done) => (logLines.push(JSON.parse(String(chunk))), done()) }),
});

const started: Service[] = [];
async function start(options: Partial<ServiceOptions> = {}): Promise<{ service: Service; url: string }> {
  const service = createService({ name: 'test', logger, host: '127.0.0.1', port: 0, ...options });
  const { port } = await service.start();
  started.push(service);
  return { service, url: `http://127.0.0.1:${port}` };
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

interface ErrorJson {
  error: { code: string; message: string; requestId?: string };
}
interface ReadyJson {
  status: string;
  checks: Record<string, { ok: boolean; error?: string }>;
}
const json = async <T = ErrorJson>(res: Response) => (await res.json()) as T;

const postJson = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('errors', () => {
  const routes: ServiceOptions['routes'] = (app) => {
    app.post('/items', (req, res) => {
      const body = parseOrThrow(z.object({ name: z.string().min(1) }), req.body);
      res.status(201).json(body);
    });
    app.get('/conflict', () => {
      throw new AppError('conflict', 'already there');
    });
    app.get('/boom', async () => {
      throw new Error('database password is hunter2 at /srv/app.js:12');
    });
  };

  it('answers domain errors with their status and code', async () => {
    const { url } = await start({ routes });
    const res = await fetch(`${url}/conflict`);
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: { code: 'conflict', message: 'already there', requestId: res.headers.get('x-request-id') } });
  });

  it('hides internals of unexpected errors but logs them', async () => {
    const { url } = await start({ routes });
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect((JSON.parse(text) as ErrorJson).error).toMatchObject({ code: 'internal', message: 'internal error' });
    expect(text).not.toMatch(/hunter2|app\.js|at /);
    expect(logLines.some((l) => l.msg === 'unhandled error' && JSON.stringify(l).includes('hunter2'))).toBe(true);
  });

  it('rejects bad bodies with a 4xx naming the problem, and unknown routes with 404', async () => {
    const { url } = await start({ routes, bodyLimit: '1kb' });
    const cases: Array<[Promise<Response>, number, string]> = [
      [postJson(`${url}/items`, '{"name":'), 400, 'invalid_json'],
      [postJson(`${url}/items`, JSON.stringify({ name: 'x'.repeat(2000) })), 413, 'payload_too_large'],
      [postJson(`${url}/items`, JSON.stringify({ name: 42 })), 400, 'validation_failed'],
      [postJson(`${url}/items`, 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'validation_failed'],
      [fetch(`${url}/nope`), 404, 'not_found'],
    ];
    for (const [response, status, code] of cases) {
      const res = await response;
      expect([res.status, (await json(res)).error.code]).toEqual([status, code]);
    }
    const bad = await postJson(`${url}/items`, JSON.stringify({ name: '' }));
    expect((await json(bad)).error.message).toMatch(/^body\.name: /);
    const ok = await postJson(`${url}/items`, JSON.stringify({ name: 'x' }));
    expect(ok.status).toBe(201);
  });

  it('answers a method no route of the path has with 405 and the methods that are (Allow)', async () => {
    const { url } = await start({ routes: (app) => (routes?.(app, undefined as never), app.get('/items/:id', (_req, res) => void res.json({})), app.delete('/items/:id', (_req, res) => void res.status(204).end())) });
    const answers = [];
    // node:http, not fetch: fetch refuses to send TRACE.
    const send = (method: string, path: string) =>
      new Promise<{ status: number; allow: string | null; code: string }>((resolve, reject) => {
        const req = request(`${url}${path}`, { method }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow ?? null, code: (JSON.parse(body) as ErrorJson).error.code }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const [method, path] of [['TRACE', '/items/7'], ['PUT', '/items/7'], ['GET', '/items'], ['PATCH', '/conflict'], ['TRACE', '/nope/7']] as const) {
      const { status, allow, code } = await send(method, path);
      answers.push([method, path, status, allow, code]);
    }
    expect(answers).toEqual([
      ['TRACE', '/items/7', 405, 'DELETE, GET, HEAD', 'method_not_allowed'],
      ['PUT', '/items/7', 405, 'DELETE, GET, HEAD', 'method_not_allowed'],
      ['GET', '/items', 405, 'POST', 'method_not_allowed'],
      ['PATCH', '/conflict', 405, 'GET, HEAD', 'method_not_allowed'],
      ['TRACE', '/nope/7', 404, null, 'not_found'],
    ]);
  });
});

describe('request ids', () => {
  it('keeps an acceptable caller id, replaces a hostile one, and passes it on to the next service', async () => {
    const downstream = await start({
      routes: (app) => app.get('/who', (req, res) => void res.json({ id: req.id })),
    });
    const upstream = await start({
      routes: (app) =>
        app.get('/call', async (_req, res) => {
          const answer = await fetch(`${downstream.url}/who`, { headers: propagationHeaders() });
          res.json(await answer.json());
        }),
    });

    const res = await fetch(`${upstream.url}/call`, { headers: { 'x-request-id': 'trace-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    expect(await res.json()).toEqual({ id: 'trace-123' });

    const hostile = await fetch(`${upstream.url}/call`, { headers: { 'x-request-id': 'a b "forged" <script>' } });
    const generated = hostile.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(await hostile.json()).toEqual({ id: generated });
  });
});

describe('health, readiness and metrics', () => {
  it('reports each dependency and answers 503 when one fails or hangs', async () => {
    const { url } = await start({
      readinessTimeoutMs: 200,
      readiness: {
        redis: async () => 'PONG',
        mongo: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:27017');
        },
        podman: () => new Promise(() => undefined),
      },
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    const report = await json<ReadyJson>(res);
    expect(report.status).toBe('unready');
    expect(report.checks.redis?.ok).toBe(true);
    expect(report.checks.mongo).toMatchObject({ ok: false, error: 'connect ECONNREFUSED 127.0.0.1:27017' });
    expect(report.checks.podman).toMatchObject({ ok: false, error: 'no answer within 200 ms' });
  });

  it('is ready when every check passes', async () => {
    const { url } = await start({ readiness: { redis: async () => 'PONG' } });
    const res = await fetch(`${url}/readyz`);
    expect([res.status, (await json<ReadyJson>(res)).status]).toEqual([200, 'ready']);
  });

  it('exposes request durations by route pattern', async () => {
    const { url } = await start({ routes: (app) => app.get('/things/:id', (_req, res) => void res.json({})) });
    await fetch(`${url}/things/42`);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/things\/:id"[^}]*status="200"[^}]*\} 1/);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('keeps readiness and metrics from requests a proxy forwarded; whether it is alive it tells them', async () => {
    const { url } = await start({ readiness: { redis: async () => 'PONG' } });
    const forwardedBy: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7;proto=https' }];
    for (const header of forwardedBy) {
      for (const path of ['/readyz', '/metrics']) {
        const res = await fetch(`${url}${path}`, { headers: header });
        expect([path, res.status, (await json(res)).error.code]).toEqual([path, 404, 'not_found']);
      }
      expect((await fetch(`${url}/healthz`, { headers: header })).status).toBe(200);
    }
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });
});

describe('service token', () => {
  it('admits only callers with the shared token', async () => {
    const token = 'service-token-0123456789abcdef';
    const { url } = await start({ routes: (app) => app.get('/internal', requireServiceToken(token), (_req, res) => void res.json({ ok: true })) });
    expect((await fetch(`${url}/internal`)).status).toBe(401);
    expect((await fetch(`${url}/internal`, { headers: { 'x-service-token': `${token}x` } })).status).toBe(401);
    expect((await fetch(`${url}/internal`, { headers: { 'x-service-token': token } })).status).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight request finish, refuses new connections, closes dependencies once', async () => {
    const closed: string[] = [];
    let release!: () => void;
    const { service, url } = await start({
      onClose: [async () => closed.push('redis'), async () => closed.push('mongo')],
      routes: (app) =>
        app.get('/slow', async (_req, res) => {
          await new Promise<void>((resolve) => (release = resolve));
          res.json({ done: true });
        }),
    });
    const inFlight = fetch(`${url}/slow`);
    await new Promise((r) => setTimeout(r, 50));
    const first = service.close();
    expect(service.close()).toBe(first);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    release();
    expect(await (await inFlight).json()).toEqual({ done: true });
    await first;
    expect(closed).toEqual(['redis', 'mongo']);
  });

  it('cuts requests that outlive the deadline', async () => {
    const { service, url } = await start({
      shutdownTimeoutMs: 100,
      routes: (app) => app.get('/hang', () => new Promise(() => undefined)),
    });
    const hanging = fetch(`${url}/hang`);
    await new Promise((r) => setTimeout(r, 50));
    const startedAt = Date.now();
    await service.close();
    expect(Date.now() - startedAt).toBeLessThan(2000);
    await expect(hanging).rejects.toThrow();
  });
});
