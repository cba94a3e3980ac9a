// The whole product as containers from quadlets/ (container-stack.ts), driven only from outside through the
// gateway, as a user would. Every container's log is saved under .visp/artifacts when a scenario fails.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import WebSocket from 'ws';
import path from 'node:path';
import type { ReconcileReport, SessionStreamMessage, SessionView, TranscriptionView, VispTranscriptionItem } from '@visp/contracts';
import { execute, librivoxClips, openKernel, readSse, waitFor, wordErrorRate } from '@visp/testing';
import { startContainerStack, type ContainerStack } from './container-stack';
import { launchChromium, openJupyterFromStartPage, problems, signInOnPage } from './chromium';
import { loopbackRequest } from './loopback-http';
import { signInOnSite, VispClient } from './visp-client';
import { WebclientClient } from './webclient-client';

const GW_PORT = 18880;
/** The site's name and VISP's app host below it, both on the gateway's published port (loopbackRequest). */
const SITE = 'visp.test';
const APP = `app.${SITE}`;
const ARTIFACTS = path.resolve(__dirname, '../../.visp/artifacts/stack');
let stack: ContainerStack;
/**
 * VISP's `mounts/repositories`: the projects' files, bound into their sessions through the socket proxy and into
 * the gateway by install's drop-in (it reads bundles and writes their transcripts).
 */
const repositories = mkdtempSync(path.join(tmpdir(), 'visp-stack-repositories-'));

beforeAll(async () => {
  // Recovery looks often, so a scenario does not wait half a minute for it; admins can trigger it too. The VISP
  // profile is on: VISP's webclient speaks on `/`, and app.<site> serves the session its access code names.
  stack = await startContainerStack({
    gatewayPort: GW_PORT,
    projectRepositories: repositories,
    env: { RECOVERY_INTERVAL: '3', ADMIN_USERS: 'root', VISP_WEBCLIENT: 'true', APP_HOSTS: APP, COOKIE_DOMAIN: SITE },
  });
}, 600_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(repositories, { recursive: true, force: true });
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
      writeFileSync(path.join(dir, 'network.txt'), networkState());
      throw err;
    }
  }, timeoutMs);
}

/** Every container's addresses, the networks, and the gateway's neighbour table: for a request that could not connect. */
function networkState(): string {
  const run = (...args: string[]) => {
    try {
      return stack.podman(...args);
    } catch (err) {
      return `podman ${args.join(' ')}: ${err instanceof Error ? err.message : String(err)}\n`;
    }
  };
  return [
    run('ps', '--all', '--format', '{{.Names}} {{.Status}} {{.Networks}}'),
    run('container', 'inspect', '--format', '{{.Name}} {{range $n, $s := .NetworkSettings.Networks}}{{$n}}={{$s.IPAddress}}/{{$s.MacAddress}} {{end}}', ...run('ps', '--all', '--format', '{{.Names}}').split('\n').filter(Boolean)),
    run('network', 'inspect', '--format', '{{.Name}} {{range .Subnets}}{{.Subnet}} {{end}}{{.NetworkInterface}}', 'visp-net', 'visp-whisper', ...run('network', 'ls', '--format', '{{.Name}}').split('\n').filter((n) => n.startsWith('visp-session-net-'))),
    run('exec', 'visp-gateway', 'cat', '/proc/net/arp'),
    // How the session-manager, now, resolves and reaches Redis and the database: a service that lost Redis for
    // 40 s right after joining a session's network (ETIMEDOUT, once in a clean-clone run) is told apart from DNS.
    ...['visp-session-manager', 'visp-recovery'].map((container) =>
      run('exec', container, 'sh', '-c', `echo ${container}; cat /etc/resolv.conf /etc/hosts; cat /proc/net/route; getent hosts visp-redis visp-mongo; cat /proc/net/arp /proc/net/tcp`),
    ),
    ...['visp-session-manager', 'visp-recovery'].map((container) =>
      run('exec', container, 'node', '-e', `const net=require('net');for(const [h,p] of [['visp-redis',6379],['visp-mongo',27017]]){const t=Date.now();const s=net.connect(p,h);s.setTimeout(5000,()=>{console.log('${container}',h,'timeout',Date.now()-t);s.destroy()});s.on('connect',()=>{console.log('${container}',h,'connected',Date.now()-t,s.remoteAddress);s.end()});s.on('error',e=>console.log('${container}',h,e.code,Date.now()-t))}`),
    ),
  ].join('\n');
}

