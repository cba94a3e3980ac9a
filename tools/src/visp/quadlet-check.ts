import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sh } from './host';

export interface QuadletReport {
  ok: boolean;
  /** The systemd units the quadlets became. */
  units: string[];
  /** Every warning or error, from quadlet or from `systemd-analyze verify`; any one fails the check. */
  problems: string[];
}

/**
 * Generates the units from a quadlet directory with Podman 5's quadlet (as systemd would at boot) and verifies
 * them with `systemd-analyze verify`. A unit quadlet cannot convert, or any line either tool warns with, fails.
 */
export function verifyQuadlets(dir: string, quadlet: string): QuadletReport {
  const out = mkdtempSync(path.join(tmpdir(), 'visp-quadlet-'));
  const runtime = mkdtempSync(path.join(tmpdir(), 'visp-quadlet-run-'));
  try {
    const env = { ...process.env, QUADLET_UNIT_DIRS: path.resolve(dir) };
    // The dry run reports on stderr; writing units, quadlet logs to the kernel log instead.
    const dryRun = sh(quadlet, ['-dryrun', '-user'], { env });
    const problems = dryRun.stderr
      .split('\n')
      .map((line) => line.replace(/^quadlet-generator\[\d+\]: /, '').trim())
      .filter((line) => line && !line.startsWith('Loading source unit file') && !line.startsWith('Loading source drop-in file'));
    if (dryRun.code !== 0 && problems.length === 0) problems.push(`quadlet exited ${dryRun.code}`);
    sh(quadlet, ['-user', out], { env });
    const sources = readdirSync(dir).filter((f) => /\.(container|network|volume|pod|kube|build|image)$/.test(f));
    const units = readdirSync(out).filter((f) => f.endsWith('.service'));
    // quadlet skips a unit it cannot convert; it must have made one service per source.
    if (units.length < sources.length) problems.push(`${sources.length - units.length} of ${sources.length} quadlets produced no unit`);
    if (units.length > 0) {
      const verified = sh('systemd-analyze', ['verify', '--user', ...units], { cwd: out, env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
      problems.push(...`${verified.stdout}\n${verified.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean));
      if (verified.code !== 0 && verified.stderr.trim() === '') problems.push(`systemd-analyze verify exited ${verified.code}`);
    }
    return { ok: problems.length === 0, units: units.sort(), problems };
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
}
