// The processes tools/bench/proxy starts besides the real proxies: the app every proxy forwards to (a small HTTP
// answer, and a WebSocket that echoes), the bare forwarding it measures latency against, and a plain TCP pipe, the
// floor of any Node.js proxy. Each runs in a process of its own so that it never shares a core's event loop with a
// proxy or the load.
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import { Forwarder, forwardedHeaders } from '@visp/service-kit';

export function startUpstream(port: number): http.Server {
  const body = Buffer.from('{"status":"ok"}');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.keepAliveTimeout = 60_000;
  return server.listen(port, '127.0.0.1');
}

/**
 * A reference for the proxy bench: the gateway's own forwarding (node:http in, undici out, kept alive) with no
 * sign-in, route or path checks, and no credentials swapped. What any Node.js proxy costs on this host.
 */
export function startBareProxy(port: number, target: string): http.Server {
  const forwarder = new Forwarder(60_000);
  const { origin } = new URL(target);
  const server = http.createServer((req, res) => {
    forwarder.web(req, res, { origin, path: req.url ?? '/', headers: forwardedHeaders(req) }, () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  });
  server.keepAliveTimeout = 60_000;
  return server.listen(port, '127.0.0.1');
}

/**
 * The floor for any Node.js proxy: each connection piped to one of its own to the target, bytes as they come, no
 * HTTP at all. WebSocket echo through it costs what the kernel and Node's streams cost, nothing else.
 */
export function startNetPipe(port: number, target: string): net.Server {
  const { hostname, port: targetPort } = new URL(target);
  const server = net.createServer((client) => {
    const app = net.connect(Number(targetPort), hostname);
    for (const socket of [client, app]) socket.setNoDelay(true);
    client.on('error', () => app.destroy()).on('close', () => app.destroy());
    app.on('error', () => client.destroy()).on('close', () => client.destroy());
    client.pipe(app).pipe(client);
  });
  return server.listen(port, '127.0.0.1');
}
