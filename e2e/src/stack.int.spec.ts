// The whole product as containers from quadlets/ (container-stack.ts), driven only from outside through the
// gateway, as a user would. Every container's log is saved under .visp/artifacts when a scenario fails.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SessionStreamMessage, SessionView } from '@visp/contracts';
import { execute, openKernel, readSse } from '@visp/testing';
import { startContainerStack, type ContainerStack } from './container-stack';

const GW_PORT = 18880;
const ARTIFACTS = path.resolve(__dirname, '../../.visp/artifacts/stack');
let stack: ContainerStack;

beforeAll(async () => {
  stack = await startContainerStack({ gatewayPort: GW_PORT });
}, 600_000);

afterAll(async () => {
  await stack?.stop();
}, 120_000);

/** A scenario whose failure leaves every container's log in .visp/artifacts/stack/<scenario>/. */
function scenario(name: string, body: () => Promise<void> | void, timeoutMs: number): void {
  it(name, async () => {
    try {
      await body();
    } catch (err) {
      const dir = path.join(ARTIFACTS, name.replace(/[^\w]+/g, '-').slice(0, 60));
      mkdirSync(dir, { recursive: true });
      for (const [container, log] of Object.entries(stack.logs())) writeFileSync(path.join(dir, `${container}.log`), log);
      throw err;
    }
  }, timeoutMs);
}

const origin = { origin: `http://127.0.0.1:${GW_PORT}` };

async function signIn(username: string): Promise<Record<string, string>> {
  const res = await fetch(`${stack.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...origin }, body: JSON.stringify({ username, key: stack.secrets['visp-test-user-login-key'] }) });
  expect(res.status).toBe(200);
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '', ...origin };
}

async function launch(auth: Record<string, string>, type: string): Promise<SessionView> {
  const res = await fetch(`${stack.url}/api/v1/sessions`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ type }) });
  expect(res.status).toBe(202);
  const session = (await res.json()) as SessionView;
  const stream = await readSse<SessionStreamMessage>(`${stack.url}/api/v1/sessions/${session.sid}/events`, auth, (m) => m.kind === 'state' && ['ready', 'failed'].includes(m.state));
  expect(stream.at(-1)).toMatchObject({ kind: 'state', state: 'ready' });
  return session;
}

/** Runs `code` on a new kernel of the session, over its WebSocket through the gateway. */
async function runOnKernel(sid: string, auth: Record<string, string>, code: string): Promise<string> {
  const base = `${stack.url}/s/${sid}/`;
  const kernel = await fetch(`${base}api/kernels`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"name":"python3"}' });
  expect(kernel.status).toBe(201);
  const { id } = (await kernel.json()) as { id: string };
  const ws = await openKernel(`${base.replace('http', 'ws')}api/kernels/${id}/channels`, auth);
  try {
    return await execute(ws, code, 60_000);
  } finally {
    ws.close();
  }
}

describe('the product in containers', () => {
  scenario('runs every service from its quadlet, healthy, on the documented networks', () => {
    for (const service of ['redis', 'mongo', 'socket-proxy', 'session-manager', 'recovery', 'whisper-worker', 'gateway']) {
      expect(stack.podman('container', 'inspect', `visp-${service}`, '--format', '{{.State.Status}}').trim()).toBe('running');
    }
    expect(stack.podman('network', 'inspect', 'visp-sessions', '--format', '{{.Internal}}').trim()).toBe('true');
    expect(stack.podman('container', 'inspect', 'visp-gateway', '--format', '{{.Config.User}}').trim()).toBe('1000:1000');
  }, 30_000);

  scenario('a user signs in, launches Jupyter, runs code, writes a file in home; after a stop and a relaunch the file is there', async () => {
    const alice = await signIn('alice');
    const first = await launch(alice, 'jupyter');
    expect(await runOnKernel(first.sid, alice, "open('/home/visp/notes.txt', 'w').write('kept across sessions')")).toBe('20');
    expect(await runOnKernel(first.sid, alice, '6 * 7')).toBe('42');
    expect((await fetch(`${stack.url}/api/v1/sessions/${first.sid}`, { method: 'DELETE', headers: alice })).status).toBe(200);

    const second = await launch(alice, 'jupyter');
    expect(second.sid).not.toBe(first.sid);
    expect(await runOnKernel(second.sid, alice, "open('/home/visp/notes.txt').read()")).toBe("'kept across sessions'");
    expect((await fetch(`${stack.url}/api/v1/sessions/${second.sid}`, { method: 'DELETE', headers: alice })).status).toBe(200);
  }, 400_000);
});
