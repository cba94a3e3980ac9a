import { randomBytes, randomInt } from 'node:crypto';
import type { SessionLimits } from '@visp/contracts';
import type { ResourceLimits } from '@visp/podman-client';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 12 random base32 characters (60 bits). */
export function newSessionId(): string {
  let sid = '';
  for (let i = 0; i < 12; i++) sid += BASE32[randomInt(32)];
  return sid;
}

/** The per-session secret the app is started with and the gateway injects. */
export const newSessionToken = () => randomBytes(24).toString('base64url');

export const containerName = (type: string, sid: string) => `visp-session-${type}-${sid}`;

/**
 * The network a session has to itself in local mode: isolated from every other isolated network, so one user's
 * code cannot reach another user's session by its address (a shared bridge lets every container reach every other).
 */
export const sessionNetworkName = (sid: string) => `visp-session-net-${sid}`;

export function toResourceLimits(limits: SessionLimits): ResourceLimits {
  return { memoryBytes: limits.memoryMiB * 2 ** 20, nanoCpus: Math.round(limits.cpus * 1e9), pids: limits.pids };
}
