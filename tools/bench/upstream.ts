// The processes tools/bench/proxy starts besides the real proxies: the app every proxy forwards to (a small HTTP
// answer, and a WebSocket that echoes), and the bare forwarding it measures latency against. Each runs in a
// process of its own so that it never shares a core's event loop with a proxy or the load.
import http from 'node:http';
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
