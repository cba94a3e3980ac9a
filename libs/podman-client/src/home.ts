import { createHash } from 'node:crypto';

/**
 * `visp-home-<slug>-<hash>`, the owner's home volume: readable, and unique per owner even when two owners slug
 * alike (`a@x.se`, `a-x.se`), thanks to a short hash of the exact owner. Here, beside the labels, because the
 * socket proxy must compute it too (a container labelled as one owner's mounts only that owner's home);
 * `@visp/sessions` re-exports it.
 */
export function homeVolumeName(owner: string): string {
  const slug = owner.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  const hash = createHash('sha256').update(owner).digest('hex').slice(0, 8);
  return `visp-home-${slug}-${hash}`;
}

/**
 * Where the session guard's binary (tools/session-guard) is mounted in a local-mode session, read-only, and run
 * as its entrypoint. Here for the same reason: the socket proxy allows a bind of the guard to this target only.
 */
export const SESSION_GUARD_PATH = '/opt/visp-guard/visp-session-guard';