const origin = { origin: `http://127.0.0.1:${GW_PORT}` };

/** A request to VISP's app host, as the webclient's iframe makes it. */
const onApp = (pathAndQuery: string, cookie: string) => loopbackRequest(`http://${APP}${pathAndQuery}`, { port: GW_PORT, headers: [['Cookie', cookie]] });

async function signIn(username: string): Promise<Record<string, string>> {
  const res = await fetch(`${stack.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...origin }, body: JSON.stringify({ username, key: stack.secrets['visp-test-user-login-key'] }) });
  expect(res.status).toBe(200);
  // With COOKIE_DOMAIN the gateway also removes the old domain-wide cookie (Max-Age=0) and sets the app hosts' one.
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('visp_login=') && !c.includes('Max-Age=0'));
  return { cookie: cookie?.split(';')[0] ?? '', ...origin };
}

async function launch(auth: Record<string, string>, type: string): Promise<SessionView> {
  const res = await fetch(`${stack.url}/api/v1/sessions`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ type }) });
  expect(res.status).toBe(202);
  const session = (await res.json()) as SessionView;
  const stream = await readSse<SessionStreamMessage>(`${stack.url}/api/v1/sessions/${session.sid}/events`, auth, (m) => m.kind === 'state' && ['ready', 'failed'].includes(m.state));
  expect(stream.at(-1)).toMatchObject({ kind: 'state', state: 'ready' });
  return session;
}

/** Starts a kernel in the session through the gateway; returns its id. */
async function startKernel(sid: string, auth: Record<string, string>): Promise<string> {
  const kernel = await fetch(`${stack.url}/s/${sid}/api/kernels`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"name":"python3"}' });
  expect(kernel.status).toBe(201);
  return ((await kernel.json()) as { id: string }).id;
}

const kernelSocket = (sid: string, kernel: string, auth: Record<string, string>) => openKernel(`${stack.url.replace('http', 'ws')}/s/${sid}/api/kernels/${kernel}/channels`, auth);

/** Runs `code` on a new kernel of the session, over its WebSocket through the gateway. */
async function runOnKernel(sid: string, auth: Record<string, string>, code: string): Promise<string> {
  const ws = await kernelSocket(sid, await startKernel(sid, auth), auth);
  try {
    return await execute(ws, code, 60_000);
  } finally {
    ws.close();
  }
}

const api = (route: string, auth: Record<string, string>, init: RequestInit = {}) => fetch(`${stack.url}${route}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
const stopSession = async (sid: string, auth: Record<string, string>) => expect((await api(`/api/v1/sessions/${sid}`, auth, { method: 'DELETE' })).status).toBe(200);

describe('the product in containers', () => {
  scenario('runs every service from its quadlet, healthy, on the documented networks', () => {
    for (const service of ['redis', 'mongo', 'socket-proxy', 'session-manager', 'recovery', 'whisper-worker', 'gateway']) {
      expect(stack.podman('container', 'inspect', `visp-${service}`, '--format', '{{.State.Status}}').trim()).toBe('running');
    }
    // The services' containers start on their own networks only; sessions' networks are joined as sessions start.
    expect(stack.podman('container', 'inspect', 'visp-gateway', '--format', '{{range $n, $s := .NetworkSettings.Networks}}{{$n}} {{end}}').trim()).toBe('visp-net');
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

  scenario('an rstudio session (the offline R stand-in) over HTTP and WebSocket through the prefix-stripping proxy', async () => {
    const hana = await signIn('hana');
    const session = await launch(hana, 'rstudio');
    expect(await (await api(`/s/${session.sid}/`, hana)).text()).toContain('VISP R session');
    const ws = new WebSocket(`${stack.url.replace('http', 'ws')}/s/${session.sid}/websocket/`, { headers: hana });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    ws.close();
    expect(first).toContain('config');
    await stopSession(session.sid, hana);
  }, 300_000);

  scenario('the start page in Chromium: sign in, launch Jupyter, watch the bar reach ready, open it', async () => {
    const browser = await launchChromium(stack.url);
    try {
      const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
      const page = await context.newPage();
      const { errors } = problems(page);
      await page.goto(stack.url);
      await signInOnPage(page, 'ivy', stack.secrets['visp-test-user-login-key'] as string);
      await page.getByRole('button', { name: 'Launch jupyter' }).click();
      await page.getByText('jupyter is ready').waitFor({ timeout: 180_000 });
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'browser-ready.png'), fullPage: true });
      const sessionPage = await openJupyterFromStartPage(context, page, path.join(ARTIFACTS, 'browser-session.png'));
      expect(sessionPage.url()).toMatch(/\/s\/[a-z2-7]{12}\/lab/);
      await page.getByRole('button', { name: 'Stop jupyter session', exact: true }).click();
      await page.getByText('No sessions yet.').waitFor({ timeout: 60_000 });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 300_000);

  scenario('two users: neither reaches the other\'s session, and from inside a session nothing else is reachable', async () => {
    const [carol, dan] = [await signIn('carol'), await signIn('dan')];
    const [mine, theirs] = [await launch(carol, 'jupyter'), await launch(dan, 'jupyter')];
    expect((await api(`/s/${theirs.sid}/api/status`, carol)).status).toBe(404);
    expect((await api(`/api/v1/sessions/${theirs.sid}`, carol)).status).toBe(404);
    await expect(kernelSocket(theirs.sid, 'any', carol)).rejects.toThrow(/404/);

    // Each session is alone on an internal network of its own, which the gateway, the session-manager and
    // recovery join; they listen on visp-net only. Where everything is, as Podman says:
    const addresses = (container: string) => JSON.parse(stack.podman('container', 'inspect', container, '--format', '{{json .NetworkSettings.Networks}}')) as Record<string, { IPAddress: string }>;
    const [myNet, theirNet] = [`visp-session-net-${mine.sid}`, `visp-session-net-${theirs.sid}`];
    const theirApp = `visp-session-jupyter-${theirs.sid}`;
    const theirAddress = addresses(theirApp)[theirNet]?.IPAddress as string;
    expect(Object.keys(addresses(theirApp))).toEqual([theirNet]);
    // (The socket proxy is on no network at all; its sockets are not in the session, checked below.)
    const services = ['gateway', 'session-manager', 'recovery', 'redis', 'mongo', 'whisper-worker'] as const;
    const servicePorts: Record<(typeof services)[number], number> = { gateway: 8080, 'session-manager': 8020, recovery: 8030, redis: 6379, mongo: 27017, 'whisper-worker': 8040 };
    const targets: Array<[string, string, number]> = [[`their app by name`, theirApp, 8888], ['their app by address', theirAddress, 8888]];
    for (const service of services) {
      const at = addresses(`visp-${service}`);
      targets.push([`${service} by name`, `visp-${service}`, servicePorts[service]], [`${service} on visp-net`, at['visp-net']?.IPAddress as string, servicePorts[service]]);
      // The joiners are on carol's network too: there they answer nothing.
      if (at[myNet]) targets.push([`${service} on carol's network`, at[myNet].IPAddress, servicePorts[service]]);
    }
    expect(targets.filter(([what]) => what.endsWith("on carol's network")).map(([what]) => what)).toEqual(["gateway on carol's network", "session-manager on carol's network", "recovery on carol's network"]);
    targets.push(['the internet', '1.1.1.1', 443]);

    // From carol's kernel, inside her container: a TCP connect to each.
    const connects = await runOnKernel(
      mine.sid,
      carol,
      `import socket\ndef probe(host, port):\n    try:\n        socket.create_connection((host, port), timeout=3).close(); return 'open'\n    except Exception as e:\n        return type(e).__name__\n[probe(h, p) for h, p in ${JSON.stringify(targets.map(([, host, port]) => [host, port]))}]`,
    );
    // A Python list of exception names: ['gaierror', 'ConnectionRefusedError', …].
    const reached = (JSON.parse(connects.replace(/'/g, '"')) as string[]).map((result, i) => [targets[i]?.[0], result === 'open' ? 'open' : 'closed']);
    expect(reached).toEqual(targets.map(([what]) => [what, 'closed']));
    // The probe itself works: carol reaches her own app.
    expect(await runOnKernel(mine.sid, carol, "import socket\nsocket.create_connection(('127.0.0.1', 8888), timeout=3).close()\n'open'")).toBe("'open'");
    // Every port of dan's session, not just the app's: nothing answers (no route to his network at all).
    const scan = await runOnKernel(mine.sid, carol, `import socket\nopen_ports = []\nfor port in range(1, 65536):\n    s = socket.socket()\n    s.settimeout(0.5)\n    if s.connect_ex(('${theirAddress}', port)) == 0: open_ports.append(port)\n    s.close()\nopen_ports`);
    expect(scan).toBe('[]');

    // The services' network still reaches them (a readiness report for an operator there, at the service's fixed
    // address: visp-net has no name server), and nothing of Podman is inside the session.
    expect(stack.podman('network', 'inspect', 'visp-net', '--format', '{{.DNSEnabled}}').trim()).toBe('false');
    const sessionManagerAddress = addresses('visp-session-manager')['visp-net']?.IPAddress as string;
    expect(stack.podman('exec', 'visp-whisper-worker', 'node', '-e', `fetch('http://${sessionManagerAddress}:8020/metrics').then((r) => console.log(r.status))`).trim()).toBe('200');
    expect(await runOnKernel(mine.sid, carol, "import os\n[p for p in ('/run/podman/podman.sock', '/var/run/docker.sock', '/run/visp') if os.path.exists(p)]")).toBe('[]');
    await stopSession(mine.sid, carol);
    await stopSession(theirs.sid, dan);
    // Stopped, their networks are gone, the joiners taken off them first (never removed with them).
    const left = stack.podman('network', 'ls', '--format', '{{.Name}}').split('\n');
    expect([left.includes(myNet), left.includes(theirNet)]).toEqual([false, false]);
    expect(stack.podman('container', 'inspect', 'visp-gateway', '--format', '{{.State.Status}}').trim()).toBe('running');
  }, 400_000);

  scenario('the gateway restarted (a new container, on none of the old one’s networks): recovery joins it to the sessions’, and they answer again; restarted in place, the joiners still listen on visp-net only', async () => {
    const hal = await signIn('hal');
    const session = await launch(hal, 'jupyter');
    expect((await api(`/s/${session.sid}/api/status`, hal)).status).toBe(200);
    stack.start('gateway');
    await waitFor('the new gateway to be ready', async () => (await fetch(`${stack.url}/readyz`).catch(() => undefined))?.status === 200, 120_000);
    // Recovery looks every 3 s here (RECOVERY_INTERVAL). Asked before that, the gateway has no route to the
    // session; on these machines a sandbox proxy then holds the connection instead of refusing it, so the test
    // waits for the join itself before it asks. The sign-in cookie lives in Redis and still works.
    const gatewayNetworks = () => stack.podman('container', 'inspect', 'visp-gateway', '--format', '{{range $n, $s := .NetworkSettings.Networks}}{{$n}} {{end}}').trim().split(' ');
    await waitFor('recovery to join the new gateway to the session’s network', () => gatewayNetworks().includes(`visp-session-net-${session.sid}`), 60_000);
    expect(gatewayNetworks()).toEqual(expect.arrayContaining(['visp-net', `visp-session-net-${session.sid}`]));
    expect((await api(`/s/${session.sid}/api/status`, hal)).status).toBe(200);
    expect(await runOnKernel(session.sid, hal, '6 * 7')).toBe('42');

    // Restarted in place (`podman restart`: the same containers, still on the session's network, their /etc/hosts
    // rewritten with a line per network in no fixed order): they listen on visp-net again, and only there.
    stack.podman('restart', '--time', '5', 'visp-gateway', 'visp-session-manager', 'visp-recovery');
    await waitFor('the gateway to be ready after its restart', async () => (await fetch(`${stack.url}/readyz`).catch(() => undefined))?.status === 200, 120_000);
    await waitFor('the session-manager to answer again', async () => (await api(`/api/v1/sessions/${session.sid}`, hal)).status === 200, 90_000);
    const net = `visp-session-net-${session.sid}`;
    const joiners: Array<[string, number]> = [['visp-gateway', 8080], ['visp-session-manager', 8020], ['visp-recovery', 8030]];
    const onSessionNet = joiners.map(([name, port]) => [(JSON.parse(stack.podman('container', 'inspect', name, '--format', '{{json .NetworkSettings.Networks}}')) as Record<string, { IPAddress: string }>)[net]?.IPAddress, port]);
    expect(onSessionNet.every(([address]) => typeof address === 'string')).toBe(true);
    const probe = `import socket\ndef probe(host, port):\n    try:\n        socket.create_connection((host, port), timeout=3).close(); return 'open'\n    except Exception as e:\n        return 'closed'\n[probe(h, p) for h, p in ${JSON.stringify(onSessionNet)}]`;
    expect(await runOnKernel(session.sid, hal, probe)).toBe("['closed', 'closed', 'closed']");
    await stopSession(session.sid, hal);
  }, 400_000);

  scenario('a recording is uploaded, followed over the webclient socket, and downloaded as SRT', async () => {
    const erin = await signIn('erin');
    const clip = librivoxClips()[2]!;
    const form = new FormData();
    form.set('file', new Blob([readFileSync(clip.wav)]), 'interview.wav');
    form.set('language', 'English');
    const res = await api('/api/v1/transcriptions', erin, { method: 'POST', body: form });
    expect(res.status).toBe(202);
    const job = (await res.json()) as TranscriptionView;
    const socket = await WebclientClient.open(GW_PORT, erin);
    try {
      socket.send({ cmd: 'followTranscription', requestId: 'follow', data: { id: job.id } });
      expect(await socket.final('follow', 120_000)).toMatchObject({ progress: 'end', result: true, message: 'completed' });
    } finally {
      socket.close();
    }
    const srt = await (await api(`/api/v1/transcriptions/${job.id}/result?format=srt`, erin)).text();
    expect(srt).toMatch(/^1\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\n.*selfish/i);
  }, 200_000);

  scenario('the session-manager killed: sessions keep working, the kernel keeps its state, and a new session-manager takes over', async () => {
    const fay = await signIn('fay');
    const session = await launch(fay, 'jupyter');
    const kernel = await startKernel(session.sid, fay);
    const ws = await kernelSocket(session.sid, kernel, fay);
    expect(await execute(ws, 'answer = 41; answer', 60_000)).toBe('41');
    stack.kill('session-manager');

    // The proxy needs no session-manager; the open socket carries on, and a new one finds the same kernel.
    expect(await execute(ws, 'answer', 60_000)).toBe('41');
    ws.close();
    const again = await kernelSocket(session.sid, kernel, fay);
    expect(await execute(again, 'answer + 1', 60_000)).toBe('42');
    again.close();
    const root = await signIn('root');
    const report = (await (await api('/api/v1/admin/reconcile', root, { method: 'POST' })).json()) as ReconcileReport;
    // Nothing is missing, so there is nothing to do for this session.
    expect(report.outcomes.filter((o) => o.sid === session.sid)).toEqual([]);

    stack.start('session-manager');
    await waitFor('the session-manager to answer again', async () => (await api(`/api/v1/sessions/${session.sid}`, fay)).status === 200, 90_000);
    expect(await (await api(`/api/v1/sessions/${session.sid}`, fay)).json()).toMatchObject({ state: 'ready' });
    await stopSession(session.sid, fay);
  }, 400_000);

  scenario('Redis and the database restarted: no session and no transcription lost', async () => {
    const gus = await signIn('gus');
    const session = await launch(gus, 'jupyter');
    const kernel = await startKernel(session.sid, gus);
    const form = new FormData();
    form.set('file', new Blob([readFileSync(librivoxClips()[3]!.wav)]), 'talk.wav');
    const job = (await (await api('/api/v1/transcriptions', gus, { method: 'POST', body: form })).json()) as TranscriptionView;

    stack.podman('restart', '--time', '10', 'visp-redis', 'visp-mongo');
    // Logins live in Redis (durable): the same cookie still works once the services have reconnected.
    await waitFor('the gateway to be ready again', async () => (await fetch(`${stack.url}/readyz`).catch(() => undefined))?.status === 200, 120_000);
    await waitFor('the transcription to complete', async () => ((await (await api(`/api/v1/transcriptions/${job.id}`, gus)).json()) as TranscriptionView).state === 'completed', 180_000);
    expect(await (await api(`/api/v1/sessions/${session.sid}`, gus)).json()).toMatchObject({ state: 'ready' });
    const ws = await kernelSocket(session.sid, kernel, gus);
    expect(await execute(ws, '1 + 1', 60_000)).toBe('2');
    ws.close();
    await stopSession(session.sid, gus);
  }, 400_000);

  scenario("VISP's webclient, unchanged, on /: handshake, a session in a project with its files through app.<site> (bound through the socket proxy), listed live, closed; a bundle of the project transcribed, polled, fetched and written beside it", async () => {
    const root = await signIn('root');
    const created = await api('/api/v1/admin/projects', root, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'phonetics', name: 'Phonetics', members: [{ username: 'vic', role: 'analyzer' }] }) });
    expect(created.status).toBe(201);
    // The project as VISP lays it out, writable by the sessions' and the gateway's unprivileged user.
    const files = path.join(repositories, 'phonetics');
    const bundleDir = path.join(files, 'Data', 'VISP_emuDB', 'Session 1_ses', 'clip_bndl');
    mkdirSync(bundleDir, { recursive: true });
    writeFileSync(path.join(files, 'corpus.txt'), 'the project files\n');
    const clip = librivoxClips()[1]!;
    copyFileSync(clip.wav, path.join(bundleDir, 'clip.wav'));
    chmodSync(repositories, 0o755);
    for (let dir = bundleDir; dir !== repositories; dir = path.dirname(dir)) chmodSync(dir, 0o777);

    const vic = await signInOnSite(GW_PORT, SITE, 'vic', stack.secrets['visp-test-user-login-key'] as string);
    const client = await VispClient.open(GW_PORT, SITE, vic);
    try {
      expect((await client.send({ cmd: 'authenticateUser', data: {} })).data).toEqual({ result: 200, msg: 'Authenticated' });
      expect((await client.send({ cmd: 'authorizeUser', data: {} })).data).toEqual({ result: 200, msg: 'Authorized' });
      expect(await client.send({ cmd: 'getSession', data: { phpSessId: 'x' } })).toMatchObject({ data: { username: 'vic', eppn: 'vic' } });
      expect(await client.send({ cmd: 'fetchProjects' })).toMatchObject({ message: null, data: { projects: [{ id: 'phonetics', liveAppSessions: [] }] } });

      const frames = await client.follow({ cmd: 'launchContainerSession', projectId: 'phonetics', appName: 'jupyter' });
      expect(frames.at(-1)).toMatchObject({ type: 'cmd-result', progress: 'end', result: true });
      const code = String(frames.at(-1)?.message);
      // The webclient's iframe: app.<site>/?token=<code>, then the session with the cookie it set.
      const entered = await onApp(`/?token=${code}`, vic);
      expect([entered.status, entered.headers['set-cookie']]).toEqual([303, [`SessionAccessCode=${code}; Path=/; HttpOnly; SameSite=Lax`]]);
      const listing = await onApp('/api/contents/project', `${vic}; SessionAccessCode=${code}`);
      expect(listing.status).toBe(200);
      expect((JSON.parse(listing.body) as { content: Array<{ name: string }> }).content.map((f) => f.name).sort()).toEqual(['Data', 'corpus.txt']);
      // The bind is the one the socket proxy allows: the project's directory at <home>/project, read-write.
      const mounts = JSON.parse(stack.podman('container', 'inspect', `visp-session-jupyter-${code}`, '--format', '{{json .Mounts}}')) as Array<{ Type: string; Source: string; Destination: string; RW: boolean }>;
      expect(mounts).toContainEqual(expect.objectContaining({ Type: 'bind', Source: files, Destination: '/home/visp/project', RW: true }));
      // Notebooks written on VISP name the project by its path there, /home/jovyan/project: the image's link to home.
      expect(stack.podman('exec', `visp-session-jupyter-${code}`, 'ls', '/home/jovyan/project/Data/VISP_emuDB').trim()).toBe('Session 1_ses');

      expect(await client.send({ cmd: 'fetchProjects' })).toMatchObject({ data: { projects: [{ liveAppSessions: [{ projectId: 'phonetics', username: 'vic', type: 'jupyter', sessionAccessCode: code }] }] } });
      expect(await client.send({ cmd: 'closeSession', sessionAccessCode: code })).toMatchObject({ progress: 'end', result: true, message: 'Session deleted' });

      // The bundle, transcribed by the stack's whisper-worker; the queue polled as the client does (every 5 s there).
      const bundle = { project: 'phonetics', session: 'Session 1', bundle: 'clip.wav' };
      expect(await client.send({ cmd: 'transcribe', data: { ...bundle, language: 'English', model: 'whisper' } })).toMatchObject({ type: 'cmd-result', progress: 'end', result: true });
      const done = await waitFor('the bundle to be transcribed', async () => {
        const queue = (await client.send({ cmd: 'fetchTranscriptionQueueItems', data: { project: 'phonetics' } })) as { data: VispTranscriptionItem[] };
        const item = queue.data.find((i) => i.bundle === bundle.bundle);
        return item && (item.status === 'complete' || item.status === 'error') ? item : undefined;
      }, 180_000, 1000);
      expect(done).toMatchObject({ status: 'complete', error: '' });
      const fetched = await client.send({ cmd: 'fetchTranscription', data: bundle });
      expect(fetched).toMatchObject({ type: 'cmd-result', progress: 'end', result: true });
      const { srt, text } = fetched.data as { srt: string; text: string };
      expect(wordErrorRate([{ reference: clip.reference, hypothesis: text }])).toBeLessThanOrEqual(0.25);
      // Written beside the bundle by the gateway's container, through its mount of the repositories.
      const transcript = path.join(bundleDir, 'transcription.txt');
      await waitFor('the transcript beside the bundle', () => existsSync(transcript) && readFileSync(transcript, 'utf8') === text, 20_000);
      expect(readFileSync(path.join(bundleDir, 'transcription.srt'), 'utf8')).toBe(srt);
    } finally {
      client.close();
    }
  }, 400_000);
});
