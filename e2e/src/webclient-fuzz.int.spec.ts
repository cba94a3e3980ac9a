// The webclient WebSocket fuzzed through the real gateway: random and malformed frames (not JSON, JSON that is not
// an object, deep nesting, wrong types, binary, fragmented, too large) and every command with each field wrong.
// Each gets one clear error reply (or, too large, a close with its reason); the connection and the gateway live
// on, and nothing changes. A seeded generator: the same frames every run.
import WebSocket from 'ws';
import { WebclientCommandNames, type WebclientReply } from '@visp/contracts';
import { useGatewayStack, type Auth } from './gateway-stack';
import { WebclientClient } from './webclient-client';

const PORT = 19280;
// Far above what the frames below need: the rate limit is tested elsewhere (webclient.int.spec.ts).
const stack = useGatewayStack({ sessionManager: 19220, gateway: PORT }, 'wsfuzz', { WEBCLIENT_RATE_LIMIT: '10000' });

/** mulberry32: a small seeded generator, so that a failure names frames that come back every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values of every JSON kind, and some that are wrong for any field here. */
const ODD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, '', ' ', 'x'.repeat(5_000), '\u0000', '\ud800', '../../etc/passwd', '<script>', [], [1, 'a'], {}, { $ne: null }, { __proto__: { admin: true } }, { constructor: { prototype: {} } }];

