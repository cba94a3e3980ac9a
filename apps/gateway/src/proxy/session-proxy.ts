import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@visp/config';
import type { Route } from '@visp/contracts';
import { AppError, Forwarder, forwardedHeaders, refuseUpgrade, type PeerList, type Upstream } from '@visp/service-kit';
import { appSetCookies, GATEWAY_COOKIES, onlyCookie, SESSION_ACCESS_COOKIE, setCookie, SSO_COOKIE_PREFIXES, withoutCookies } from '../auth/cookies';
import { admit } from '../auth/middleware';
import { APP_HOST, GATEWAY_HOST, isHttps, type Authenticator, type CookieHost, type Principal } from '../auth/principal';
import type { StreamLimit } from '../auth/stream-limit';
import { countsAsActivity, type ActivityRecorder } from './activity';
import type { RouteCache } from './route-cache';
import { OnLink } from './on-link';
import { ENTER_PATH, ENTRY_PATH, ENTRY_TTL_SECONDS, fromAnotherOrigin, hostPort, isNavigation, newEntryState, readEnterRequest, readSessionHostRequest, sessionOfHost, strayBelowSessionsHost, type SessionEntryCodes } from './session-host';

export interface SessionProxySettings {
  ADMINS_OPEN_SESSIONS: boolean;
  ALLOWED_ORIGINS: string[];
  PROXY_WS_IDLE_TIMEOUT: number;
  APP_HOSTS: string[];
  /** Sessions are served at `<sid>.<SESSIONS_HOST>`; unset: at `/s/<sid>/` on the gateway's own host. */
  SESSIONS_HOST?: string;
}

