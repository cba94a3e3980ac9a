import { createHash } from 'node:crypto';
import path from 'node:path';
import { ProjectIdSchema } from '@visp/contracts';

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

/**
 * A session's project repository on the host, `<root>/<project>` (`PROJECT_REPOSITORIES_DIR`, VISP's
 * `mounts/repositories/<project.id>`), and where a session mounts it: `<home>/project` (VISP's
 * `/home/jovyan/project`). Here because the socket proxy allows a bind of exactly this source, at exactly this
 * target, for the project a container's label names. Throws on an id that is not one path segment.
 */
export function projectRepository(root: string, project: string, homeDir: string): { source: string; target: string } {
  if (!ProjectIdSchema.safeParse(project).success) throw new Error(`project id ${JSON.stringify(project)} is not one path segment`);
  return { source: `${root}/${project}`, target: path.posix.join(homeDir, 'project') };
}