/** Text frames that are not a command: not JSON, or JSON that is not an object with cmd and requestId. */
function malformedText(random: () => number): string[] {
  const frames = ['', ' ', '{', '}', '{"cmd":', 'nul', 'undefined', 'NaN', '[1,2', '"unterminated', '{"cmd":"listSessions","requestId":1,}', "{'cmd':'listSessions'}", '\u0000\u0001\u0002', '\ud83d'];
  for (const value of ODD_VALUES) frames.push(JSON.stringify(value) ?? 'null');
  // Deep nesting, in arrays and in objects, with and without a command around it.
  for (const depth of [100, 10_000]) {
    frames.push(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    frames.push(JSON.stringify({ cmd: 'listSessions', requestId: 1 }).replace('}', `,"data":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`));
  }
  // Random bytes read as text, random printable strings, and valid JSON with random bytes flipped.
  const valid = JSON.stringify({ cmd: 'getSession', requestId: 'r', data: { sid: 'abcdefghijkl' } });
  for (let i = 0; i < 60; i++) {
    const length = 1 + Math.floor(random() * 200);
    frames.push(Buffer.from(Array.from({ length }, () => Math.floor(random() * 256))).toString('latin1'));
    frames.push(Array.from({ length }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join(''));
    const flipped = valid.split('');
    flipped[Math.floor(random() * flipped.length)] = String.fromCharCode(Math.floor(random() * 128));
    frames.push(flipped.join(''));
  }
  return frames;
}

/** Commands with the envelope or one field wrong: each command with every odd value in each field it may take. */
function wrongCommands(): Array<Record<string, unknown>> {
  const commands: Array<Record<string, unknown>> = [];
  for (const value of ODD_VALUES) {
    commands.push({ cmd: value, requestId: 'env-cmd' }, { cmd: 'listSessions', requestId: value }, { cmd: 'listSessions', requestId: 'env-data', data: value });
  }
  commands.push({ cmd: 'frobnicate', requestId: 'unknown' }, { cmd: 'x'.repeat(65), requestId: 'long' }, { requestId: 'no-cmd' }, { cmd: 'listSessions' }, { cmd: 'listSessions', requestId: 'extra', data: { admin: true } });
  const fields = ['type', 'appName', 'project', 'projectId', 'limits', 'sid', 'sessionAccessCode', 'id', 'owner', 'username'];
  for (const cmd of WebclientCommandNames) {
    for (const field of fields) {
      for (const value of ODD_VALUES) commands.push({ cmd, requestId: `${cmd}-${field}`, data: { [field]: value } });
    }
  }
  return commands;
}

/** Sends each frame and waits for as many replies; returns them. */
async function sendAll(client: WebclientClient, frames: Array<string | Buffer>): Promise<WebclientReply[]> {
  const before = client.messages.length;
  for (const frame of frames) client.ws.send(frame, { binary: Buffer.isBuffer(frame) });
  const deadline = Date.now() + 60_000;
  while (client.messages.length - before < frames.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return client.messages.slice(before).filter((m): m is WebclientReply => m.type === 'reply');
}

/** What the user has: nothing a malformed frame may change. */
async function holdings(auth: Auth): Promise<string> {
  const sessions = (await (await stack.api('/api/v1/sessions', auth)).json()) as { sessions: unknown[] };
  const jobs = (await (await stack.api('/api/v1/transcriptions', auth)).json()) as { transcriptions: unknown[] };
  return JSON.stringify({ sessions: sessions.sessions.length, transcriptions: jobs.transcriptions.length });
}

describe('the webclient WebSocket, fuzzed', () => {
  let auth: Auth;
  beforeAll(async () => {
    auth = await stack.signIn('wsfuzz');
  });

  it('answers every malformed frame and every wrong command with one clear error, and lives on; nothing changes', async () => {
    const before = await holdings(auth);
    const client = await WebclientClient.open(PORT, auth);
    const random = seeded(20261205);
    const code = (r: WebclientReply) => (r.data as { code?: string } | undefined)?.code;

    // Frames that are no command at all: each answered with validation_failed (a flipped byte may leave a valid
    // getSession of an unknown session: not_found).
    const garbage: Array<string | Buffer> = malformedText(random);
    for (let i = 0; i < 20; i++) garbage.push(Buffer.from(Array.from({ length: 1 + Math.floor(random() * 100) }, () => Math.floor(random() * 256))));
    const refused = await sendAll(client, garbage);
    expect(refused).toHaveLength(garbage.length);
    expect(refused.filter((r) => r.progress !== 'error' || r.result !== false || !r.message || !['validation_failed', 'not_found'].includes(code(r) ?? ''))).toEqual([]);
    expect(refused.filter((r) => code(r) === 'validation_failed').length).toBeGreaterThan(garbage.length * 0.9);

    // Commands with a field wrong (some odd values happen to be right for a field: those are answered as usual).
    // Each reply is final, says what happened, and an error has a code the client can act on, never `internal`.
    const commands = wrongCommands().map((c) => JSON.stringify(c));
    const replies = await sendAll(client, commands);
    expect(replies).toHaveLength(commands.length);
    const odd = replies.filter((r) => !r.message || (r.progress === 'error' ? r.result !== false || !['validation_failed', 'not_found'].includes(code(r) ?? '') : r.progress !== 'end' || r.result !== true));
    expect(odd).toEqual([]);
    expect(replies.filter((r) => r.progress === 'error').length).toBeGreaterThan(commands.length * 0.9);

    // A command split into fragments is one command.
    const parts = JSON.stringify({ cmd: 'listSessions', requestId: 'fragmented' }).match(/.{1,7}/g) ?? [];
    parts.forEach((part, i) => client.ws.send(part, { fin: i === parts.length - 1 }));
    expect(await client.final('fragmented')).toMatchObject({ progress: 'end', result: true });

    // The connection and the gateway live on; the user has what they had.
    client.send({ cmd: 'listSessions', requestId: 'after' });
    expect(await client.final('after')).toMatchObject({ progress: 'end', result: true, message: '0 sessions' });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
    expect(await holdings(auth)).toBe(before);
    client.close();
  }, 180_000);

  it('closes a connection that sends a frame over 64 KiB with 1009, Message Too Big; the next connection works', async () => {
    const client = await WebclientClient.open(PORT, auth);
    client.send({ cmd: 'listSessions', requestId: 'big', data: { pad: 'x'.repeat(70_000) } });
    expect(await client.closed).toEqual({ code: 1009, reason: '' });
    const next = await WebclientClient.open(PORT, auth);
    next.send({ cmd: 'listSessions', requestId: 'next' });
    expect(await next.final('next')).toMatchObject({ progress: 'end', result: true });
    next.close();
  });
});
