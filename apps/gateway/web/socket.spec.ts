// The start page's socket client against a real WebSocket server on loopback (the `ws` package stands in for
// the browser's WebSocket, which Node 20 lacks): reconnection after a drop, commands ended by it, and no
// reconnection once the gateway says the login ended.
import type { AddressInfo } from 'node:net';
import { WebSocket as NodeWebSocket, WebSocketServer } from 'ws';
import type { WebclientReply } from '@visp/contracts';
import { reconnectDelay, WebclientSocket, type Connection } from './socket';

describe('reconnectDelay', () => {
  it('doubles from half a second to at most fifteen, drawn from the upper half of each step', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => reconnectDelay(attempt, () => 1))).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    expect([0, 1, 5].map((attempt) => reconnectDelay(attempt, () => 0))).toEqual([250, 500, 7500]);
  });
});

describe('WebclientSocket', () => {
  const states: Connection[] = [];
  let server: WebSocketServer;
  let port: number;
  let client: WebclientSocket | undefined;
  let loginEnded = 0;

  /** A server that answers `ping` with an update and an end, and leaves `hang` unanswered. */
  async function serve(onPort = 0): Promise<void> {
    server = new WebSocketServer({ host: '127.0.0.1', port: onPort });
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
    server.on('connection', (ws) =>
      ws.on('message', (raw) => {
        const { cmd, requestId } = JSON.parse(String(raw)) as { cmd: string; requestId: number };
        const reply = (progress: WebclientReply['progress']) => ws.send(JSON.stringify({ type: 'reply', requestId, cmd, progress, result: progress !== 'error', message: progress }));
        if (cmd !== 'ping') return;
        reply('update');
        reply('end');
      }),
    );
  }

  async function dropEveryone(code?: number): Promise<void> {
    for (const ws of server.clients) {
      if (code === undefined) ws.terminate();
      else ws.close(code, 'the server is done');
    }
    await new Promise((resolve) => server.close(resolve));
  }

  const until = async (what: string, check: () => boolean) => {
    for (const deadline = Date.now() + 5000; !check(); await new Promise((resolve) => setTimeout(resolve, 10))) {
      if (Date.now() > deadline) throw new Error(`never: ${what} (states ${states.join(', ')})`);
    }
  };

  beforeAll(() => {
    (globalThis as { WebSocket?: unknown }).WebSocket = NodeWebSocket;
  });
  beforeEach(async () => {
    states.length = 0;
    loginEnded = 0;
    await serve();
    client = new WebclientSocket(`ws://127.0.0.1:${port}/`, { event: () => undefined, connection: (s) => states.push(s), loginEnded: () => loginEnded++, notice: () => undefined });
  });
  afterEach(async () => {
    client?.close();
    await dropEveryone(1001);
  });

  it('refuses commands until it is open, then hears every reply of one', async () => {
    client!.connect();
    expect(client!.command('ping', {}, () => undefined)).toBe(false);
    await until('open', () => states.at(-1) === 'open');
    const replies: string[] = [];
    expect(client!.command('ping', {}, (reply) => replies.push(reply.progress))).toBe(true);
    await until('two replies', () => replies.length === 2);
    expect(replies).toEqual(['update', 'end']);
    expect(states).toEqual(['connecting', 'open']);
  });

  it('after a drop, ends what was waiting, says it is reconnecting, and is open again when the server is back', async () => {
    client!.connect();
    await until('open', () => states.at(-1) === 'open');
    const waiting: WebclientReply[] = [];
    client!.command('hang', {}, (reply) => waiting.push(reply));

    await dropEveryone();
    await until('reconnecting', () => states.includes('reconnecting'));
    expect(waiting).toEqual([expect.objectContaining({ cmd: 'hang', progress: 'error', result: false, message: 'The connection to the server was lost.' })]);
    expect(client!.isOpen).toBe(false);
    expect(client!.command('ping', {}, () => undefined)).toBe(false);

    await serve(port);
    await until('open again', () => states.at(-1) === 'open');
    expect(states.slice(0, 3)).toEqual(['connecting', 'open', 'reconnecting']);
    const replies: string[] = [];
    client!.command('ping', {}, (reply) => replies.push(reply.progress));
    await until('the replies after reconnecting', () => replies.length === 2);
    expect(waiting).toHaveLength(1); // the abandoned command heard nothing more
  });

  it('does not reconnect when the gateway ends the socket because the login ended', async () => {
    client!.connect();
    await until('open', () => states.at(-1) === 'open');
    for (const ws of server.clients) ws.close(4001, 'the login ended');
    await until('login ended', () => loginEnded === 1);
    await new Promise((resolve) => setTimeout(resolve, 700)); // past the first reconnection's longest delay
    expect(states).toEqual(['connecting', 'open']);
    expect(server.clients.size).toBe(0);
  });
});
