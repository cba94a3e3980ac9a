import type { IncomingMessage } from 'node:http';
import { ActivityLog, EventBus, RedisRouteTable, type Redis } from '@visp/bus';
import type { Logger } from '@visp/config';
import { createService, PeerList, serviceBasics, propagationHeaders, type Service } from '@visp/service-kit';
import type { ProjectDirectory, Store } from '@visp/store';
import { matomoAnalytics, type AnalyticsSettings } from './analytics/analytics';
import { authRoutes, type AuthRouteSettings } from './auth/auth.routes';
import { Authenticator, isHttps } from './auth/principal';
import { StreamLimit } from './auth/stream-limit';
import { SSO_SECRET_HEADER } from './auth/sso';
import { ActivityRecorder } from './proxy/activity';
import { RouteCache } from './proxy/route-cache';
import { SessionEntryCodes } from './proxy/session-host';
import { SessionProxy, type SessionProxySettings } from './proxy/session-proxy';
import { openApiDocument } from './openapi';
import { AccessList } from './projects/access-list';
import { AccessWatch } from './projects/access-watch';
import { DirectoryUsers } from './projects/directory-users';
import { ProjectAccess } from './projects/project-access';
import { projectRoutes } from './projects/projects.routes';
import { SessionLauncher } from './sessions/launcher';
import { ServiceClient, SessionManagerClient } from './sessions/manager-client';
import { sessionRoutes } from './sessions/sessions.routes';
import { Transcriptions, type TranscriptionSettings } from './transcriptions/transcriptions';
import { transcriptionRoutes } from './transcriptions/transcriptions.routes';
import { webPageRoutes } from './web-page';
import { WebclientHub, type WebclientSettings } from './webclient/webclient-hub';

export interface GatewaySettings extends AuthRouteSettings, SessionProxySettings, WebclientSettings, TranscriptionSettings, AnalyticsSettings {
  component: string;
  HOST: string;
  PORT: number;
  SHUTDOWN_TIMEOUT_MS: number;
  SERVICE_TOKEN: string;
  SESSION_MANAGER_URL: string;
  RECOVERY_URL: string;
  COOKIE_SECRET: string;
  ADMIN_USERS: string[];
  TRUSTED_PROXY_CIDRS: string[];
  MAX_STREAMS_PER_USER: number;
  ACCESS_RECHECK_INTERVAL: number;
}

export interface GatewayDeps {
  store: Store;
  /** Where VISP's projects come from: VISP's database (PROJECT_SOURCE=visp), else the store's own. */
  directory?: ProjectDirectory & { ping?(): Promise<void> };
  redis: Redis;
  logger: Logger;
  closeAfter?: Array<() => Promise<unknown>>;
}

/**
 * Headers only a trusted front proxy may set. From anyone else they are dropped before anything reads them,
 * so they can neither sign someone in nor reach a session claiming to be true.
 */
function sanitize(req: IncomingMessage, trusted: PeerList, identityHeaders: readonly string[]): void {
  if (trusted.includes(req)) return;
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith('x-forwarded-') || name === 'forwarded' || identityHeaders.includes(name)) Reflect.deleteProperty(req.headers, name);
  }
}

