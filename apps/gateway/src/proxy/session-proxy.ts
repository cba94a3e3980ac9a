import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@visp/config';
import type { Route } from '@visp/contracts';
import { AppError, Forwarder, forwardedHeaders, refuseUpgrade, type PeerList, type Upstream } from '@visp/service-kit';
import { LOGIN_COOKIE, parseCookies, SESSION_ACCESS_COOKIE, setCookie, withoutCookies } from '../auth/cookies';
import { admit } from '../auth/middleware';
import { isHttps, type Authenticator, type Principal } from '../auth/principal';
import type { StreamLimit } from '../auth/stream-limit';
import { countsAsActivity, type ActivityRecorder } from './activity';
import type { RouteCache } from './route-cache';

export interface SessionProxySettings {
  ADMINS_OPEN_SESSIONS: boolean;
  ALLOWED_ORIGINS: string[];
  PROXY_WS_IDLE_TIMEOUT: number;
  APP_HOSTS: string[];
}

/** `/s/<sid>` and the rest of the raw URL (path and query), before any decoding. */
const SESSION_URL = /^\/s\/([a-z2-7]{12})(\/[^?#]*)?(\?[^#]*)?$/;
/** The gateway's own cookies: never forwarded into a session. */
const GATEWAY_COOKIES = [LOGIN_COOKIE, SESSION_ACCESS_COOKIE];

/** What a request asks the proxy for. */
export interface SessionRequest {
  /** `/s/<sid>/…` with its query; on an app host, `/s/<code>` and the path (unless it already starts so). */
  sessionUrl: string;
  /** With `?token=` on an app host: where the browser goes once the code is in a cookie (the URL without it). */
  redirectTo?: string;
}

/**
 * VISP opens a session at `//app.<host>/?token=<code>` and then finds it by its `SessionAccessCode` cookie:
 * every path of that host belongs to the session. Undefined when the request names no session.
 */
export function readAppHostRequest(rawUrl: string, cookieHeader: string | undefined): SessionRequest | undefined {
  if (!rawUrl.startsWith('/')) return undefined;
  const queryAt = rawUrl.indexOf('?');
  // Leading slashes collapsed: `//evil.example/` would send the redirect to another site.
  const rawPath = (queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt)).replace(/^\/+/, '/');
  const params = queryAt < 0 ? [] : rawUrl.slice(queryAt + 1).split('&');
  const tokenParam = params.find((p) => p.startsWith('token='));
  let code: string | undefined;
  try {
    code = tokenParam === undefined ? parseCookies(cookieHeader).get(SESSION_ACCESS_COOKIE) : decodeURIComponent(tokenParam.slice('token='.length));
  } catch {
    return undefined;
  }
  if (!code) return undefined;
  const rest = params.filter((p) => !p.startsWith('token=')).join('&');
  const query = rest ? `?${rest}` : '';
  // Pages of base-URL-aware apps (Jupyter) link to `/s/<sid>/…`: those paths are already the session's.
  const prefix = `/s/${code}`;
  const sessionPath = rawPath === prefix || rawPath.startsWith(`${prefix}/`) ? rawPath : `${prefix}${rawPath}`;
  return { sessionUrl: `${sessionPath}${query}`, ...(tokenParam === undefined ? {} : { redirectTo: `${rawPath}${query}` }) };
}
/** How long an app may stay silent on an HTTP request before the user gets a 502 rather than a hang. */
const UPSTREAM_TIMEOUT_MS = 120_000;

const ADMIT_HTTP = { signInHint: 'sign in to open this session' };
const ADMIT_UPGRADE = { ...ADMIT_HTTP, upgrade: true };

const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/**
 * A path is safe when no segment, decoded, is `.` or `..` or hides a slash or backslash: the app must never
 * see a path that leaves the session's prefix, whatever it normalises.
 */
export function safeAppPath(rawPath: string): boolean {
  // Without escapes nothing decodes: only `.`, `..` and backslashes are left to look for (most paths).
  if (!rawPath.includes('%')) return !DOT_SEGMENT.test(rawPath) && !rawPath.includes('\\');
  for (const segment of rawPath.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return false;
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\')) return false;
  }
  return true;
}

interface Target {
  route: Route;
  principal: Readonly<Principal>;
  /** `/s/<sid>/…` with its query: what an app that knows its base URL gets. */
  sessionUrl: string;
  /** The path below `/s/<sid>`, with its query. */
  appPath: string;
}

/**
 * `/s/<sid>/…` over HTTP and WebSocket, to the session's app, for its owner only. Works below express, so
 * bodies stream untouched both ways. Unknown, foreign and malformed sessions are all a 404 at once.
 */
export class SessionProxy {
  private readonly forwarder = new Forwarder(UPSTREAM_TIMEOUT_MS);
  /** Each route's target parsed once (routes are immutable; a changed route is a new object). */
  private readonly origins = new WeakMap<Route, string>();

  private readonly appHosts: ReadonlySet<string>;

  constructor(
    private readonly deps: { auth: Authenticator; routes: RouteCache; activity: ActivityRecorder; trusted: PeerList; streams: StreamLimit; logger: Logger },
    private readonly settings: SessionProxySettings,
  ) {
    this.appHosts = new Set(settings.APP_HOSTS.map((host) => host.toLowerCase()));
  }

  /** Whether the request is for an app host, where every path (and WebSocket) is the session's. */
  servesAppHost(req: IncomingMessage): boolean {
    return this.appHosts.size > 0 && this.appHosts.has((req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase());
  }

  /** What a request asks for: `/s/…` as it is; on an app host, the session its code names (none: a URL that matches nothing). */
  private wanted(req: IncomingMessage): SessionRequest | undefined {
    if (this.servesAppHost(req)) return readAppHostRequest(req.url ?? '', req.headers.cookie) ?? { sessionUrl: '' };
    return req.url?.startsWith('/s/') ? { sessionUrl: req.url } : undefined;
  }

  /** For createService's `intercept`: takes `/s/…` and app host requests, leaves the rest to express. */
  handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const wanted = this.wanted(req);
    if (!wanted) return false;
    const forward = (target: Target) => {
      const method = req.method ?? 'GET';
      // `?token=` becomes the cookie that finds the session from then on (the page's assets, its API calls).
      if (wanted.redirectTo !== undefined && (method === 'GET' || method === 'HEAD')) return this.enterAppHost(req, res, target, wanted.redirectTo);
      if (countsAsActivity(method, target.appPath)) this.deps.activity.touch(target.route.sid);
      this.forwarder.web(req, res, this.upstream(req, target), (err, to) => this.unreachable(err, req, to));
    };
    this.resolve(req, wanted.sessionUrl, false, forward, (err) => refuse(res, this.known(err)));
    return true;
  };

  /** For createService's `upgrade`: WebSockets into sessions; any other URL is refused like an unknown session. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const forward = (target: Target) => {
      const sid = target.route.sid;
      let stream: () => void;
      try {
        stream = this.deps.streams.take(target.principal.username);
      } catch (err) {
        return refuseUpgrade(socket, this.known(err).status);
      }
      socket.once('close', stream);
      // What the user sends counts as use; what the app sends (output, pings) does not.
      socket.on('data', () => this.deps.activity.touch(sid));
      // Node hands upgrades a net.Socket (typed as Duplex); its timeout counts silence both ways.
      if (this.settings.PROXY_WS_IDLE_TIMEOUT > 0) (socket as Socket).setTimeout(this.settings.PROXY_WS_IDLE_TIMEOUT * 1000, () => socket.destroy());
      this.deps.activity.touch(sid);
      // Checked once, when it opened: it ends with the login or token it opened with.
      socket.once('close', this.deps.auth.holdWhileValid(target.principal, () => socket.destroy()));
      this.forwarder.ws(req, socket as Socket, head, this.upstream(req, target), (err, to) => this.unreachable(err, req, to));
    };
    this.resolve(req, this.wanted(req)?.sessionUrl ?? '', true, forward, (err) => refuseUpgrade(socket, this.known(err).status));
  };

  /**
   * Finds the session `sessionUrl` names and calls `open` with it if the request's user may open it, else
   * `refuse`. A signed-in user's request to a route in memory (most requests) is decided at once: waiting on a
   * promise costs a proxied request more than all its checks do.
   */
  private resolve(req: IncomingMessage, sessionUrl: string, upgrade: boolean, open: (target: Target) => void, refuse: (err: unknown) => void): void {
    const match = SESSION_URL.exec(sessionUrl);
    const [, sid = '', rawPath = '/', query = ''] = match ?? [];
    const admitted = (principal: Readonly<Principal> | undefined) => admit(principal, req, this.settings.ALLOWED_ORIGINS, upgrade ? ADMIT_UPGRADE : ADMIT_HTTP);
    const targetFor = (principal: Readonly<Principal>, route: Route | undefined): Target => {
      const mayOpen = route && (route.owner === principal.username || (principal.admin && this.settings.ADMINS_OPEN_SESSIONS));
      if (!route || !mayOpen) throw new AppError('not_found', 'no such session');
      return { route, principal, sessionUrl, appPath: `${rawPath}${query}` };
    };
    let target: Target;
    try {
      if (!match || !safeAppPath(rawPath)) throw new AppError('not_found', 'no such session');
      const [principal, route] = [this.deps.auth.recognise(req), this.deps.routes.peek(sid)];
      if (!principal || !route) {
        // Identified first: nobody learns, or makes us look up, a route without signing in.
        const waited = async () => targetFor(admitted(principal ?? (await this.deps.auth.identify(req))), route ?? (await this.deps.routes.get(sid)));
        return void waited().then(open, refuse);
      }
      target = targetFor(admitted(principal), route);
    } catch (err) {
      return refuse(err);
    }
    open(target);
  }

  private enterAppHost(req: IncomingMessage, res: ServerResponse, target: Target, location: string): void {
    const cookie = setCookie(SESSION_ACCESS_COOKIE, target.route.sid, { secure: isHttps(req, this.deps.trusted) });
    res.writeHead(303, { location, 'set-cookie': cookie, 'cache-control': 'no-store', 'content-length': 0 });
    res.end();
  }

  private unreachable(err: Error, req: IncomingMessage, res: ServerResponse | Socket): void {
    this.deps.logger.info({ err: err.message, url: req.url }, 'session app unreachable');
    if ('writeHead' in res) badGateway(res);
    else res.destroy();
  }

  /** A refusal as it is, or any other failure (Redis or the database down) logged and made an internal error. */
  private known(err: unknown): AppError {
    if (err instanceof AppError) return err;
    this.deps.logger.error({ err }, 'could not route a session request');
    return new AppError('internal', 'internal error');
  }

  /** The request as the app gets it: its path, its token in place of the user's credentials. */
  private upstream(req: IncomingMessage, { route, appPath, sessionUrl }: Target): Upstream {
    let origin = this.origins.get(route);
    if (origin === undefined) {
      origin = new URL(route.target).origin;
      this.origins.set(route, origin);
    }
    const headers = forwardedHeaders(req);
    headers.authorization = `token ${route.token}`;
    const cookie = withoutCookies(req.headers.cookie, GATEWAY_COOKIES);
    if (cookie) headers.cookie = cookie;
    else delete headers.cookie;
    return { origin, path: route.stripPrefix ? appPath : sessionUrl, headers };
  }

  close(): Promise<void> {
    return this.forwarder.close();
  }
}

function refuse(res: ServerResponse, error: AppError): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(error.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(error.toBody()));
}

const BAD_GATEWAY_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Session not answering</title></head>
<body><h1>Your session is not answering</h1><p>It may still be starting, or it may have stopped. Reload in a few
seconds; if this persists, stop the session from the <a href="/">start page</a> and launch it again.</p></body></html>`;

function badGateway(res: ServerResponse): void {
  if (res.writableEnded) return;
  if (res.headersSent) return void res.destroy();
  res.writeHead(502, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(BAD_GATEWAY_PAGE);
}
