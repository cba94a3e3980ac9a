// One user's code cannot reach another user's session, nor the services, from inside its own session (local mode,
// as `npm start` runs it): every session is alone on an isolated network of its own, its port published on the
// host's loopback only, and the services listen on loopback. Nor can any other process of the host use a session
// through that published port: it is the session guard's (tools/session-guard), which lets through only requests
// with the session's credential, the one the gateway adds. Attacked from inside alice's running session with
// TCP connects to bob's R app (the real stand-in, which serves without any token), by address and by published
// port, and to the gateway, session-manager, Redis, the database and the Podman socket. (Not by name: alice's
// network's DNS never knows bob's, so such a probe could not fail; bob's network's DNS does answer it, a gap
// docs/security.md lists.)
import WebSocket from 'ws';
import { SESSION_GUARD_PORT } from '@visp/config';
import { PodmanClient, discoverPodman } from '@visp/podman-client';
import { TOKEN_ENV } from '@visp/sessions';
import { testMongoUri, testPodmanHost, testRedisUrl } from '@visp/testing';
import { upgradeStatus, useGatewayStack } from './gateway-stack';
import { loopbackRequest } from './loopback-http';

const PORTS = { sessionManager: 18820, gateway: 18880 };
const stack = useGatewayStack(PORTS, 'isolation');
const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));

/** `open` when a TCP connection from inside `container` to host:port succeeds, else `closed` (refused, no route, timed out, unresolved). */
async function connectFrom(container: string, host: string, port: number): Promise<'open' | 'closed'> {
  const ran = await podman.exec(container, ['sh', '-c', `nc -w 2 ${host} ${port} </dev/null >/dev/null 2>&1 && echo open || echo closed`], { timeoutMs: 15_000 });
  return ran.stdout.trim() === 'open' ? 'open' : 'closed';
}

