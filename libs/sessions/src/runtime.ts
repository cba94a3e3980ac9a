import type { Redis } from '@visp/bus';
import { expandLaunch, type Logger, type SessionTypeConfig, type SessionTypes, type TemplateValues } from '@visp/config';
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
  const hostPort = details.ports[`${session.port}/tcp`];
  return hostPort ? `http://127.0.0.1:${hostPort}` : undefined;
}

/** Whether the app answers its readiness path below 400 (one try). */
export async function answersReadiness(type: SessionTypeConfig, session: { sid: string; owner: string; token: string }, target: string, signal?: AbortSignal): Promise<boolean> {
  const { readinessPath, readinessHeaders: headers } = expandLaunch(type, templateValues(session));
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
