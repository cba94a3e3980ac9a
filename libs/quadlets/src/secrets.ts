import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * (Re)creates a Podman secret from a file in a private directory, removed at once: Podman 4.3 takes `-` only from
 * a real pipe, and a value on the command line would show in the process list. Returns podman's error, if any.
 */
export function createPodmanSecret(name: string, value: string, env?: NodeJS.ProcessEnv): string | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'visp-secret-'));
  try {
    const file = path.join(dir, 'value');
    writeFileSync(file, value, { mode: 0o600 });
    spawnSync('podman', ['secret', 'rm', name], { env });
    const created = spawnSync('podman', ['secret', 'create', name, file], { env, encoding: 'utf8' });
    return created.status === 0 ? undefined : created.stderr.trim() || `exit ${created.status}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
