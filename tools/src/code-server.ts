// code-server (VS Code in the browser, from npm) for the `vscode` session image. It wants Node 24, and its install
// builds native modules (node-pty, spdlog, sqlite3, kerberos, …): both happen here, once per version, with Node 24
// first on PATH and its own headers for node-gyp (npm_config_nodedir), so nothing is downloaded but npm packages.
// The host is the image's Debian, so what is built here runs there.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nodeDistribution } from './node-dist';
import { STATE_DIR } from './paths';
import { run } from './processes';

export const CODE_SERVER_VERSION = '4.139.1';
/** The Node code-server 4.139 requires (its install refuses any other major). */
const NODE_VERSION = '24.22.3';

/** What a build is named by, in the cache and in the image's inputs: a new version of either builds anew. */
export const CODE_SERVER_BUILD = `code-server-${CODE_SERVER_VERSION}-node-${NODE_VERSION}`;

export interface CodeServerBuild {
  /** Node 24's `bin/node`. */
  node: string;
  /** A node_modules holding code-server and its dependencies, built. */
  modules: string;
}

/** `.visp/cache/code-server-<version>-node-<version>/node_modules`, installed and built once. */
export async function codeServerBuild(): Promise<CodeServerBuild> {
  const node = await nodeDistribution(NODE_VERSION);
  const dir = path.join(STATE_DIR, 'cache', CODE_SERVER_BUILD);
  const modules = path.join(dir, 'node_modules');
  const built = { node: path.join(node, 'bin/node'), modules };
  if (existsSync(path.join(modules, 'code-server/out/node/entry.js'))) return built;
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(path.join(staging, 'package.json'), JSON.stringify({ name: 'visp-code-server', private: true }));
  const env = { ...process.env, PATH: `${path.join(node, 'bin')}:${process.env.PATH ?? ''}`, npm_config_nodedir: node };
  await run('npm', ['install', `code-server@${CODE_SERVER_VERSION}`, '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: staging, env, quiet: true });
  renameSync(staging, dir);
  return built;
}
