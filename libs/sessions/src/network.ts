import { LABEL, NotFoundError, type PodmanClient } from '@visp/podman-client';
import { sessionNetworkName } from './naming';

/**
 * How session containers are reached. Either way each session is alone on a network of its own,
 * `visp-session-net-<sid>`, created with netavark's `isolate` (no traffic with other isolated networks):
 * - `local` (`npm start`): the services are host processes; the session guard's port is published on 127.0.0.1.
 * - `network` (the container stack, production): the network is internal (no route anywhere) and has no DNS, and the
 *   `joiners` (the services' containers that reach sessions: the gateway, the session-manager's readiness probe,
 *   recovery's) are connected to it. They listen on the services' network only, so a session on its network
 *   reaches nothing but itself.
 */
export type SessionNetworking = { mode: 'local' } | { mode: 'network'; joiners: readonly string[] };

/**
 * Creates a session's own network and, in network mode, puts the joiners on it. A joiner that does not exist
 * (a gateway being restarted) is left to recovery, which joins it once it is back (act.ts `join-network`).
 */
export async function openSessionNetwork(podman: PodmanClient, sid: string, instance: string, networking: SessionNetworking): Promise<string[]> {
  const name = sessionNetworkName(sid);
  // Local mode cannot be internal: Podman publishes no port of an internal network's container.
  await podman.ensureSessionNetwork(name, { instance, internal: networking.mode === 'network', labels: { [LABEL.sessionId]: sid } });
  if (networking.mode === 'local') return [];
  const missing: string[] = [];
  await Promise.all(
    networking.joiners.map((joiner) =>
      podman.connectNetwork(name, joiner).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err;
        missing.push(joiner);
      }),
    ),
  );
  return missing;
}

/** Removes a session's own network, the joiners taken off it first (its container must be gone). */
export function closeSessionNetwork(podman: PodmanClient, sid: string): Promise<void> {
  return podman.removeNetwork(sessionNetworkName(sid));
}

/** The networking a service's settings describe (SESSION_MODE, SESSION_NETWORK_JOINERS). */
export const sessionNetworking = (settings: { SESSION_MODE: 'local' | 'network'; SESSION_NETWORK_JOINERS: readonly string[] }): SessionNetworking =>
  settings.SESSION_MODE === 'local' ? { mode: 'local' } : { mode: 'network', joiners: settings.SESSION_NETWORK_JOINERS };
