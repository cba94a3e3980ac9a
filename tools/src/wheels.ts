// Python wheels for the images, downloaded on this machine once per requirements file and installed inside a build
// without network, so builds stay offline and reproducible. They are asked for the images' Python (Debian
// bookworm's CPython 3.11 on glibc 2.36, x86_64) by tags; pip still evaluates environment markers with the Python
// that runs it, so a lock is made with a 3.11 here (bootstrap's, on this machine kind).
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, STATE_DIR } from './paths';
import { run } from './processes';

/** Binary wheels only (nothing is built), for the images' interpreter and every manylinux its glibc runs. */
const IMAGE_PYTHON = [
  '--only-binary=:all:',
  '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '--abi', 'abi3', '--abi', 'none',
  ...['manylinux2014_x86_64', ...Array.from({ length: 36 - 17 + 1 }, (_, i) => `manylinux_2_${17 + i}_x86_64`)].flatMap((platform) => ['--platform', platform]),
];

const CACHE = path.join(STATE_DIR, 'cache');

/**
 * `.visp/cache/wheels-<hash>`: the wheels a requirements file pins, for the images' Python. Named by the file and
 * the target, so a change to either downloads anew and rebuilds the images that install them.
 */
export async function pythonWheels(requirements: string): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(requirements)).update(JSON.stringify(IMAGE_PYTHON)).digest('hex').slice(0, 16);
  const dir = path.join(CACHE, `wheels-${hash}`);
  if (existsSync(dir)) return dir;
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  await run('python3', ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', ...IMAGE_PYTHON, '-r', requirements, '-d', staging], { quiet: true });
  renameSync(staging, dir);
  return dir;
}

/** A wheel's file name: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`. */
export function wheelRelease(file: string): { name: string; version: string } {
  const parts = path.basename(file, '.whl').split('-');
  if (parts.length < 5 || parts.length > 6) throw new Error(`${file} is not a wheel's file name`);
  // PEP 503's normal form, as pip prints names.
  return { name: (parts[0] as string).toLowerCase().replace(/[-_.]+/g, '-'), version: parts[1] as string };
}

/**
 * Resolves `input` (the packages wanted, one per line) for the images' Python and writes `lock`: every package
 * of the resolution pinned, with its wheel's sha256, which pip then demands (`--require-hashes` is implied).
 */
export async function lockPythonWheels(input: string, lock: string): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'visp-lock-'));
  try {
    await run('python3', ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', ...IMAGE_PYTHON, '-r', input, '-d', dir], { quiet: true });
    const pins = readdirSync(dir)
      .filter((file) => file.endsWith('.whl'))
      .map((file) => ({ ...wheelRelease(file), sha256: createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex') }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const header = [
      `# The lock of ${path.basename(input)}, made by \`visp-dev lock-wheels ${path.relative(ROOT, path.resolve(input))}\`: every package`,
      '# of the resolution for the images’ Python (CPython 3.11, glibc x86_64), with its wheel’s sha256.',
    ];
    writeFileSync(lock, `${[...header, ...pins.map((pin) => `${pin.name}==${pin.version} \\\n    --hash=sha256:${pin.sha256}`)].join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
