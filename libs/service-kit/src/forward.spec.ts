import http, { type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { Forwarder, forwardedHeaders } from './forward';

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

describe('forwardedHeaders', () => {
  it('drops hop-by-hop headers, those the Connection header names and Expect, and appends to X-Forwarded-For', () => {
    const req = {
      headers: { host: 'visp.example', connection: 'keep-alive, X-Secret', 'keep-alive': 'timeout=5', 'x-secret': 'no', te: 'trailers', expect: '100-continue', accept: 'text/html', 'x-forwarded-for': '10.1.1.1' },
      socket: { remoteAddress: '::ffff:127.0.0.1', localPort: 8080 },
    } as unknown as IncomingMessage;
    expect(forwardedHeaders(req)).toEqual({
      host: 'visp.example',
      accept: 'text/html',
      'x-forwarded-for': '10.1.1.1, 127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'visp.example',
      'x-forwarded-port': '8080',
    });
  });
});

describe('Forwarder', () => {
  const forwarder = new Forwarder(2000);
  let app: Server;
  let appPort: number;
  let proxy: Server;
  let proxyUrl: string;
  const errors: string[] = [];
  let appRequestAborted: Promise<void>;
  /** App connections that have answered a request: the kept-alive ones the proxy may reuse. */
  const reused = new WeakSet<Socket>();
  /** Set by /flaky/arm: the next request that comes on a reused connection finds it closed. */
  let armed = false;
  let dropped = 0;

  beforeAll(async () => {
    let aborted: () => void = () => undefined;
    appRequestAborted = new Promise((resolve) => (aborted = resolve));
    app = http.createServer((req, res) => {
      if (req.url === '/echo') return void req.pipe(res);
      if (req.url === '/big') return void res.end(Buffer.alloc(300_000, 'x'));
      if (req.url === '/hang') return void res.on('close', aborted);
      if (req.url === '/hints') res.writeEarlyHints({ link: '</app.css>; rel=preload; as=style' });
      // Closes a kept-alive connection as a request arrives on it, unanswered: an app's idle timeout striking
      // just as the proxy reuses the connection.
      if (armed && reused.has(req.socket)) {
        armed = false;
        dropped++;
        return void req.socket.destroy();
      }
      armed ||= req.url === '/flaky/arm';
      res.on('finish', () => reused.add(req.socket));
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
      res.end(`${req.method} ${req.url} auth=${req.headers.authorization}`);
    });
    const wss = new WebSocketServer({ noServer: true });
    app.on('upgrade', (req, socket, head) => {
      if (req.url === '/refuse') return void socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno');
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`echo ${String(data)}`)));
    });
    appPort = await listen(app);
    const upstream = (req: IncomingMessage, port = appPort) => ({ origin: `http://127.0.0.1:${port}`, path: req.url ?? '/', headers: { ...forwardedHeaders(req), authorization: 'token app' } });
    proxy = http.createServer((req, res) => {
      const port = req.url === '/down' ? 1 : appPort;
      forwarder.web(req, res, upstream(req, port), (err) => {
        errors.push(err.message);
        res.writeHead(502).end();
      });
    });
    proxy.on('upgrade', (req, socket: Socket, head) => forwarder.ws(req, socket, head, upstream(req), () => socket.destroy()));
    proxyUrl = `http://127.0.0.1:${await listen(proxy)}`;
  });

  afterAll(async () => {
    await forwarder.close();
    proxy.closeAllConnections();
    app.closeAllConnections();
    await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => app.close(r))]);
  });

  it('forwards a request with the given credentials and passes repeated response headers on', async () => {
    const res = await fetch(`${proxyUrl}/x?y=1`, { headers: { authorization: 'Bearer user-secret' } });
    expect(await res.text()).toBe('GET /x?y=1 auth=token app');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  });

  it('passes the final answer on after an informational one', async () => {
    const res = await fetch(`${proxyUrl}/hints`);
    expect([res.status, await res.text()]).toEqual([200, 'GET /hints auth=token app']);
  });

  it('streams large bodies both ways', async () => {
    const body = Buffer.alloc(500_000, 'y');
    const echoed = Buffer.from(await (await fetch(`${proxyUrl}/echo`, { method: 'POST', body })).arrayBuffer());
    expect(echoed.equals(body)).toBe(true);
    expect((await (await fetch(`${proxyUrl}/big`)).arrayBuffer()).byteLength).toBe(300_000);
  });

  it('sends a bodiless request again when the app closed the reused connection under it, never one with a body', async () => {
    await fetch(`${proxyUrl}/flaky/arm`);
    expect((await fetch(`${proxyUrl}/again`)).status).toBe(200);
    expect(dropped).toBe(1);
    await fetch(`${proxyUrl}/flaky/arm`);
    const failedBefore = errors.length;
    expect((await fetch(`${proxyUrl}/once`, { method: 'POST', body: 'data' })).status).toBe(502);
    expect(dropped).toBe(2);
    expect(errors.slice(failedBefore)).toEqual([expect.stringMatching(/other side closed|ECONNRESET|EPIPE/)]);
  });

  it('reports an app that cannot be reached, and drops the app request when the client goes away', async () => {
    expect((await fetch(`${proxyUrl}/down`)).status).toBe(502);
    expect(errors.at(-1)).toMatch(/ECONNREFUSED/);
    const abort = new AbortController();
    const pending = fetch(`${proxyUrl}/hang`, { signal: abort.signal }).catch(() => 'aborted');
    setTimeout(() => abort.abort(), 100);
    expect(await pending).toBe('aborted');
    await appRequestAborted;
  });

  it('upgrades to a WebSocket both ways, and passes an app refusal on as it is', async () => {
    const ws = new WebSocket(`${proxyUrl.replace('http', 'ws')}/socket`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('hi');
    expect(String(await new Promise((resolve) => ws.once('message', resolve)))).toBe('echo hi');
    ws.close();

    const refused = new WebSocket(`${proxyUrl.replace('http', 'ws')}/refuse`);
    const status = await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(403);
  });
});
