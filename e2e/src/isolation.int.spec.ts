// One user's code cannot reach another user's session, nor the services, from inside its own session (local mode,
// as `npm start` runs it): every session is alone on an isolated network of its own, its port published on the
// host's loopback only, and the services listen on loopback. Attacked from inside alice's running session with
// TCP connects to bob's R app (the real stand-in, which serves without any token), by address and by published
// port, and to the gateway, session-manager, Redis, the database and the Podman socket. (Not by name: alice's
// network's DNS never knows bob's, isolated or not, so such a probe could not fail; bob's network's DNS does
// answer it, a gap docs/security.md lists.)
import { PodmanClient, discoverPodman } from '@visp/podman-client';
import { testMongoUri, testPodmanHost, testRedisUrl } from '@visp/testing';
import { useGatewayStack } from './gateway-stack';

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
    const bobPublished = bobBox.ports['8787/tcp'] as number;
    // Where the host is, seen from alice's network: its gateway address.
    const aliceNetwork = Object.keys(aliceBox.networks)[0] as string;
    const inspected = (await podman.docker.getNetwork(aliceNetwork).inspect()) as { IPAM?: { Config?: Array<{ Gateway?: string }> } };
    const hostAddress = inspected.IPAM?.Config?.[0]?.Gateway ?? '';
    expect(hostAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // The probe works: alice reaches her own app, and the host reaches bob's app on its published port.
    expect(await connectFrom(aliceBox.id, '127.0.0.1', 8080)).toBe('open');
    expect((await fetch(`http://127.0.0.1:${bobPublished}/`)).status).toBe(200);

    const port = (url: string) => Number(new URL(url).port);
    const targets: Array<[string, string, number]> = [
      ['bob by address', bobAddress, 8787],
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
});
