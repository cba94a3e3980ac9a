import type { Redis } from '@visp/bus';
import { expandLaunch, SESSION_GUARD_PORT, type Logger, type SessionTypeConfig, type SessionTypes, type TemplateValues } from '@visp/config';
import { sessionPath } from '@visp/contracts';
import type { PodmanClient } from '@visp/podman-client';
import type { Store } from '@visp/store';
import { sessionNetworkName } from './naming';
import type { SessionNetworking } from './network';

/** The environment variable every session container carries its token in, whatever the app: recovery reads it. */
export const TOKEN_ENV = 'VISP_SESSION_TOKEN';

export const templateValues = (session: { sid: string; owner: string; token: string }): TemplateValues => ({
  baseUrl: sessionPath(session.sid),
  token: session.token,
  user: session.owner,
});

/**
 * Where the gateway (and a readiness probe) reaches a session's app, or undefined when it cannot be reached: in
 * local mode its published port, in network mode its address on its own network (where the joiners are too).
 * Read from the container as the caller inspected it, when it did.
 */
export async function sessionTarget(
  podman: PodmanClient,
  container: { id: string; ports?: Record<string, number>; networks?: Record<string, string> },
  session: { sid: string; port: number },
  networking: SessionNetworking,
): Promise<string | undefined> {
  const details = container.ports && container.networks ? { ports: container.ports, networks: container.networks } : await podman.inspectContainer(container.id);
  if (networking.mode === 'network') {
    const address = details.networks[sessionNetworkName(session.sid)];
    return address ? `http://${address}:${session.port}` : undefined;
  }
  // Local mode: the guard's port; the app's own is not published (behindGuard).
  const hostPort = details.ports[`${SESSION_GUARD_PORT}/tcp`];
  return hostPort ? `http://127.0.0.1:${hostPort}` : undefined;
}

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
  podman: PodmanClient;
  types: SessionTypes;
  logger: Logger;
  /** Closes what the caller opened (database, Redis), after the service has drained. */
  closeAfter?: Array<() => Promise<unknown>>;
}
