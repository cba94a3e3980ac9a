import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureImages } from './images';
import { podmanEnv, startInfra } from './infra';
import { ROOT, STATE_DIR } from './paths';
import { run } from './processes';

export interface TestOptions {
  /** A Jest project (`bus`, `bus:int`, …); all when absent. */
  only?: string;
  /** Lint and typecheck first. @defaultValue true unless `only` is given */
  staticChecks: boolean;
}

interface JestSummary {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numRuntimeErrorTestSuites: number;
}

const log = (line: string) => console.log(`[test] ${line}`);

/** Removes what tests of this run left behind (a test that leaks is a bug, so it is reported). */
async function removeLeftovers(instancePrefix: string): Promise<number> {
  const env = podmanEnv();
  const list = async (kind: 'ps' | 'volume' | 'network') => {
    const args = kind === 'ps' ? ['ps', '-a', '--format', 'json', '--filter', 'label=visp.managed=true'] : [kind, 'ls', '--format', 'json', '--filter', 'label=visp.managed=true'];
    const items = JSON.parse((await run('podman', args, { env, quiet: true })) || '[]') as Array<{ Id?: string; Name?: string; Names?: string[]; Labels?: Record<string, string> | null }>;
    return items.filter((i) => i.Labels?.['visp.instance']?.startsWith(instancePrefix));
  };
  const containers = await list('ps');
  if (containers.length) await run('podman', ['rm', '-f', '-t', '0', ...containers.map((c) => c.Id!)], { env, quiet: true });
  const volumes = await list('volume');
  if (volumes.length) await run('podman', ['volume', 'rm', '-f', ...volumes.map((v) => v.Name!)], { env, quiet: true });
  const networks = await list('network');
  if (networks.length) await run('podman', ['network', 'rm', '-f', ...networks.map((n) => n.Name!)], { env, quiet: true });
  return containers.length + volumes.length + networks.length;
}

export async function runTests(options: TestOptions): Promise<number> {
  let exitCode = 0;
  if (options.staticChecks) {
    log('lint and typecheck');
    await run('npx', ['nx', 'run-many', '-t', 'lint', 'typecheck', '--parallel=2', '--outputStyle=static'], { cwd: ROOT }).catch((err: Error) => {
      log(`static checks failed: ${err.message.split('\n')[0]}`);
      exitCode = 1;
    });
  }

  const runId = randomBytes(4).toString('hex');
  const stateDir = path.join(STATE_DIR, `test-${runId}`);
  const resultsFile = path.join(STATE_DIR, 'test-results.json');
  mkdirSync(stateDir, { recursive: true });
  rmSync(resultsFile, { force: true });

  log('starting Podman service, Redis and the MongoDB-compatible server');
  const infra = await startInfra({ stateDir, persistent: false, mongoUri: process.env.MONGO_URI });
  const instancePrefix = `test-${runId}`;
  try {
    await ensureImages(log);
    log(`database: ${infra.mongoKind}; running Jest`);
    const jestArgs = ['node_modules/jest/bin/jest.js', '--ci', '--json', `--outputFile=${resultsFile}`, '--maxWorkers=2'];
    if (options.only) jestArgs.push('--selectProjects', options.only);
    await run('node', jestArgs, {
      cwd: ROOT,
      env: {
        ...process.env,
        ...infra.env,
        VISP_TEST_REDIS_URL: infra.env.REDIS_URL,
        VISP_TEST_MONGO_URI: infra.env.MONGO_URI,
        VISP_TEST_PODMAN_SOCKET: infra.env.CONTAINER_HOST,
        VISP_TEST_INSTANCE_PREFIX: instancePrefix,
      },
    }).catch(() => (exitCode = 1));
  } finally {
    const leftovers = await removeLeftovers(instancePrefix).catch((err: Error) => (log(`cleanup failed: ${err.message}`), 0));
    if (leftovers > 0) log(`warning: tests left ${leftovers} container(s), volume(s) or network(s) behind; removed`);
    await infra.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }

  if (!existsSync(resultsFile)) {
    console.log('\n0 passed, 1 failed');
    return 1;
  }
  const summary = JSON.parse(readFileSync(resultsFile, 'utf8')) as JestSummary;
  const failed = summary.numFailedTests + summary.numRuntimeErrorTestSuites;
  const skipped = summary.numPendingTests + summary.numTodoTests;
  console.log(`\n${summary.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed > 0 ? 1 : exitCode;
}