export async function buildGateway(settings: GatewaySettings, deps: GatewayDeps): Promise<{ service: Service }> {
  const { store, redis, logger } = deps;
  const trusted = new PeerList(settings.TRUSTED_PROXY_CIDRS);
  const identityHeaders = [settings.SHIB_USER_HEADER, settings.SHIB_MAIL_HEADER, settings.SHIB_NAME_HEADER, settings.SHIB_AFFILIATION_HEADER, SSO_SECRET_HEADER].map((h) => h.toLowerCase());
  const auth = new Authenticator(redis, store, settings, (req) => isHttps(req, trusted));
  await auth.start();
  const manager = new SessionManagerClient(new ServiceClient('session service', settings.SESSION_MANAGER_URL, settings.SERVICE_TOKEN));
  const recovery = new ServiceClient('recovery service', settings.RECOVERY_URL, settings.SERVICE_TOKEN);
  const routes = new RouteCache(new RedisRouteTable(redis));
  await routes.start();
  const streams = new StreamLimit(settings.MAX_STREAMS_PER_USER);
  const proxy = new SessionProxy({ auth, entries: new SessionEntryCodes(redis), routes, streams, activity: new ActivityRecorder(new ActivityLog(redis), logger), trusted, logger: logger.child({ part: 'proxy' }) }, settings);
  const events = new EventBus(redis, logger);
  const users = new DirectoryUsers(deps.directory ?? store.projects);
  const access = new ProjectAccess(deps.directory ?? store.projects, users, logger.child({ part: 'projects' }));
  const accessList = new AccessList(users, settings.ACCESS_LIST_ENABLED);
  const transcriptions = new Transcriptions({ transcriptions: store.transcriptions, redis, accessList, logger: logger.child({ part: 'transcriptions' }) }, settings);
  await transcriptions.start();
  // VISP's bundle jobs: the transcript goes beside the bundle once the job completes.
  await transcriptions.bundleJobs.start(events);
  const launcher = new SessionLauncher(manager, access, accessList, logger.child({ part: 'launcher' }));
  const accessWatch = new AccessWatch({ manager, access, accessList, redis, logger: logger.child({ part: 'access-watch' }) }, settings.ACCESS_RECHECK_INTERVAL * 1000);
  accessWatch.start();
  const webclient = new WebclientHub({ auth, manager, launcher, access, accessList, transcriptions, events, streams, logger: logger.child({ part: 'webclient' }) }, settings);
  await webclient.start();
  // Matomo, when configured: the start page's tracker, and product events reported once across all gateways.
  const analytics = matomoAnalytics(settings, { redis, events, sessions: manager, transcriptions: store.transcriptions, logger: logger.child({ part: 'analytics' }) });
  await analytics?.start();
  const sessionManagerHealth = new URL('/healthz', settings.SESSION_MANAGER_URL);

  const service = createService({
    ...serviceBasics(settings, logger),
    readiness: {
      redis: () => redis.ping(),
      mongo: () => store.ping(),
      ...(deps.directory?.ping ? { 'visp-database': () => deps.directory?.ping?.() ?? Promise.resolve() } : {}),
      'session-manager': async () => {
        const res = await fetch(sessionManagerHealth, { headers: propagationHeaders() });
        if (!res.ok) throw new Error(`answered ${res.status}`);
      },
    },
    intercept: (req, res) => {
      sanitize(req, trusted, identityHeaders);
      return proxy.handle(req, res);
    },
    upgrade: (req, socket, head) => {
      sanitize(req, trusted, identityHeaders);
      // An app host's and a session host's every path is its session's, `/` too (where VISP's webclient socket may also be).
      if (!proxy.servesWholeHost(req) && webclient.handles(req)) webclient.upgrade(req, socket, head);
      else proxy.upgrade(req, socket, head);
    },
    routes: (app) => {
      webPageRoutes(app, logger, { tracker: analytics?.page });
      // With the session-manager's types and their limits, as it takes them; the contract alone when it is down.
      app.get('/api/v1/openapi.json', async (_req, res) => {
        res.json(openApiDocument(await manager.sessionTypes().then((view) => view.types, () => undefined)));
      });
      const onSignIn = (username: string) => {
        launcher.prepare(username);
        analytics?.signedIn(username);
      };
      authRoutes(app, { auth, store, redis, trusted, settings, onSignIn });
      projectRoutes(app, { auth, access, manager, store: deps.directory ? undefined : store.projects, accessListEnabled: settings.ACCESS_LIST_ENABLED, allowedOrigins: settings.ALLOWED_ORIGINS });
      sessionRoutes(app, { auth, manager, launcher, recovery, streams, allowedOrigins: settings.ALLOWED_ORIGINS });
      transcriptionRoutes(app, { auth, transcriptions, allowedOrigins: settings.ALLOWED_ORIGINS });
    },
    onClose: [async () => proxy.close(), () => accessWatch.close(), () => webclient.close(), async () => analytics?.close(), async () => transcriptions.bundleJobs.close(), () => events.close(), () => transcriptions.close(), () => routes.stop(), () => auth.close(), ...(deps.closeAfter ?? [])],
  });
  analytics?.countIn(service.metrics);
  return { service };
}
