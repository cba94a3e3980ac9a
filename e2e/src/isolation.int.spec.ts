// One user's code cannot reach another user's session, nor the services, from inside its own session (local mode,
// as `npm start` runs it): every session has user-mode networking of its own (slirp4netns), with no address a host
// route leads to and the host's loopback closed to it, its port published on the host's loopback only, and the
// services listen on loopback. Nor can any other process of the host use a session: not at its container's
// address (on a rootful host, a bridge network's addresses are routed: before, a host process reached the app
// there, past the guard), and not through the published port, which is the session guard's
// (tools/session-guard): it lets through only requests with the session's credential, the one the gateway adds.
// Attacked from inside alice's running session with TCP connects to bob's R app (the real stand-in, which serves
// without any token) and to the gateway, session-manager, Redis and the database, at every address of the host.
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
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
  it('from alice’s session: bob’s R app by its published port, and every service, at every address of the host: all closed', async () => {
    const alice = (await stack.launchSession(await stack.signIn('iso-alice'), 'echo')).session;
    const bob = (await stack.launchSession(await stack.signIn('iso-bob'), 'rstudio')).session;
    const [aliceBox, bobBox] = await Promise.all([podman.inspectContainer(`visp-session-echo-${alice.sid}`), podman.inspectContainer(`visp-session-rstudio-${bob.sid}`)]);
    const bobPublished = bobBox.ports[`${SESSION_GUARD_PORT}/tcp`] as number;
    // Neither has an address on a network of the host's: nothing to reach bob at but the host.
    expect([aliceBox.networks, bobBox.networks]).toEqual([{}, {}]);
    // The host as a session can address it: its interfaces' addresses, and slirp4netns's address for its loopback.
    const hostAddresses = ['10.0.2.2', ...Object.values(networkInterfaces()).flatMap((addresses) => (addresses ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address))];
    expect(hostAddresses.length).toBeGreaterThan(1);

    // The probe works: alice reaches her own app, and a listener on all the host's addresses at each of them
    // (so a closed port below is the service's loopback-only listening, not a probe that cannot connect).
    expect(await connectFrom(aliceBox.id, '127.0.0.1', 8080)).toBe('open');
    const everywhere = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => everywhere.listen(0, '0.0.0.0', resolve));
    try {
      const open = (everywhere.address() as AddressInfo).port;
      const external = hostAddresses.slice(1);
      expect(await Promise.all(external.map((host) => connectFrom(aliceBox.id, host, open)))).toEqual(external.map(() => 'open'));
    } finally {
      everywhere.close();
    }
    // And the host reaches bob's app on its published port (with his credential).
    expect((await fetch(`http://127.0.0.1:${bobPublished}/`, { headers: { authorization: `token ${bobBox.env[TOKEN_ENV]}` } })).status).toBe(200);

    const port = (url: string) => Number(new URL(url).port);
    const services: Array<[string, number]> = [
      ['bob’s published port', bobPublished],
      ['gateway', PORTS.gateway],
      ['session-manager', PORTS.sessionManager],
      ['Redis', port(testRedisUrl())],
      ['database', port(testMongoUri('x'))],
    ];
    const targets: Array<[string, string, number]> = [['bob’s published port on loopback', '127.0.0.1', bobPublished], ...hostAddresses.flatMap((host) => services.map(([what, p]): [string, string, number] => [`${what} at ${host}`, host, p]))];
    const reached = await Promise.all(targets.map(async ([what, host, p]) => [what, await connectFrom(aliceBox.id, host, p)]));
    expect(reached).toEqual(targets.map(([what]) => [what, 'closed']));

    // The Podman API is a socket on the host's file system: nothing of it is inside the session.
    const socket = testPodmanHost().replace(/^unix:\/\//, '');
    const found = await podman.exec(aliceBox.id, ['sh', '-c', `ls ${socket} /run/podman/podman.sock /var/run/docker.sock 2>/dev/null; true`]);
    expect(found.stdout.trim()).toBe('');
  }, 120_000);

  it('from any process of the host: bob’s app at his container’s address, past the guard, is not there', async () => {
    const { session } = await stack.launchSession(await stack.signIn('iso-bob3'), 'rstudio');
    const box = await podman.inspectContainer(`visp-session-rstudio-${session.sid}`);
    // Every address Podman gives it, and slirp4netns's address for it inside its own namespace.
    const addresses = [...Object.values(box.networks).filter(Boolean), '10.0.2.100'];
    const answers = await Promise.all(
      addresses.map(async (address) => {
        const res = await fetch(`http://${address}:8787/`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
        const body = res ? await res.text() : '';
        return [address, body.includes('VISP R session') ? 'bob’s app' : 'not bob’s app'];
      }),
    );
    expect(answers).toEqual(addresses.map((address) => [address, 'not bob’s app']));
  }, 60_000);

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