describe('a session cannot reach other sessions or the services', () => {
  it('from alice’s session: bob’s R app by address and published port, and every service: all closed', async () => {
    const alice = (await stack.launchSession(await stack.signIn('iso-alice'), 'echo')).session;
    const bob = (await stack.launchSession(await stack.signIn('iso-bob'), 'rstudio')).session;
    const [aliceBox, bobBox] = await Promise.all([podman.inspectContainer(`visp-session-echo-${alice.sid}`), podman.inspectContainer(`visp-session-rstudio-${bob.sid}`)]);
    const bobAddress = Object.values(bobBox.networks)[0] as string;
    const bobPublished = bobBox.ports[`${SESSION_GUARD_PORT}/tcp`] as number;
    // Where the host is, seen from alice's network: its gateway address.
    const aliceNetwork = Object.keys(aliceBox.networks)[0] as string;
    const inspected = (await podman.docker.getNetwork(aliceNetwork).inspect()) as { IPAM?: { Config?: Array<{ Gateway?: string }> } };
    const hostAddress = inspected.IPAM?.Config?.[0]?.Gateway ?? '';
    expect(hostAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // The probe works: alice reaches her own app, and the host reaches bob's app on its published port (with his credential).
    expect(await connectFrom(aliceBox.id, '127.0.0.1', 8080)).toBe('open');
    expect((await fetch(`http://127.0.0.1:${bobPublished}/`, { headers: { authorization: `token ${bobBox.env[TOKEN_ENV]}` } })).status).toBe(200);

    const port = (url: string) => Number(new URL(url).port);
    const targets: Array<[string, string, number]> = [
      ['bob by address', bobAddress, 8787],
      ['bob’s guard by address', bobAddress, SESSION_GUARD_PORT],
      ['bob’s published port on the host', hostAddress, bobPublished],
      ['bob’s published port on loopback', '127.0.0.1', bobPublished],
      ['gateway', hostAddress, PORTS.gateway],
      ['session-manager', hostAddress, PORTS.sessionManager],
      ['Redis', hostAddress, port(testRedisUrl())],
      ['database', hostAddress, port(testMongoUri('x'))],
    ];
    const reached = [];
    for (const [what, host, p] of targets) reached.push([what, await connectFrom(aliceBox.id, host, p)]);
    expect(reached).toEqual(targets.map(([what]) => [what, 'closed']));

    // The Podman API is a socket on the host's file system: nothing of it is inside the session.
    const socket = testPodmanHost().replace(/^unix:\/\//, '');
    const found = await podman.exec(aliceBox.id, ['sh', '-c', `ls ${socket} /run/podman/podman.sock /var/run/docker.sock 2>/dev/null; true`]);
    expect(found.stdout.trim()).toBe('');
  }, 120_000);

  it('from any process of the host: bob’s published port serves nothing without his session’s credential; through the gateway he works as before', async () => {
    const bob = await stack.signIn('iso-bob2');
    const { session } = await stack.launchSession(bob, 'rstudio');
    const box = await podman.inspectContainer(`visp-session-rstudio-${session.sid}`);
    // Only the guard's port is published: the app's own (8787) is not on the host at all.
    expect(Object.keys(box.ports)).toEqual([`${SESSION_GUARD_PORT}/tcp`]);
    const published = `http://127.0.0.1:${box.ports[`${SESSION_GUARD_PORT}/tcp`]}`;
    const token = box.env[TOKEN_ENV] as string;
    const good = `token ${token}`;

    // A plain fetch, as any local process would: GET and POST, no credential, a wrong one, the token as a query.
    const answers = [];
    for (const [what, url, init] of [
      ['GET', `${published}/`, {}],
      ['POST', `${published}/`, { method: 'POST', body: 'x=1' }],
      ['a wrong token', `${published}/`, { headers: { authorization: 'token wrong-0123456789abcdefghijkl' } }],
      ['a Bearer token', `${published}/`, { headers: { authorization: `Bearer ${token}` } }],
      ['the token as a query', `${published}/?token=${token}`, {}],
      ['the token in a cookie', `${published}/`, { headers: { cookie: `token=${token}` } }],
    ] as const) {
      const res = await fetch(url, init);
      answers.push([what, res.status, await res.text()]);
    }
    expect(answers).toEqual(answers.map(([what]) => [what, 403, 'forbidden\n']));

    // Raw requests, headers exactly as written: the credential duplicated or mangled, alone or with an upgrade.
    const upgrade: Array<[string, string]> = [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==']];
    const raw: Array<[string, Array<[string, string]>]> = [
      ['the credential twice', [['Authorization', good], ['Authorization', good]]],
      ['the credential twice, in two spellings', [['authorization', good], ['AUTHORIZATION', good]]],
      ['a wrong one before the credential', [['Authorization', 'token wrong'], ['Authorization', good]]],
      ['the credential twice in one value', [['Authorization', `${good}, ${good}`]]],
      ['the scheme capitalised', [['Authorization', `Token ${token}`]]],
      ['a character more', [['Authorization', `${good}x`]]],
      ['a character less', [['Authorization', good.slice(0, -1)]]],
      ['a WebSocket upgrade without it', upgrade],
      ['a WebSocket upgrade with it twice', [...upgrade, ['Authorization', good], ['authorization', good]]],
    ];
    const rawAnswers = [];
    for (const [what, headers] of raw) {
      for (const method of ['GET', 'POST']) rawAnswers.push([what, method, (await loopbackRequest(`${published}/websocket/`, { method, headers, ...(method === 'POST' ? { body: 'x=1' } : {}) })).status]);
    }
    expect(rawAnswers).toEqual(rawAnswers.map(([what, method]) => [what, method, 403]));
    // The same with a WebSocket client: refused without the credential, opened with it (the refusals are the guard's).
    const wsUrl = `${published.replace('http', 'ws')}/websocket/`;
    expect(await upgradeStatus(wsUrl, {})).toBe(403);
    expect(await upgradeStatus(wsUrl, { authorization: 'token wrong' })).toBe(403);
    expect(await upgradeStatus(wsUrl, { authorization: good })).toBe(101);
    expect((await fetch(`${published}/`, { headers: { authorization: good } })).status).toBe(200);

    // Through the gateway, bob's session works as before, HTTP and WebSocket (the gateway adds the credential).
    const page = await fetch(`${stack.url}/s/${session.sid}/`, { headers: bob });
    expect([page.status, (await page.text()).includes('VISP R session')]).toEqual([200, true]);
    const ws = new WebSocket(`${stack.url.replace('http', 'ws')}/s/${session.sid}/websocket/`, { headers: { ...bob, ...stack.origin } });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    ws.close();
    expect(first).toContain('config');
  }, 120_000);
});
