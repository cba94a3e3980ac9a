// Limits that must hold against a user who pushes them, each attacked through the real gateway as built, with
// the real Redis, database and session-manager: sign-in attempts per client behind a trusted edge, open
// streams per user, API tokens that expire, admin taken away by configuration, the transcription quota and the
// disk's floor, a cancelled job's files, and clients too slow to read their answers.
import { existsSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import WebSocket from 'ws';
import type { ApiTokenView, TranscriptionView } from '@visp/contracts';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { testPodmanHost } from '@visp/testing';
import { silentWav } from '@visp/transcription';
import { upgradeStatus, useGatewayStack, type Auth } from './gateway-stack';
import { TEST_SECRETS } from './launch';

const stack = useGatewayStack({ sessionManager: 18920, gateway: 18980 }, 'limits');
const EDGE_GW = 18981;
const STREAMS_GW = 18982;
const ADMIN_GW = 18983;
const QUOTA_GW = 18984;
const FULL_DISK_GW = 18985;
const CROWDED_QUOTA_GW = 18986;
const CROWDED_PENDING_GW = 18987;

/** This spec signs in many times a minute from 127.0.0.1; the limit on that has a test of its own. */
const manySignIns = { LOGIN_RATE_LIMIT: '1000' };

const at = (port: number) => `http://127.0.0.1:${port}`;

async function signInAt(port: number, username: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${at(port)}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: at(port), ...headers },
    body: JSON.stringify({ username, key: TEST_SECRETS.TEST_USER_LOGIN_KEY }),
  });
}

async function cookieAt(port: number, username: string): Promise<Auth> {
  const res = await signInAt(port, username);
  expect(res.status).toBe(200);
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '' };
}

const call = (port: number, apiPath: string, auth: Auth, method = 'GET') => fetch(`${at(port)}${apiPath}`, { method, headers: { origin: at(port), ...auth } });

async function upload(port: number, auth: Auth, bytes: Buffer, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  form.set('file', new Blob([bytes]), 'recording.wav');
  return fetch(`${at(port)}/api/v1/transcriptions`, { method: 'POST', headers: { origin: at(port), ...auth }, body: form });
}

const errorOf = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: { code: string; message: string } }).error });

