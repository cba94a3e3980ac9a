import path from 'node:path';

/** The repository root, both from the bundle (dist/tools) and from the sources (tools/src). */
export const ROOT = path.resolve(__dirname, '../..');
export const STATE_DIR = path.join(ROOT, '.visp');
export const CONTAINERS_CONF = path.join(ROOT, 'tools/podman/containers.conf');
export const FERRETDB_BIN = path.join(STATE_DIR, 'bin/ferretdb');
