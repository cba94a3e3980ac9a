import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { joinUpgraded, rawResponseHead } from './upgrades';

/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Not forwarded either: the gateway has already answered a client's `Expect: 100-continue` (node:http does). */
const ANSWERED_HERE = 'expect';

/** Where a request goes, and the headers that replace the client's (credentials swapped by the caller). */
export interface Upstream {
  /** `http://host:port` of the app. */
  origin: string;
  path: string;
  headers: ForwardedHeaders;
  /** What of the app's `Set-Cookie` headers reaches the client (all when unset). */
  setCookies?: SetCookieFilter;
}

export type SetCookieFilter = (values: readonly string[]) => string[];

export type ForwardedHeaders = Record<string, string | string[]>;

export type ForwardError = (err: Error, target: ServerResponse | Socket) => void;

/** The client's end-to-end headers plus X-Forwarded-*; hop-by-hop ones, and any the Connection header names, dropped. */
export function forwardedHeaders(req: IncomingMessage): ForwardedHeaders {
  const named = new Set((req.headers.connection ?? '').split(',').map((token) => token.trim().toLowerCase()));
  const headers: ForwardedHeaders = {};
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name) && name !== ANSWERED_HERE) headers[name] = value;
  }
  // Untrusted peers' X-Forwarded-* were removed on arrival (app.ts); a trusted front proxy's are extended.
  const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const encrypted = (req.socket as TLSSocket).encrypted === true;
  headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${peer}` : peer;
  headers['x-forwarded-proto'] ??= encrypted ? 'https' : 'http';
  if (req.headers.host) headers['x-forwarded-host'] ??= req.headers.host;
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  return headers;
}

function responseHeaders(headers: IncomingHttpHeaders, setCookies: SetCookieFilter | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (headers[name] !== undefined && !HOP_BY_HOP.has(name)) out[name] = headers[name];
  const cookies = out['set-cookie'];
  if (setCookies && cookies !== undefined) {
    const kept = setCookies(Array.isArray(cookies) ? cookies : [String(cookies)]);
    if (kept.length > 0) out['set-cookie'] = kept;
    else delete out['set-cookie'];
  }
  return out;
}

/** Answers up to this size, with a known length, are read whole and sent in one write (most API calls). */
const SMALL_ANSWER_BYTES = 64 * 1024;
/** Methods that may be sent twice without harm (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** How an app closing the connection under a request shows (undici's SocketError, or the system's). */
const CLOSED_UNDER_US = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * A plain keep-alive forward for HTTP and WebSocket upgrades, streaming both ways. The session proxy's hot path:
 * HTTP goes through undici, which spends less CPU per request than node:http's client (tools/bench/proxy), and
 * nothing else happens here; the policy (who may go where, which credentials) stays in SessionProxy.
 */
export class Forwarder {
  /** A pool of kept-alive connections per app: a new TCP connection per request halves the throughput. */
  private readonly agent: Agent;

  constructor(private readonly timeoutMs: number) {
    this.agent = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  }

  web(req: IncomingMessage, res: ServerResponse, upstream: Upstream, onError: ForwardError, retried = false): void {
    const bodiless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    const method = req.method ?? 'GET';
    let controller: Dispatcher.DispatchController | undefined;
    let answered = false;
    /** The answer's body while it is small enough to send in one piece; undefined once it streams. */
    let whole: Buffer[] | undefined;
    const abandon = () => {
      if (!res.writableFinished) controller?.abort(new Error('the client went away'));
    };
    // A client that goes away takes its upstream request with it.
    res.once('close', abandon);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (started) => {
        controller = started;
        if (res.destroyed) abandon();
      },
      onResponseStart: (_c, status, headers, statusMessage) => {
        if (status < 200) return; // informational (103 Early Hints): the final answer follows
        answered = true;
        res.writeHead(status, statusMessage || undefined, responseHeaders(headers, upstream.setCookies));
        whole = Number(headers['content-length'] ?? Number.NaN) <= SMALL_ANSWER_BYTES ? [] : undefined;
      },
      onResponseData: (streaming, chunk) => {
        if (whole) return void whole.push(chunk);
        if (res.write(chunk)) return;
        streaming.pause();
        res.once('drain', () => streaming.resume());
      },
      onResponseEnd: () => {
        res.off('close', abandon);
        res.end(whole?.length === 1 ? whole[0] : whole && Buffer.concat(whole));
      },
      onResponseError: (_c, err: Error & { code?: string }) => {
        res.off('close', abandon);
        // The app closed an idle kept-alive connection just as this request went out on it: nothing reached the
        // app, so a request that may be repeated is sent again, once, on a new connection (as browsers do).
        const again = !answered && !retried && bodiless && IDEMPOTENT.has(method) && CLOSED_UNDER_US.has(err.code ?? '');
        if (again && !res.destroyed) return this.web(req, res, upstream, onError, true);
        onError(err, res);
      },
    };
    // A request without a body (most GETs) is sent at once; a body streams.
    this.agent.dispatch({ origin: upstream.origin, method, path: upstream.path, headers: upstream.headers, body: bodiless ? null : req }, handler);
  }

  ws(req: IncomingMessage, socket: Socket, head: Buffer, upstream: Upstream, onError: ForwardError): void {
    const headers = { ...upstream.headers, connection: 'Upgrade', upgrade: req.headers.upgrade };
    // Upgraded connections never return to a pool: a fresh one each.
    const { hostname: host, port } = new URL(upstream.origin);
    const outgoing = http.request({ host, port, method: req.method, path: upstream.path, headers, agent: false });
    outgoing.setTimeout(this.timeoutMs, () => outgoing.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
    outgoing.on('error', (err) => onError(err, socket));
    socket.on('error', () => outgoing.destroy());
    // The app refused the upgrade: its answer goes to the client as it is.
    outgoing.on('response', (answer) => {
      socket.write(rawResponseHead(answer, upstream.setCookies));
      answer.pipe(socket);
    });
    outgoing.on('upgrade', (answer, appSocket, appHead) => {
      outgoing.setTimeout(0);
      for (const s of [socket, appSocket]) s.setNoDelay(true);
      joinUpgraded(socket, answer, appSocket, appHead, head, upstream.setCookies);
    });
    outgoing.end();
  }

  close(): Promise<void> {
    return this.agent.destroy();
  }
}
