import type { Redis } from '@visp/bus';
import { expandLaunch, type Logger, type SessionTypeConfig, type SessionTypes, type TemplateValues } from '@visp/config';
import { sessionPath } from '@visp/contracts';
import type { Store } from '@visp/store';
import type { SessionRuntime } from './session-runtime';

/** The environment variable every session container carries its token in, whatever the app: recovery reads it. */
export const TOKEN_ENV = 'VISP_SESSION_TOKEN';

export const templateValues = (session: { sid: string; owner: string; token: string }): TemplateValues => ({
  baseUrl: sessionPath(session.sid),
  token: session.token,
  user: session.owner,
});

/** The credential the gateway adds to every request it proxies, and the session guard asks for. */
const sessionAuthorization = (token: string) => `token ${token}`;

/**
 * Whether the app answers its readiness path below 400 (one try). With the session's credential, as the gateway
 * sends it, whatever the type's own headers say: in local mode the guard lets nothing else through.
 */
export async function answersReadiness(type: SessionTypeConfig, session: { sid: string; owner: string; token: string }, target: string, signal?: AbortSignal): Promise<boolean> {
  const { readinessPath, readinessHeaders } = expandLaunch(type, templateValues(session));
  const headers = new Headers(readinessHeaders);
  headers.set('authorization', sessionAuthorization(session.token));
  const timeout = AbortSignal.timeout(2000);
  return fetch(new URL(readinessPath, target), { headers, redirect: 'manual', signal: signal ? AbortSignal.any([signal, timeout]) : timeout }).then(
    (res) => (void res.body?.cancel(), res.status < 400),
    () => false,
  );
}

/** What the services that run sessions (the session-manager, recovery) are built from; main.ts opens them. */
export interface SessionHostDeps {
  store: Store;
  redis: Redis;
  runtime: SessionRuntime;
  types: SessionTypes;
  logger: Logger;
  /** Closes what the caller opened (database, Redis), after the service has drained. */
  closeAfter?: Array<() => Promise<unknown>>;
}

/** How long `followAlways` waits before opening a stream again: a second, doubling while it keeps failing. */
const FOLLOW_RETRY = { firstMs: 1000, maxMs: 30_000 };

/**
 * Runs `follow` (one connection to the engine's stream of changes) again and again until `signal` aborts: a stream
 * the engine ended is opened again a second later; one that failed, after a wait that doubles while it keeps
 * failing (a permission missing would otherwise be asked for every second). A failure is logged when it is not
 * the one before. `follow` resolves true when its stream had connected. Never throws.
 */
export async function followAlways(follow: () => Promise<boolean>, signal: AbortSignal, logger: Logger): Promise<void> {
  let wait = FOLLOW_RETRY.firstMs;
  let lastFailure = '';
  while (!signal.aborted) {
    const connected = await follow().catch((err: unknown) => {
      const failure = err instanceof Error ? err.message : String(err);
      if (!signal.aborted && failure !== lastFailure) logger.warn({ err }, 'following the engine failed; trying again');
      lastFailure = failure;
      return false;
    });
    if (connected) [wait, lastFailure] = [FOLLOW_RETRY.firstMs, ''];
    if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    if (!connected) wait = Math.min(wait * 2, FOLLOW_RETRY.maxMs);
  }
}
