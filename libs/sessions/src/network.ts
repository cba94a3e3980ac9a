import type { SessionNetworkingSettings } from '@visp/config';
import { LABEL } from '@visp/contracts';
import { NotFoundError, type PodmanClient } from '@visp/podman-client';
import { sessionNetworkName } from './naming';

/**
 * How session containers are reached. Either way a session shares a network with no other session:
 * - `local` (`npm start`): the services are host processes. Each session has user-mode networking of its own
 *   (slirp4netns): its address is in its own network namespace, which no host route leads to (on a rootful host a
 *   bridge network's addresses are routed, and a host process reached the app there, past the guard), and the
 *   host's loopback, where the services and the other sessions' ports are, is closed to it. Only the session
 *   guard's port is published, on 127.0.0.1.
 * - `network` (the container stack, production): `visp-session-net-<sid>`, internal (no route anywhere), isolated
 *   (netavark's `isolate`) and without DNS, which the `joiners` (the services' containers that reach sessions: the
 *   gateway, the session-manager's readiness probe, recovery's) are connected to. They listen on the services'
 *   network only, so a session on its network reaches nothing but itself.
 */
export type SessionNetworking = { mode: 'local' } | { mode: 'network'; joiners: readonly string[] };

/**
 * In network mode, creates a session's own network and puts the joiners on it; returns the joiners that do not
 * exist (a gateway being restarted), left to recovery, which joins them once they are back (act.ts
 * `join-network`). Local mode has nothing to make: the container brings its own networking.
 */
export async function openSessionNetwork(podman: PodmanClient, sid: string, instance: string, networking: SessionNetworking): Promise<string[]> {
  if (networking.mode === 'local') return [];
  const name = sessionNetworkName(sid);
  await podman.ensureSessionNetwork(name, { instance, labels: { [LABEL.sessionId]: sid } });
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

/**
 * In network mode, removes a session's own network, the joiners taken off it first (its container must be gone).
 * Local mode's sessions have none (those started before 2026-12-05 had: recovery removes such a network once its
 * container is gone, as any network that outlived its session).
 */
export async function closeSessionNetwork(podman: PodmanClient, sid: string, networking: SessionNetworking): Promise<void> {
  if (networking.mode === 'network') await podman.removeNetwork(sessionNetworkName(sid));
}

/** The networking a service's settings describe (SESSION_MODE, SESSION_NETWORK_JOINERS). */
export const sessionNetworking = (settings: SessionNetworkingSettings): SessionNetworking =>
  settings.SESSION_MODE === 'local' ? { mode: 'local' } : { mode: 'network', joiners: settings.SESSION_NETWORK_JOINERS };
