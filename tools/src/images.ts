import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LABEL } from '@visp/contracts';
import { podmanEnv } from './infra';
import { ROOT } from './paths';
import { run } from './processes';
import { nodeDistribution, npmTarball } from './node-dist';
import { pythonWheels } from './wheels';

export interface ImageSpec {
  /** A `localhost/…:<version>` tag. */
  tag: string;
  containerfile: string;
  /** Fills a fresh build-context directory; what it writes counts towards the build hash. */
  prepareContext(dir: string): void;
  /**
   * Adds large inputs to the context only when the image is built; their identity must be in `inputs` (hashing
   * a node_modules tree on every run costs seconds for nothing).
   */
  stageForBuild?(dir: string): void | Promise<void>;
  buildArgs?: Record<string, string>;
  /** Other inputs of the build (such as the base image's hash), so a change to them rebuilds the image. */
  inputs?: () => Promise<Record<string, string>>;
  /** The stage to build, for a multi-stage Containerfile. */
  target?: string;
  /** Docker's image format keeps HEALTHCHECK, which OCI images drop. */
  format?: 'docker';
}

function hashTree(dir: string, hash = createHash('sha256'), rel = ''): string {
  const entries = readdirSync(path.join(dir, rel), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const child = path.join(rel, entry.name);
    hash.update(child);
    if (entry.isDirectory()) hashTree(dir, hash, child);
    else if (entry.isSymbolicLink()) hash.update(readlinkSync(path.join(dir, child)));
    else hash.update(readFileSync(path.join(dir, child)));
  }
  return rel === '' ? hash.digest('hex').slice(0, 16) : '';
}

export async function labelOf(tag: string): Promise<string | undefined> {
  try {
    const out = await run('podman', ['image', 'inspect', '--format', `{{index .Labels "${LABEL.buildHash}"}}`, tag], { env: podmanEnv(), quiet: true });
    return out.trim();
  } catch {
    return undefined;
  }
}

/**
 * Removes this project's images that no tag names any more and no container uses: each rebuild leaves the one it
 * replaced (seen on a long-used machine: 134 of them, 57 GB, and the test cluster's kubelet refusing pods for disk
 * pressure). After every round of builds, so that a base replaced under its children goes once they are rebuilt.
 */
export async function pruneReplacedImages(): Promise<void> {
  await run('podman', ['image', 'prune', '--force', '--filter', `label=${LABEL.buildHash}`], { env: podmanEnv(), quiet: true });
}

/**
 * Builds the image unless one with the same inputs (Containerfile, context, build args) exists already.
 * Never pulls: every base is local (`scratch` or a `localhost/` image).
 */
