// The webclient WebSocket through the built gateway and session-manager: VISP's command shapes and ours, pushed
// events for the owner only, bad messages answered (never a silent close), the flood limit and the heartbeat.
import type { WebclientReply } from '@visp/contracts';
import { upgradeStatus, useGatewayStack, type Auth } from './gateway-stack';
import { WebclientClient, type PushedEvent } from './webclient-client';

const GW_PORT = 18280;
const stack = useGatewayStack({ sessionManager: 18220, gateway: GW_PORT }, 'webclient');
const wsUrl = (port: number = GW_PORT) => `ws://127.0.0.1:${port}/api/v1/ws`;

describe('the webclient WebSocket', () => {
  let alice: Auth;
  let bob: Auth;
  beforeAll(async () => {
    alice = await stack.signIn('alice');
    bob = await stack.signIn('bob');
  });

  it('launches, reports progress under the same requestId, ends with the access code, and stops', async () => {
    const client = await WebclientClient.open(GW_PORT, alice);
    const bystander = await WebclientClient.open(GW_PORT, bob);
    try {
      client.send({ type: 'cmd', cmd: 'launchSession', requestId: 'r1', data: { type: 'echo' } });
      const end = await client.final('r1', 90_000);
      expect(end).toMatchObject({ type: 'reply', cmd: 'launchSession', progress: 'end', result: true });
      const sid = end.message;
      expect(end.data).toMatchObject({ accessCode: sid, url: `/s/${sid}/`, session: { sid, owner: 'alice', type: 'echo', state: 'ready' } });
      const updates = client.repliesTo('r1').filter((r) => r.progress === 'update');
      expect(updates.length).toBeGreaterThanOrEqual(2);
      expect(updates.every((r) => r.cmd === 'launchSession' && r.result)).toBe(true);

      // The owner's events are pushed; nobody else's socket hears of them.
      await client.next('the ready event', (m): m is PushedEvent => m.type === 'event' && m.event.sid === sid && m.event.state === 'ready');
      expect(client.eventsAbout(sid).map((e) => e.step).filter(Boolean)).toEqual(expect.arrayContaining(['creating', 'waiting-ready', 'ready']));
      expect((await fetch(`${stack.url}/s/${sid}/cgi-bin/env`, { headers: alice })).status).toBe(200);

      client.send({ type: 'cmd', cmd: 'listSessions', requestId: 2, data: {} });
      expect((await client.final(2)).data).toMatchObject({ sessions: [expect.objectContaining({ sid, state: 'ready' })] });
      client.send({ type: 'cmd', cmd: 'getSession', requestId: 3, data: { sid } });
      expect(await client.final(3)).toMatchObject({ progress: 'end', result: true, message: 'ready' });

      // Bob can neither see nor stop it.
      bystander.send({ type: 'cmd', cmd: 'closeSession', requestId: 'b1', data: { sid } });
      expect(await bystander.final('b1')).toMatchObject({ cmd: 'closeSession', progress: 'error', result: false, data: { code: 'not_found' } });

      client.send({ cmd: 'closeSession', requestId: 'r4', sid });
      expect(await client.final('r4')).toMatchObject({ progress: 'end', result: true, data: { session: { sid, state: 'stopped' } } });
      await client.next('the stopped event', (m): m is PushedEvent => m.type === 'event' && m.event.sid === sid && m.event.state === 'stopped');
      expect(bystander.eventsAbout(sid)).toEqual([]);
    } finally {
      client.close();
      bystander.close();
    }
  }, 120_000);

  it("reports a launch that cannot start as an error reply: an unknown type, limits too high, a project that is not the user's", async () => {
    const client = await WebclientClient.open(GW_PORT, alice);
    try {
      client.send({ type: 'cmd', cmd: 'launchSession', requestId: 'project', data: { type: 'echo', project: 'not-hers' } });
      expect(await client.final('project')).toMatchObject({ cmd: 'launchSession', progress: 'error', result: false, data: { code: 'not_found' } });
      client.send({ type: 'cmd', cmd: 'launchSession', requestId: 'nope', data: { type: 'no-such-type' } });
      expect(await client.final('nope')).toMatchObject({ cmd: 'launchSession', progress: 'error', result: false });
      client.send({ type: 'cmd', cmd: 'launchSession', requestId: 'big', data: { type: 'echo', limits: { memoryMiB: 100_000 } } });
      expect(await client.final('big')).toMatchObject({ progress: 'error', result: false });
      client.send({ type: 'cmd', cmd: 'listSessions', requestId: 'after', data: {} });
      expect(await client.final('after')).toMatchObject({ progress: 'end', result: true });
    } finally {
      client.close();
    }
  }, 60_000);

  it('answers malformed and unknown commands with an error reply and keeps the connection', async () => {
    const client = await WebclientClient.open(GW_PORT, alice);
    try {
      const bad: Array<[unknown, string | number | null, string | null]> = [
        ['{not json', null, null],
        ['42', null, null],
        [{ cmd: 'listSessions' }, null, 'listSessions'],
        [{ requestId: 'x1' }, 'x1', null],
        [{ cmd: 'rmRf', requestId: 'x2' }, 'x2', 'rmRf'],
        [{ cmd: 'getSession', requestId: 'x3', data: { sid: '../../etc' } }, 'x3', 'getSession'],
        [{ cmd: 'getSession', requestId: 'x4' }, 'x4', 'getSession'],
        [{ cmd: 'getSession', requestId: 'x5', data: { sid: 'aaaaaaaaaaaa' } }, 'x5', 'getSession'],
        [{ cmd: 'launchSession', requestId: 'x6', data: { type: 'Echo; rm -rf /' } }, 'x6', 'launchSession'],
        [{ cmd: 'listSessions', requestId: 'x7', data: 'not an object' }, 'x7', 'listSessions'],
      ];
      const messages: string[] = [];
      for (const [message, requestId, cmd] of bad) {
        const errorsBefore = client.messages.length;
        client.send(message);
        const reply = await client.next(`error for ${JSON.stringify(message)}`, (m): m is WebclientReply => client.messages.indexOf(m) >= errorsBefore && m.type === 'reply' && m.progress === 'error');
        expect(reply).toMatchObject({ requestId, cmd, result: false });
        expect(reply.message).not.toMatch(/\n\s+at /);
        messages.push(reply.message);
      }
      // An unknown command is told which exist.
      expect(messages[4]).toBe('unknown command rmRf (known: launchSession, closeSession, listSessions, getSession, listTranscriptions, getTranscription, cancelTranscription, followTranscription)');
      client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      expect(await client.next('binary refused', (m): m is WebclientReply => m.type === 'reply' && m.message.includes('JSON text'))).toMatchObject({ progress: 'error' });
      client.send({ cmd: 'listSessions', requestId: 'still-here' });
      expect(await client.final('still-here')).toMatchObject({ progress: 'end', result: true });
    } finally {
      client.close();
    }
  });

  it('closes an oversized message with 1009, and refuses unauthenticated and cross-origin upgrades', async () => {
    const client = await WebclientClient.open(GW_PORT, alice);
    client.send({ cmd: 'listSessions', requestId: 'big', padding: 'x'.repeat(100 * 1024) });
    expect((await client.closed).code).toBe(1009);

    expect(await upgradeStatus(wsUrl(), stack.origin)).toBe(401);
    expect(await upgradeStatus(wsUrl(), { ...alice, origin: 'https://evil.example' })).toBe(403);
    const created = await stack.api('/api/v1/tokens', alice, { method: 'POST', body: { name: 'ws script' } });
    const { token } = (await created.json()) as { token: string };
    expect(await upgradeStatus(wsUrl(), { authorization: `Bearer ${token}` })).toBe(101);
  });

  it('closes the sockets of a login when it signs out', async () => {
    const carl = await stack.signIn('carl');
    const client = await WebclientClient.open(GW_PORT, carl);
    expect((await stack.api('/auth/logout', carl, { method: 'POST' })).status).toBe(204);
    expect(await client.closed).toEqual({ code: 4001, reason: 'signed out' });
    expect(await upgradeStatus(wsUrl(), { ...stack.origin, ...carl })).toBe(401);
  });

  it('rate limits a flood and serves the client again once it slows down', async () => {
    const client = await WebclientClient.open(GW_PORT, bob);
    try {
      for (let i = 0; i < 300; i++) client.send({ cmd: 'listSessions', requestId: i });
      const limited = await client.next('rate limit error', (m): m is WebclientReply => m.type === 'reply' && m.progress === 'error' && (m.data as { code?: string } | undefined)?.code === 'rate_limited');
      expect(limited.requestId).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const answered = client.messages.filter((m) => m.type === 'reply' && m.progress === 'end').length;
      expect(answered).toBeGreaterThan(0);
      expect(answered).toBeLessThan(100);
      client.send({ cmd: 'listSessions', requestId: 'calm' });
      expect(await client.final('calm')).toMatchObject({ progress: 'end', result: true });
    } finally {
      client.close();
    }
  });

  it('drops a client that stops answering pings within two heartbeat intervals and keeps one that answers', async () => {
    await stack.startGateway(18281, { WEBCLIENT_HEARTBEAT_INTERVAL: '1' });
    const silent = await WebclientClient.open(18281, alice, { autoPong: false });
    const lively = await WebclientClient.open(18281, alice);
    const opened = Date.now();
    const { code } = await silent.closed;
    const after = Date.now() - opened;
    expect(code).toBe(1006); // terminated: a dead peer gets no close handshake
    expect(after).toBeLessThan(2 * 1000 + 500);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(lively.ws.readyState).toBe(lively.ws.OPEN);
    lively.close();
  });
});
