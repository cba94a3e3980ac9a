// The built services against the real servers: configuration errors, health, shutdown.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testMongoUri, testPodmanHost, testRedisUrl, waitFor } from '@visp/testing';
import { APPS, launch, TEST_SECRETS, type App } from './launch';

const TOKEN = TEST_SECRETS.SERVICE_TOKEN;

describe('bad configuration stops a service with one line and exit code 2', () => {
  const cases: Array<[string, App, Record<string, string>, RegExp]> = [
    ['missing secret', 'session-manager', {}, /^session-manager: config error: SERVICE_TOKEN must be set/],
    ['malformed URL', 'gateway', { SERVICE_TOKEN: TOKEN, REDIS_URL: 'localhost:6379' }, /^gateway: config error: REDIS_URL must be a URL starting with redis:\/\/ or rediss:\/\/$/],
    ['port out of range', 'whisper-worker', { PORT: '70000' }, /^whisper-worker: config error: PORT must be an integer between 1 and 65535$/],
    ['unreadable secret file', 'recovery', { SERVICE_TOKEN_FILE: '/nonexistent/token' }, /^recovery: config error: SERVICE_TOKEN_FILE points to \/nonexistent\/token, which cannot be read \(ENOENT\)$/],
  ];
  it.each(cases)('%s', async (_name, app, env, expected) => {
    const run = launch(app, env);
    expect(await run.exited).toBe(2);
    const lines = run.output().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
  });
});

describe('every service with the real servers', () => {
  const ports: Record<App, number> = { 'socket-proxy': 18050, 'session-manager': 18020, recovery: 18030, 'whisper-worker': 18040, gateway: 18080 };
  const running: Array<ReturnType<typeof launch>> = [];
  const socketProxyDir = mkdtempSync(path.join(tmpdir(), 'visp-e2e-proxy-'));
  const env = () => ({
    ...TEST_SECRETS,
    REDIS_URL: testRedisUrl(),
    MONGO_URI: testMongoUri('e2e'),
    CONTAINER_HOST: testPodmanHost(),
    SESSION_MANAGER_URL: `http://127.0.0.1:${ports['session-manager']}`,
    SOCKET_PROXY_DIR: socketProxyDir,
  });

  afterAll(async () => {
    for (const run of running) run.child.kill('SIGKILL');
  });

  it('answers /healthz, /readyz with every dependency green, and /metrics; exits 0 on SIGTERM', async () => {
    for (const app of APPS) running.push(launch(app, { ...env(), PORT: String(ports[app]) }));
    for (const app of APPS) {
      const base = `http://127.0.0.1:${ports[app]}`;
      const report = await waitFor(`${app} ready`, async () => {
        const res = await fetch(`${base}/readyz`).catch(() => undefined);
        return res?.status === 200 ? ((await res.json()) as { status: string; checks: Record<string, { ok: boolean }> }) : undefined;
      }, 20_000);
      expect(report.status).toBe('ready');
      expect(Object.values(report.checks).every((c) => c.ok)).toBe(true);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain(`service="${app}"`);
    }
    const gatewayChecks = Object.keys(((await (await fetch(`http://127.0.0.1:${ports.gateway}/readyz`)).json()) as { checks: object }).checks);
    expect(gatewayChecks.sort()).toEqual(['mongo', 'redis', 'session-manager']);

    for (const run of running.splice(0)) {
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    }
  });

  it('reports an unreachable Podman in /readyz instead of pretending to be ready', async () => {
    const run = launch('session-manager', { ...env(), PORT: '18021', CONTAINER_HOST: 'unix:///nonexistent/podman.sock' });
    running.push(run);
    const res = await waitFor('an answer', () => fetch('http://127.0.0.1:18021/readyz').catch(() => undefined), 20_000);
    expect(res.status).toBe(503);
    const report = (await res.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
    expect(report.checks.podman).toMatchObject({ ok: false, error: expect.stringContaining('Podman API unavailable') });
    expect(report.checks.redis?.ok).toBe(true);
  });

  it('refuses to start, in one line, when the database cannot be reached', async () => {
    const run = launch('whisper-worker', { ...env(), PORT: '18041', MONGO_URI: 'mongodb://127.0.0.1:1/visp' });
    expect(await run.exited).toBe(1);
    expect(run.output().trim()).toMatch(/^whisper-worker: cannot start: .+$/);
  });
});
