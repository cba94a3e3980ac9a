import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { joinUpgraded, rawResponseHead } from '@visp/service-kit';

/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Where a request goes, and the headers that replace the client's (credentials swapped by the caller). */
export interface Upstream {
  host: string;
  port: number;
  path: string;
  headers: OutgoingHttpHeaders;
}

export type ForwardError = (err: Error, target: ServerResponse | Socket) => void;

/** The client's end-to-end headers plus X-Forwarded-*; hop-by-hop ones, and any the Connection header names, dropped. */
export function forwardedHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  const named = new Set((req.headers.connection ?? '').split(',').map((token) => token.trim().toLowerCase()));
  const headers: OutgoingHttpHeaders = {};
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) headers[name] = value;
  }
  // Untrusted peers' X-Forwarded-* were removed on arrival (app.ts); a trusted front proxy's are extended.
  const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const encrypted = (req.socket as TLSSocket).encrypted === true;
  headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${peer}` : peer;
  headers['x-forwarded-proto'] ??= encrypted ? 'https' : 'http';
  headers['x-forwarded-host'] ??= req.headers.host;
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  return headers;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (headers[name] !== undefined && !HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

/** Answers up to this size, with a known length, are read whole and sent in one write (most API calls). */
const SMALL_ANSWER_BYTES = 64 * 1024;

/** Sends the app's answer to the client: a small one in one piece, anything else streamed as it comes. */
function relay(answer: IncomingMessage, res: ServerResponse): void {
  const length = Number(answer.headers['content-length'] ?? Number.NaN);
  res.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeaders(answer.headers));
  answer.on('error', () => res.destroy());
  if (!(length <= SMALL_ANSWER_BYTES)) return void answer.pipe(res);
  const chunks: Buffer[] = [];
  answer.on('data', (chunk: Buffer) => chunks.push(chunk));
  answer.on('end', () => res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
}

/**
 * A plain keep-alive forward for HTTP and WebSocket upgrades, streaming both ways. The session proxy's hot path:
 * measured here at 1.3–1.8× http-proxy-middleware's throughput (tools/bench/proxy), because it does nothing
 * else; the policy (who may go where, which credentials) stays in SessionProxy.
 */
export class Forwarder {
  /** Reused upstream connections: a new TCP connection per request halves the throughput. */
  private readonly agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });

  constructor(private readonly timeoutMs: number) {}

  web(req: IncomingMessage, res: ServerResponse, upstream: Upstream, onError: ForwardError, retried = false): void {
    const outgoing = http.request({ host: upstream.host, port: upstream.port, method: req.method, path: upstream.path, headers: upstream.headers, agent: this.agent });
    const bodiless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    outgoing.setTimeout(this.timeoutMs, () => outgoing.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      // The app closed an idle kept-alive connection just as this request went out on it: nothing reached the
      // app, so a request without a body is sent again, once, on a new connection (as browsers do).
      const closedUnderUs = outgoing.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      if (closedUnderUs && bodiless && !retried && !res.headersSent && !res.destroyed) return this.web(req, res, upstream, onError, true);
      onError(err, res);
    });
    outgoing.on('response', (answer) => relay(answer, res));
    // A client that goes away takes its upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) outgoing.destroy();
    });
    // A request without a body (most GETs) is sent at once; a body streams.
    if (bodiless) outgoing.end();
    else req.pipe(outgoing);
  }

  ws(req: IncomingMessage, socket: Socket, head: Buffer, upstream: Upstream, onError: ForwardError): void {
    const headers = { ...upstream.headers, connection: 'Upgrade', upgrade: req.headers.upgrade };
    // Upgraded connections never return to a pool: a fresh one each.
    const outgoing = http.request({ host: upstream.host, port: upstream.port, method: req.method, path: upstream.path, headers, agent: false });
    outgoing.setTimeout(this.timeoutMs, () => outgoing.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
    outgoing.on('error', (err) => onError(err, socket));
    socket.on('error', () => outgoing.destroy());
    // The app refused the upgrade: its answer goes to the client as it is.
    outgoing.on('response', (answer) => {
      socket.write(rawResponseHead(answer));
      answer.pipe(socket);
    });
    outgoing.on('upgrade', (answer, appSocket, appHead) => {
      outgoing.setTimeout(0);
      for (const s of [socket, appSocket]) s.setNoDelay(true);
      joinUpgraded(socket, answer, appSocket, appHead, head);
    });
    outgoing.end();
  }

  close(): void {
    this.agent.destroy();
  }
}