export async function ensureImage(spec: ImageSpec): Promise<'built' | 'cached'> {
  const context = mkdtempSync(path.join(tmpdir(), 'visp-image-'));
  try {
    spec.prepareContext(context);
    cpSync(path.join(ROOT, spec.containerfile), path.join(context, 'Containerfile'));
    writeFileSync(path.join(context, '.build-inputs'), JSON.stringify({ args: spec.buildArgs ?? {}, inputs: (await spec.inputs?.()) ?? {}, target: spec.target, format: spec.format }));
    const hash = hashTree(context);
    if ((await labelOf(spec.tag)) === hash) return 'cached';
    await spec.stageForBuild?.(context);
    const args = [
      ...Object.entries(spec.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      ...(spec.target ? ['--target', spec.target] : []),
      ...(spec.format ? ['--format', spec.format] : []),
    ];
    await run('podman', ['build', '--pull=never', '--layers=false', '--label', `${LABEL.buildHash}=${hash}`, '-t', spec.tag, ...args, '-f', 'Containerfile', context], { env: podmanEnv(), quiet: true });
    return 'built';
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/**
 * The offline base every other image builds FROM: Debian from the same mirror the machine uses, made with
 * debootstrap and imported, so no registry is needed. Production builds pass their own BASE instead.
 */
export const BASE_IMAGE = 'localhost/visp-base:bookworm-1';
const BASE_RECIPE = { suite: 'bookworm', variant: 'minbase', mirror: 'http://deb.debian.org/debian', include: 'ca-certificates' };

async function ensureBaseImage(): Promise<'built' | 'cached'> {
  const hash = createHash('sha256').update(JSON.stringify(BASE_RECIPE)).digest('hex').slice(0, 16);
  if ((await labelOf(BASE_IMAGE)) === hash) return 'cached';
  const rootfs = mkdtempSync(path.join(tmpdir(), 'visp-base-'));
  try {
    const { suite, variant, mirror, include } = BASE_RECIPE;
    await run('debootstrap', [`--variant=${variant}`, `--include=${include}`, suite, rootfs, mirror], { quiet: true });
    rmSync(path.join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(path.join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
    const tarball = `${rootfs}.tar`;
    await run('tar', ['-C', rootfs, '-cf', tarball, '.'], { quiet: true });
    await run('podman', ['import', '--change', `LABEL ${LABEL.buildHash}=${hash}`, '--change', 'CMD ["/bin/bash"]', tarball, BASE_IMAGE], { env: podmanEnv(), quiet: true });
    rmSync(tarball, { force: true });
    return 'built';
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}

export const onBase = async () => ({ base: (await labelOf(BASE_IMAGE)) ?? '' });

export const TESTBOX_IMAGE = 'localhost/visp-testbox:1';

/** busybox with its applets linked, a `visp` user (1000) and a world-writable /tmp. */
function prepareTestbox(dir: string): void {
  const rootfs = path.join(dir, 'rootfs');
  for (const sub of ['bin', 'etc', 'tmp', 'home/visp', 'var/www']) mkdirSync(path.join(rootfs, sub), { recursive: true });
  cpSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' });
  for (const applet of applets.split('\n').filter((a) => a && a !== 'busybox')) symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nvisp:x:1000:1000:visp:/home/visp:/bin/sh\n');
  writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nvisp:x:1000:\n');
  writeFileSync(path.join(rootfs, 'var/www/index.html'), 'testbox\n');
  chmodSync(path.join(rootfs, 'tmp'), 0o1777);
}

export const JUPYTER_IMAGE = 'localhost/visp-session-jupyter:1';
export const RSTUDIO_STANDIN_IMAGE = 'localhost/visp-session-rstudio-standin:1';
export const VSCODE_IMAGE = 'localhost/visp-session-vscode:1';
/** The Shibboleth SP in front of the gateway's sign-in (quadlets/visp-sp.container); the SSO tests run it. */
export const SP_IMAGE = 'localhost/visp-sp:1';

const copyDir = (from: string) => (dir: string) => cpSync(path.join(ROOT, from), path.join(dir, path.basename(from)), { recursive: true });

/** The Jupyter session: its Python's locked packages (their wheels fetched when it is built), and JupyterLab's settings. */
const JUPYTER_DIR = 'containerfiles/session-jupyter';
const JUPYTER_SPEC: ImageSpec = {
  tag: JUPYTER_IMAGE,
  containerfile: `${JUPYTER_DIR}/Containerfile`,
  // The lock is in the context, so a new lock rebuilds the image.
  prepareContext: (dir) => cpSync(path.join(ROOT, JUPYTER_DIR), path.join(dir, 'jupyter'), { recursive: true }),
  stageForBuild: async (dir) => cpSync(await pythonWheels(path.join(ROOT, JUPYTER_DIR, 'requirements.txt')), path.join(dir, 'jupyter/wheels'), { recursive: true }),
  buildArgs: { BASE: BASE_IMAGE },
  inputs: onBase,
};

/** Debian's bundle of trusted certificates (package ca-certificates), with whatever this host added to it. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** VS Code in the browser: code-server, and the Node it requires (its install refuses any other major). */
const CODE_SERVER = { version: '4.139.1', node: '24.22.3', npm: '11.19.1' };
const VSCODE_SPEC: ImageSpec = {
  tag: VSCODE_IMAGE,
  containerfile: 'containerfiles/session-vscode/Containerfile',
  prepareContext: copyDir('containerfiles/session-vscode/visp-defaults'),
  // Node 24 with its headers and npm, for the build stage that installs and compiles code-server (see its
  // Containerfile), and the certificates this host's npm trusts (a network that inspects TLS has its own CA there).
  stageForBuild: async (dir) => {
    cpSync(await nodeDistribution(CODE_SERVER.node), path.join(dir, 'node'), { recursive: true });
    cpSync(await npmTarball(CODE_SERVER.npm), path.join(dir, 'npm.tgz'));
    cpSync(HOST_CA_BUNDLE, path.join(dir, 'host-ca.crt'));
  },
  buildArgs: { BASE: BASE_IMAGE, CODE_SERVER_VERSION: CODE_SERVER.version },
  inputs: async () => ({ ...(await onBase()), node: CODE_SERVER.node, npm: CODE_SERVER.npm }),
};

export const IMAGES: ImageSpec[] = [
  { tag: TESTBOX_IMAGE, containerfile: 'containerfiles/testbox/Containerfile', prepareContext: prepareTestbox },
  JUPYTER_SPEC,
  VSCODE_SPEC,
  {
    tag: RSTUDIO_STANDIN_IMAGE,
    containerfile: 'containerfiles/session-rstudio-standin/Containerfile',
    prepareContext: copyDir('containerfiles/session-rstudio-standin/app'),
    buildArgs: { BASE: BASE_IMAGE },
    inputs: onBase,
  },
  {
    tag: SP_IMAGE,
    containerfile: 'containerfiles/sp/Containerfile',
    prepareContext: (dir) => {
      for (const file of ['apache-sp.conf', 'console.logger', 'entrypoint.sh']) cpSync(path.join(ROOT, 'containerfiles/sp', file), path.join(dir, file));
    },
    buildArgs: { BASE: BASE_IMAGE },
    inputs: onBase,
  },
];

export async function ensureImages(log: (line: string) => void): Promise<void> {
  const started = Date.now();
  log(`image ${BASE_IMAGE}: ${await ensureBaseImage()} (${Date.now() - started} ms)`);
  for (const image of IMAGES) {
    const started = Date.now();
    const result = await ensureImage(image);
    log(`image ${image.tag}: ${result} (${Date.now() - started} ms)`);
  }
  await pruneReplacedImages();
}
