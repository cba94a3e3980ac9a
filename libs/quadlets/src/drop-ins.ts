// Quadlet drop-ins that `visp install` writes beside the units for what a unit cannot take from visp.env, and that
// the container stack applies the same way, so the tested stack runs what production runs.
import path from 'node:path';

/**
 * The gateway's drop-in that mounts the projects' repositories, at the same path inside its container (so
 * PROJECT_REPOSITORIES_DIR from visp.env names them there too): it reads VISP's bundles' recordings and writes
 * their transcripts beside them. A quadlet cannot take a `Volume=` path from visp.env, and the units are links to
 * the repository's quadlets/, so install writes this file next to them. Quadlet reads drop-ins from Podman 5.0.
 */
export const GATEWAY_REPOSITORIES_DROP_IN = path.join('visp-gateway.container.d', 'repositories.conf');

export function gatewayRepositoriesDropIn(dir: string): string {
  return [
    '# Written by visp install --project-repositories: the projects\' repositories, where the gateway reads VISP\'s',
    '# bundles and writes their transcripts (PROJECT_REPOSITORIES_DIR, the same path inside the container).',
    '[Container]',
    `Volume=${dir}:${dir}`,
    '',
  ].join('\n');
}