describe('sign-in attempts are counted per client behind the trusted edge', () => {
  // Behind Caddy every client is the same TCP peer: counted per peer, one noisy client locked everyone out.
  it('counts the right-most untrusted X-Forwarded-For address, whatever the client writes to its left', async () => {
    await stack.startGateway(EDGE_GW, { TRUSTED_PROXY_CIDRS: '127.0.0.1/32', LOGIN_RATE_LIMIT: '3' });
    // Addresses of this run's own, so that no earlier run's window counts.
    const net = `198.18.${randomBytes(1)[0]}`;
    const [attacker, neighbour] = [`${net}.7`, `${net}.8`];
    const statuses: number[] = [];
    // The attacker varies what it writes itself; the edge appends the address it really came from.
    for (let i = 0; i < 5; i++) statuses.push((await signInAt(EDGE_GW, 'mallory', { 'x-forwarded-for': `10.0.0.${i}, ${attacker}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Another client through the same edge (same TCP peer) is not locked out by the first.
    expect((await signInAt(EDGE_GW, 'nora', { 'x-forwarded-for': neighbour })).status).toBe(200);
  });
});

describe('open WebSockets and event streams per user', () => {
  it('refuses a user past MAX_STREAMS_PER_USER with 429, sockets and event streams alike, and only that user', async () => {
    await stack.startGateway(STREAMS_GW, { MAX_STREAMS_PER_USER: '2', ...manySignIns });
    const [dana, erin] = [await cookieAt(STREAMS_GW, 'dana'), await cookieAt(STREAMS_GW, 'erin')];
    const wsUrl = `ws://127.0.0.1:${STREAMS_GW}/api/v1/ws`;
    const held = await Promise.all(
      [1, 2].map(
        () =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(wsUrl, { headers: { origin: at(STREAMS_GW), ...dana } });
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
          }),
      ),
    );
    try {
      expect(await upgradeStatus(wsUrl, { origin: at(STREAMS_GW), ...dana })).toBe(429);
      const events = await errorOf(await call(STREAMS_GW, '/api/v1/sessions/aaaaaaaaaaaa/events', dana));
      expect(events).toMatchObject({ status: 429, code: 'rate_limited', message: expect.stringMatching(/2 open WebSockets and event streams/) });
      expect(await upgradeStatus(wsUrl, { origin: at(STREAMS_GW), ...erin })).toBe(101);
    } finally {
      for (const ws of held) ws.close();
    }
  });
});

describe('API tokens', () => {
  it('expire after 90 days when their creator names no expiry, are listed, and stop working when revoked', async () => {
    const fay = await stack.signIn('fay');
    const before = Date.now();
    const created = (await (await stack.api('/api/v1/tokens', fay, { method: 'POST', body: { name: 'script' } })).json()) as ApiTokenView & { token: string };
    const expiresAt = Date.parse(created.expiresAt ?? 'never');
    expect(expiresAt).toBeGreaterThanOrEqual(before + 90 * 86_400_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 90 * 86_400_000);
    const bearer = { authorization: `Bearer ${created.token}` };
    expect((await stack.api('/api/v1/me', bearer)).status).toBe(200);

    const listed = (await (await stack.api('/api/v1/tokens', fay)).json()) as { tokens: ApiTokenView[] };
    expect(listed.tokens).toEqual([expect.objectContaining({ id: created.id, name: 'script', expiresAt: created.expiresAt })]);
    expect((await stack.api(`/api/v1/tokens/${created.id}`, fay, { method: 'DELETE' })).status).toBe(204);
    expect((await stack.api('/api/v1/me', bearer)).status).toBe(401);
    expect(((await (await stack.api('/api/v1/tokens', fay)).json()) as { tokens: ApiTokenView[] }).tokens).toEqual([]);
  });
});

describe('admins', () => {
  it('someone removed from ADMIN_USERS is no admin after the restart, with the cookie and token they already had', async () => {
    const admin = await stack.startGateway(ADMIN_GW, { ADMIN_USERS: 'gwen', ...manySignIns });
    const gwen = await cookieAt(ADMIN_GW, 'gwen');
    expect(await (await call(ADMIN_GW, '/api/v1/me', gwen)).json()).toMatchObject({ username: 'gwen', admin: true });
    expect((await call(ADMIN_GW, '/api/v1/admin/capacity', gwen)).status).toBe(200);
    const minted = await fetch(`${at(ADMIN_GW)}/api/v1/tokens`, { method: 'POST', headers: { origin: at(ADMIN_GW), 'content-type': 'application/json', ...gwen }, body: JSON.stringify({ name: 'ops' }) });
    const bearer = { authorization: `Bearer ${((await minted.json()) as { token: string }).token}` };
    expect((await call(ADMIN_GW, '/api/v1/admin/capacity', bearer)).status).toBe(200);

    admin.child.kill('SIGTERM');
    await admin.exited;
    await stack.startGateway(ADMIN_GW, { ADMIN_USERS: '', ...manySignIns });
    for (const auth of [gwen, bearer]) {
      expect(await (await call(ADMIN_GW, '/api/v1/me', auth)).json()).toMatchObject({ username: 'gwen', admin: false });
      expect((await call(ADMIN_GW, '/api/v1/admin/capacity', auth)).status).toBe(403);
    }
  });
});

describe('transcription storage', () => {
  // No worker runs in this stack: uploads stay queued, holding their bytes.
  const wav = silentWav(20); // 640 kB: one fits in a 1 MiB quota, two do not

  it('holds each user to their byte quota, and a cancelled job frees its share and leaves no files', async () => {
    await stack.startGateway(QUOTA_GW, { TRANSCRIPTION_QUOTA_MIB: '1', ...manySignIns });
    const [hana, ivan] = [await cookieAt(QUOTA_GW, 'hana'), await cookieAt(QUOTA_GW, 'ivan')];
    const first = await upload(QUOTA_GW, hana, wav);
    expect(first.status).toBe(202);
    const job = (await first.json()) as TranscriptionView;
    expect(existsSync(path.join(stack.dataDir, job.id, 'upload'))).toBe(true);

    const over = await errorOf(await upload(QUOTA_GW, hana, wav));
    expect(over).toMatchObject({ status: 413, code: 'payload_too_large', message: expect.stringMatching(/0\.6 MiB of your 1 MiB/) });
    // Another user's quota is their own.
    expect((await upload(QUOTA_GW, ivan, wav)).status).toBe(202);

    expect((await call(QUOTA_GW, `/api/v1/transcriptions/${job.id}`, hana, 'DELETE')).status).toBe(200);
    expect(existsSync(path.join(stack.dataDir, job.id))).toBe(false);
    expect((await upload(QUOTA_GW, hana, wav)).status).toBe(202);
  });

  // The record that counts an upload is written once it has arrived: counted only then, ten sent at once all fit.
  it('holds the quota and the pending limit when one user sends ten uploads at once', async () => {
    await stack.startGateway(CROWDED_QUOTA_GW, { TRANSCRIPTION_QUOTA_MIB: '1', ...manySignIns });
    await stack.startGateway(CROWDED_PENDING_GW, { TRANSCRIPTION_MAX_PENDING: '1', ...manySignIns });
    for (const [port, user, refusal] of [[CROWDED_QUOTA_GW, 'lars', 413], [CROWDED_PENDING_GW, 'mona', 429]] as const) {
      const auth = await cookieAt(port, user);
      const statuses = (await Promise.all(Array.from({ length: 10 }, () => upload(port, auth, wav)))).map((r) => r.status).sort();
      expect({ user, statuses }).toEqual({ user, statuses: [202, ...Array<number>(9).fill(refusal)] });
      expect(((await (await call(port, '/api/v1/transcriptions', auth)).json()) as { transcriptions: unknown[] }).transcriptions).toHaveLength(1);
    }
  });

  it('refuses uploads with 507 when the disk would go below its floor, keeping nothing', async () => {
    // 10 TiB must stay free: no test machine has that.
    await stack.startGateway(FULL_DISK_GW, { TRANSCRIPTION_MIN_FREE_MIB: '10485760', ...manySignIns });
    const jack = await cookieAt(FULL_DISK_GW, 'jack');
    const refused = await errorOf(await upload(FULL_DISK_GW, jack, wav));
    expect(refused).toMatchObject({ status: 507, code: 'insufficient_storage', message: expect.stringMatching(/short of disk space/) });
    expect(((await (await call(FULL_DISK_GW, '/api/v1/transcriptions', jack)).json()) as { transcriptions: unknown[] }).transcriptions).toEqual([]);
  });

  // `key in languages` found what every object inherits: "constructor" was queued as a language code.
  it('refuses languages named after what every object inherits', async () => {
    const kim = await stack.signIn('kim');
    for (const language of ['constructor', 'toString', '__proto__']) {
      const refused = await errorOf(await upload(18980, kim, wav, { language }));
      expect({ language, ...refused }).toMatchObject({ language, status: 400, message: expect.stringMatching(/unknown language/) });
    }
  });
});

describe('slow clients', () => {
  const SLOW_GW = 18988;

  /** Resident memory of a process, in MB (from /proc). */
  const residentMb = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

  it("one that reads a large answer at 1 KB/s and one that never reads hold the gateway's memory to a bound; others are served meanwhile", async () => {
    // One process (the production default), whose memory is the gateway's.
    const gateway = await stack.startGateway(SLOW_GW, { ...manySignIns, GATEWAY_WORKERS: '1' });
    const pid = gateway.child.pid ?? 0;
    const owner = await cookieAt(SLOW_GW, 'slowpoke');
    const { session } = await stack.launchSession(owner, 'echo');
    // 64 MB in the session's home, served by its httpd.
    const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
    const wrote = await podman.exec(`visp-session-echo-${session.sid}`, ['sh', '-c', 'dd if=/dev/zero of=www/big bs=1M count=64 2>/dev/null']);
    expect(wrote.exitCode).toBe(0);
    const before = residentMb(pid);

    // Raw sockets, so that the client decides how fast it reads: one never reads, one reads 1 KB a second.
    const request = `GET /s/${session.sid}/big HTTP/1.1\r\nHost: 127.0.0.1:${SLOW_GW}\r\nCookie: ${owner.cookie}\r\n\r\n`;
    const open = () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect(SLOW_GW, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      });
    const [stalled, trickling] = [await open(), await open()];
    stalled.pause();
    stalled.write(request);
    trickling.pause();
    trickling.write(request);
    let trickled = 0;
    const trickle = setInterval(() => {
      const chunk = trickling.read(1024) as Buffer | null;
      trickled += chunk?.length ?? 0;
    }, 1000);
    try {
      // Meanwhile another user is served, again and again, and the slow ones' answers wait in flow control.
      const other = await cookieAt(SLOW_GW, 'brisk');
      const served: number[] = [];
      let peak = 0;
      for (let i = 0; i < 20; i++) {
        served.push((await call(SLOW_GW, '/api/v1/me', other)).status);
        peak = Math.max(peak, residentMb(pid));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(served).toEqual(served.map(() => 200));
      expect(trickled).toBeGreaterThan(0);
      // Two 64 MB answers in flight: the gateway holds a bounded window of each, not the answers.
      expect(peak - before).toBeLessThan(32);
    } finally {
      clearInterval(trickle);
      stalled.destroy();
      trickling.destroy();
    }
  }, 60_000);
});