/** `/s/<sid>` and the rest of the raw URL (path and query), before any decoding. */
const SESSION_URL = /^\/s\/([a-z2-7]{12})(\/[^?#]*)?(\?[^#]*)?$/;
/** The gateway's own cookies, under every name they may have: never forwarded into a session. */
const NOT_FORWARDED = [...GATEWAY_COOKIES, SESSION_ACCESS_COOKIE];

/** What a request asks the proxy for. */
export interface SessionRequest {
  /** `/s/<sid>/…` with its query; on an app host, `/s/<code>` and the path (unless it already starts so). */
  sessionUrl: string;
  /** With `?token=` on an app host: where the browser goes once the code is in a cookie (the URL without it). */
  redirectTo?: string;
  /** On a session's own host: that session, whose cookie (not the gateway's) is the credential. */
  sessionHost?: string;
  /** On an app host, whose own cookie (APP_LOGIN_COOKIE, not the gateway's) is the credential. */
  appHost?: true;
  /** On a session's own host, `/_visp/auth`: the one-time code to exchange for its cookie, and where to go then. */
  entry?: { code: string; next: string };
  /** `/s/…` on the gateway's host while sessions have hosts of their own: a signed-in browser is sent there. */
  leaveForSessionHost?: boolean;
  /** `ENTER_PATH` on the gateway's host: the entry state of the browser a one-time code is minted for. */
  entryState?: string;
  /** A host below SESSIONS_HOST that names no session and is no app host: nothing is served there. */
  stray?: true;
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
    // Sent twice (one planted by a session's script on this host for a longer path), it names no session.
    code = tokenParam === undefined ? onlyCookie(cookieHeader, SESSION_ACCESS_COOKIE) : decodeURIComponent(tokenParam.slice('token='.length));
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
 * `/s/<sid>/…`, app hosts and (with SESSIONS_HOST) sessions' own hosts, over HTTP and WebSocket, to the session's
 * app, for its owner only. Works below express, so bodies stream untouched both ways. Unknown, foreign and
 * malformed sessions are all a 404 at once; a session host's navigation without its cookie is sent to the gateway
 * (303), and a cookie on the gateway's host opens a session only by that redirect (else 403).
 */
export class SessionProxy {
  private readonly forwarder = new Forwarder(UPSTREAM_TIMEOUT_MS);
  /** Each route's target parsed once (routes are immutable; a changed route is a new object). */
  private readonly targets = new WeakMap<Route, { origin: string; host: string }>();
  private readonly onLink = new OnLink();

  private readonly appHosts: ReadonlySet<string>;

  constructor(
    private readonly deps: { auth: Authenticator; entries: SessionEntryCodes; routes: RouteCache; activity: ActivityRecorder; trusted: PeerList; streams: StreamLimit; logger: Logger },
    private readonly settings: SessionProxySettings,
  ) {
    this.appHosts = new Set(settings.APP_HOSTS.map((host) => host.toLowerCase()));
  }

  /** Whether the request is for an app host, where every path (and WebSocket) is the session's. */
  servesAppHost(req: IncomingMessage): boolean {
    return this.appHosts.size > 0 && this.appHosts.has((req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase());
  }

  /** Whether the request is for a host whose every path is a session's: an app host or a session's own host. */
  servesWholeHost(req: IncomingMessage): boolean {
    return this.servesAppHost(req) || strayBelowSessionsHost(req.headers.host, this.settings.SESSIONS_HOST) || sessionOfHost(req.headers.host, this.settings.SESSIONS_HOST) !== undefined;
  }

  /**
   * What a request asks for: `/s/…` as it is; on an app host, the session its code names; on a session's own
   * host, that session (none: a URL that matches nothing).
   */
  private wanted(req: IncomingMessage): SessionRequest | undefined {
    if (this.servesAppHost(req)) return { ...(readAppHostRequest(req.url ?? '', req.headers.cookie) ?? { sessionUrl: '' }), appHost: true };
    const sessionHost = sessionOfHost(req.headers.host, this.settings.SESSIONS_HOST);
    if (sessionHost !== undefined) {
      const asked = readSessionHostRequest(req.url ?? '', sessionHost);
      if (asked?.kind === 'entry') return { sessionUrl: '', sessionHost, entry: asked };
      return { sessionUrl: asked?.sessionUrl ?? '', sessionHost };
    }
    // Below SESSIONS_HOST, neither an app host nor a session's (both answered above): a second gateway origin.
    if (strayBelowSessionsHost(req.headers.host, this.settings.SESSIONS_HOST)) return { sessionUrl: '', stray: true };
    if (this.settings.SESSIONS_HOST !== undefined && req.url?.startsWith(ENTER_PATH)) {
      const enter = readEnterRequest(req.url);
      return { sessionUrl: enter?.next ?? '', leaveForSessionHost: true, entryState: enter?.state };
    }
    if (!req.url?.startsWith('/s/')) return undefined;
    return { sessionUrl: req.url, leaveForSessionHost: this.settings.SESSIONS_HOST !== undefined };
  }

  /** For createService's `intercept`: takes `/s/…`, app host and session host requests, leaves the rest to express. */
  handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const wanted = this.wanted(req);
    if (!wanted) return false;
    if (wanted.stray) {
      refuse(res, new AppError('not_found', 'no such site: a session’s address is its id below the gateway’s'));
      return true;
    }
    if (wanted.entry && wanted.sessionHost !== undefined) {
      this.enterSessionHost(req, res, wanted.sessionHost, wanted.entry);
      return true;
    }
    const forward = (target: Target) => {
      const method = req.method ?? 'GET';
      // `?token=` becomes the cookie that finds the session from then on (the page's assets, its API calls).
      if (wanted.redirectTo !== undefined && (method === 'GET' || method === 'HEAD')) return this.enterAppHost(req, res, target, wanted.redirectTo);
      if (wanted.leaveForSessionHost && target.principal.via === 'login') return this.leaveForSessionHost(req, res, target, wanted.entryState);
      // A code is for a browser with the gateway's cookie: a token's scripts go to `/s/<sid>/` as they are.
      if (wanted.entryState !== undefined) return refuse(res, new AppError('forbidden', 'only a signed-in browser enters a session this way'));
      if (countsAsActivity(method, target.appPath)) this.deps.activity.touch(target.route.sid);
      if (!this.reachable(target.route)) return this.unreachable(NOT_ON_LINK, req, res);
      this.forwarder.web(req, res, this.upstream(req, target), (err, to) => this.unreachable(err, req, to));
    };
    this.resolve(req, wanted, false, forward, (err) => this.refuseHttp(req, res, wanted, err));
    return true;
  };

  /** For createService's `upgrade`: WebSockets into sessions; any other URL is refused like an unknown session. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const wanted = this.wanted(req) ?? { sessionUrl: '' };
    if (wanted.stray) return refuseUpgrade(socket, 404);
    const forward = (target: Target) => {
      // A cookie opens sessions on their own hosts only; a script on the gateway's host has no business in one.
      if (wanted.leaveForSessionHost && target.principal.via === 'login') return refuseUpgrade(socket, 403);
      if (!this.reachable(target.route)) return this.unreachable(NOT_ON_LINK, req, socket as Socket);
      const sid = target.route.sid;
      let stream: () => void;
      try {
        stream = this.deps.streams.take(target.principal.username);
      } catch (err) {
        return refuseUpgrade(socket, this.known(err).status);
      }
      socket.once('close', stream);
      // Node hands upgrades a net.Socket (typed as Duplex); its timeout counts silence both ways.
      if (this.settings.PROXY_WS_IDLE_TIMEOUT > 0) (socket as Socket).setTimeout(this.settings.PROXY_WS_IDLE_TIMEOUT * 1000, () => socket.destroy());
      this.deps.activity.watch(sid, socket as Socket);
      // Checked once, when it opened: it ends with the login or token it opened with.
      socket.once('close', this.deps.auth.holdWhileValid(target.principal, () => socket.destroy()));
      this.forwarder.ws(req, socket as Socket, head, this.upstream(req, target), (err, to) => this.unreachable(err, req, to));
    };
    this.resolve(req, wanted.entry ? { sessionUrl: '' } : wanted, true, forward, (err) => refuseUpgrade(socket, this.known(err).status));
  };

  /**
   * Finds the session `wanted` names and calls `open` with it if the request's user may open it, else `refuse`.
   * A signed-in user's request to a route in memory (most requests) is decided at once: waiting on a promise
   * costs a proxied request more than all its checks do.
   */
  private resolve(req: IncomingMessage, wanted: SessionRequest, upgrade: boolean, open: (target: Target) => void, refuse: (err: unknown) => void): void {
    const { sessionUrl, sessionHost } = wanted;
    const cookieHost: CookieHost = sessionHost !== undefined ? { session: sessionHost } : wanted.appHost ? APP_HOST : GATEWAY_HOST;
    const match = SESSION_URL.exec(sessionUrl);
    const [, sid = '', rawPath = '/', query = ''] = match ?? [];
    const admitted = (principal: Readonly<Principal> | undefined) => {
      const admittedPrincipal = admit(principal, req, this.settings.ALLOWED_ORIGINS, upgrade ? ADMIT_UPGRADE : ADMIT_HTTP);
      // A session's or app host's neighbours (other sessions' hosts) are the same site, so its cookie comes along
      // on their scripts' requests: only its own pages, and navigations (VISP's iframe), may use it.
      if (cookieHost !== GATEWAY_HOST && admittedPrincipal.via === 'login' && fromAnotherOrigin(req.headers) && !isNavigation(req.headers)) {
        throw new AppError('forbidden', 'cross-origin request refused');
      }
      return admittedPrincipal;
    };
    const targetFor = (principal: Readonly<Principal>, route: Route | undefined): Target => {
      const mayOpen = route && (route.owner === principal.username || (principal.admin && this.settings.ADMINS_OPEN_SESSIONS));
      if (!route || !mayOpen) throw new AppError('not_found', 'no such session');
      return { route, principal, sessionUrl, appPath: `${rawPath}${query}` };
    };
    let target: Target;
    try {
      if (!match || !safeAppPath(rawPath)) throw new AppError('not_found', 'no such session');
      const [principal, route] = [this.deps.auth.recognise(req, cookieHost), this.deps.routes.peek(sid)];
      if (!principal || !route) {
        // Identified first: nobody learns, or makes us look up, a route without signing in.
        const waited = async () => targetFor(admitted(principal ?? (await this.deps.auth.identify(req, cookieHost))), route ?? (await this.deps.routes.get(sid)));
        return void waited().then(open, refuse);
      }
      target = targetFor(admitted(principal), route);
    } catch (err) {
      return refuse(err);
    }
    open(target);
  }

  /**
   * A refused HTTP request. A browser that opens a session's host without (or with a stale) cookie of it gets a
   * fresh entry state in this host's entry cookie and is sent with it to the gateway's host, which sends it back
   * with a one-time code when it is signed in there (session-host.ts, ENTRY_PATH).
   */
  private refuseHttp(req: IncomingMessage, res: ServerResponse, wanted: SessionRequest, err: unknown): void {
    const error = this.known(err);
    const method = req.method ?? 'GET';
    const { SESSIONS_HOST } = this.settings;
    if (error.code === 'unauthorized' && wanted.sessionHost !== undefined && SESSIONS_HOST && (method === 'GET' || method === 'HEAD') && isNavigation(req.headers)) {
      const state = newEntryState();
      const query = new URLSearchParams({ sid: wanted.sessionHost, state, next: wanted.sessionUrl });
      const cookie = setCookie(this.deps.auth.cookieNames(req).entry, state, { secure: isHttps(req, this.deps.trusted), maxAgeSeconds: ENTRY_TTL_SECONDS });
      return redirect(res, `${this.scheme(req)}://${SESSIONS_HOST}${hostPort(req.headers.host)}${ENTER_PATH}?${query}`, [cookie]);
    }
    refuse(res, error);
  }

  /**
   * A signed-in browser's navigation on the gateway's host to `/s/<sid>/…`, sent to the same path on the
   * session's own host; or to ENTER_PATH, sent there with a one-time code for the browser's entry state. Only
   * navigations: nothing else on the gateway's host may use its cookie in a session.
   */
  private leaveForSessionHost(req: IncomingMessage, res: ServerResponse, target: Target, entryState: string | undefined): void {
    const method = req.method ?? 'GET';
    const login = target.principal.credential.startsWith('login:') ? target.principal.credential.slice('login:'.length) : '';
    if (!((method === 'GET' || method === 'HEAD') && isNavigation(req.headers)) || !login) {
      return refuse(res, new AppError('forbidden', `sessions open at their own address: follow a link to /s/${target.route.sid}/ from the start page`));
    }
    const sid = target.route.sid;
    const origin = `${this.scheme(req)}://${sid}.${this.settings.SESSIONS_HOST ?? ''}${hostPort(req.headers.host)}`;
    // A browser that has the session host's cookie already goes straight in; one without comes back here.
    if (entryState === undefined) return redirect(res, `${origin}${target.sessionUrl}`);
    this.deps.entries.mint(sid, login, entryState).then(
      (code) => redirect(res, `${origin}${ENTRY_PATH}?code=${code}&next=${encodeURIComponent(target.sessionUrl)}`),
      (err) => refuse(res, this.known(err)),
    );
  }

  /**
   * `/_visp/auth` on a session's host: a one-time code from the gateway's host becomes this host's own cookie,
   * when this browser's entry cookie holds the state the code was minted for.
   */
  private enterSessionHost(req: IncomingMessage, res: ServerResponse, sid: string, entry: { code: string; next: string }): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, new AppError('not_found', 'no such session'));
    const names = this.deps.auth.cookieNames(req);
    const secure = isHttps(req, this.deps.trusted);
    const state = onlyCookie(req.headers.cookie, names.entry);
    this.deps.entries.redeem(entry.code, sid, state).then(
      (login) => {
        // A browser that started an entry here, or has this host's cookie, is sent on to `next`, which lets it in
        // or starts it again with a fresh state: two tabs entering at once share one entry cookie, and the later
        // state makes the earlier tab's code fail. It goes in as itself only, so this is no way in for anyone else.
        const mayRetry = state !== undefined || onlyCookie(req.headers.cookie, names.session) !== undefined;
        if (!login && mayRetry && isNavigation(req.headers)) return redirect(res, entry.next);
        if (!login) return refuse(res, new AppError('forbidden', 'this link into the session is used, expired or not for this browser; open the session again from the start page'));
        const cookie = setCookie(names.session, this.deps.auth.sessionCookie(sid, login), { secure });
        redirect(res, entry.next, [cookie, setCookie(names.entry, '', { secure, maxAgeSeconds: 0 })]);
      },
      (err) => refuse(res, this.known(err)),
    );
  }

  private scheme(req: IncomingMessage): 'http' | 'https' {
    return isHttps(req, this.deps.trusted) ? 'https' : 'http';
  }

  private enterAppHost(req: IncomingMessage, res: ServerResponse, target: Target, location: string): void {
    redirect(res, location, [setCookie(SESSION_ACCESS_COOKIE, target.route.sid, { secure: isHttps(req, this.deps.trusted) })]);
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

  private parsed(route: Route): { origin: string; host: string } {
    let parsed = this.targets.get(route);
    if (parsed === undefined) {
      const url = new URL(route.target);
      parsed = { origin: url.origin, host: url.hostname.replace(/^\[(.*)\]$/, '$1') };
      this.targets.set(route, parsed);
    }
    return parsed;
  }

  /** Whether the session's address is on a network the gateway is on (see OnLink). */
  private reachable(route: Route): boolean {
    return this.onLink.has(this.parsed(route).host);
  }

  /** The request as the app gets it: its path, its token in place of the user's credentials. */
  private upstream(req: IncomingMessage, { route, appPath, sessionUrl }: Target): Upstream {
    const { origin } = this.parsed(route);
    const headers = forwardedHeaders(req);
    headers.authorization = `token ${route.token}`;
    const cookie = withoutCookies(req.headers.cookie, NOT_FORWARDED, SSO_COOKIE_PREFIXES);
    if (cookie) headers.cookie = cookie;
    else delete headers.cookie;
    return { origin, path: route.stripPrefix ? appPath : sessionUrl, headers, setCookies: appSetCookies };
  }

  close(): Promise<void> {
    return this.forwarder.close();
  }
}

const NOT_ON_LINK = new Error('the session is on no network the gateway is on (yet)');

function redirect(res: ServerResponse, location: string, cookies: string[] = []): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(303, { location, ...(cookies.length > 0 ? { 'set-cookie': cookies } : {}), 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
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
