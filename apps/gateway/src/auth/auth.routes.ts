import { timingSafeEqual } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import type { Redis } from '@visp/bus';
import { CreateTokenRequestSchema, DevLoginRequestSchema, type ApiTokenView, type Me } from '@visp/contracts';
import { AppError, clientAddress, NotFoundError, parseOrThrow, requireJson, type PeerList } from '@visp/service-kit';
import type { ApiToken, Store } from '@visp/store';
import { LOGIN_COOKIE, setCookie } from './cookies';
import { principalOf, requireUser } from './middleware';
import { originAllowed } from './origin';
import { isHttps, withinRateLimit, type Authenticator } from './principal';
import { ssoIdentity, type SsoSettings } from './sso';

export interface AuthRouteSettings extends SsoSettings {
  AUTH_MODE: 'dev-key' | 'shibboleth';
  TEST_USER_LOGIN_KEY?: string;
  LOGIN_TTL: number;
  LOGIN_RATE_LIMIT: number;
  API_TOKEN_TTL_DAYS: number;
  ALLOWED_ORIGINS: string[];
  SSO_LOGIN_URL: string;
  COOKIE_DOMAIN?: string;
  VISP_WEBCLIENT: boolean;
}

const tokenView = (t: ApiToken): ApiTokenView => ({
  id: t.id,
  name: t.name,
  createdAt: t.createdAt.toISOString(),
  expiresAt: t.expiresAt?.toISOString(),
  lastUsedAt: t.lastUsedAt?.toISOString(),
});

/** `onSignIn` hears every completed sign-in (usage analytics); it must return at once and never throw. */
export function authRoutes(app: Express, deps: { auth: Authenticator; store: Store; redis: Redis; trusted: PeerList; settings: AuthRouteSettings; onSignIn?: (username: string) => void }): void {
  const { auth, store, redis, trusted, settings } = deps;
  const user = requireUser(auth, settings.ALLOWED_ORIGINS);

  /**
   * The sign-in cookies carrying `value` (empty and expired: removing them): the gateway's, host-only; with
   * COOKIE_DOMAIN, the app hosts' for the domain, and the domain-wide gateway cookie of versions before
   * 2026-12-05 removed, which would otherwise be sent twice beside the host-only one (and count as neither).
   */
  const loginCookies = (req: Request, values: { gateway: string; app: string }, maxAgeSeconds: number) => {
    const [names, secure, domain] = [auth.cookieNames(req), isHttps(req, trusted), settings.COOKIE_DOMAIN];
    // The old one removed first: without `__Host-` (plain HTTP) it has the same name as the new one.
    const legacy = domain ? [setCookie(LOGIN_COOKIE, '', { maxAgeSeconds: 0, secure, domain })] : [];
    return [...legacy, setCookie(names.login, values.gateway, { maxAgeSeconds, secure }), ...(domain ? [setCookie(names.app, values.app, { maxAgeSeconds, secure, domain })] : [])];
  };

  const startLogin = async (req: Request, res: Response, identity: { username: string; email?: string; displayName?: string; affiliation?: string }) => {
    const account = await store.users.upsertOnSignIn({ ...identity, admin: auth.isAdmin(identity.username) });
    res.setHeader('set-cookie', loginCookies(req, await auth.signIn(account.username), settings.LOGIN_TTL));
    deps.onSignIn?.(account.username);
    return account;
  };

  /** How the page offers sign-in. */
  app.get('/auth/config', (_req, res) => {
    res.json({ mode: settings.AUTH_MODE, ...(settings.AUTH_MODE === 'shibboleth' ? { ssoUrl: settings.SSO_LOGIN_URL } : {}) });
  });

  // VISP's client starts a sign-in at /DS/Login (its SP's session initiator): the same start as the page's.
  if (settings.VISP_WEBCLIENT) {
    app.get('/DS/Login', (_req, res) => {
      res.redirect(303, settings.AUTH_MODE === 'shibboleth' ? settings.SSO_LOGIN_URL : '/');
    });
  }

  app.post('/auth/login', async (req, res) => {
    if (settings.AUTH_MODE !== 'dev-key' || !settings.TEST_USER_LOGIN_KEY) throw new NotFoundError('dev-key sign-in (this gateway uses SSO)');
    // Per client, not per TCP peer: behind the edge every client is the same peer.
    if (!(await withinRateLimit(redis, 'login', clientAddress(req, trusted), settings.LOGIN_RATE_LIMIT))) {
      throw new AppError('rate_limited', 'too many sign-in attempts; wait a minute');
    }
    requireJson(req);
    const body = parseOrThrow(DevLoginRequestSchema, req.body);
    const [given, expected] = [Buffer.from(body.key), Buffer.from(settings.TEST_USER_LOGIN_KEY)];
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new AppError('unauthorized', 'wrong login key');
    const account = await startLogin(req, res, { username: body.username });
    res.json({ username: account.username, admin: account.admin });
  });

  // The SP protects this path; it is where SSO returns to. Identity headers count only as `ssoIdentity` says.
  app.get('/auth/sso', async (req, res) => {
    if (settings.AUTH_MODE !== 'shibboleth') throw new NotFoundError('SSO sign-in (this gateway uses dev-key sign-in)');
    const identity = ssoIdentity(req, trusted, settings);
    if (!identity) throw new AppError('unauthorized', 'no identity from the single sign-on service');
    await startLogin(req, res, identity);
    res.redirect(303, '/');
  });

  app.post('/auth/logout', async (req, res) => {
    // A page of another origin must not sign the user out either (a session's scripts, above all).
    if (!originAllowed(req, settings.ALLOWED_ORIGINS)) throw new AppError('forbidden', 'cross-origin request refused');
    await auth.signOut(req);
    res.setHeader('set-cookie', loginCookies(req, { gateway: '', app: '' }, 0));
    res.status(204).end();
  });

  app.get('/api/v1/me', user, async (_req, res) => {
    const principal = principalOf(res);
    const account = await store.users.find(principal.username);
    const me: Me = { username: principal.username, admin: principal.admin, via: principal.via, displayName: account?.displayName, email: account?.email };
    res.json(me);
  });

  app.post('/api/v1/tokens', user, async (req, res) => {
    const principal = principalOf(res);
    // A token cannot mint tokens: a leaked one must not be able to outlive its own revocation.
    if (principal.via !== 'login') throw new AppError('forbidden', 'create API tokens while signed in, not with a token');
    const body = parseOrThrow(CreateTokenRequestSchema, req.body);
    // Every token expires: a forgotten one in an old script must not work forever.
    const expiresAt = new Date(Date.now() + (body.expiresInDays ?? settings.API_TOKEN_TTL_DAYS) * 86_400_000);
    const { token, record } = await store.tokens.create(principal.username, body.name, expiresAt);
    res.status(201).json({ ...tokenView(record), token });
  });

  app.get('/api/v1/tokens', user, async (_req, res) => {
    res.json({ tokens: (await store.tokens.list(principalOf(res).username)).map(tokenView) });
  });

  app.delete('/api/v1/tokens/:id', user, async (req, res) => {
    if (!(await auth.revokeToken(principalOf(res).username, String(req.params.id)))) throw new NotFoundError(`token ${String(req.params.id).slice(0, 40)}`);
    res.status(204).end();
  });
}
