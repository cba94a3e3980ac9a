import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureImages } from './images';
import { ensureServiceImages, ensureStandInImages } from './service-images';
import { startInfra } from './infra';
import { ROOT, STATE_DIR, whisperEnv } from './paths';
import { removeLeftovers } from './leftovers';
import { run } from './processes';

export interface TestOptions {
  /** A Jest project (`bus`, `bus:int`, …); all when absent. */
  only?: string;
  /** Lint and typecheck first. */
  staticChecks: boolean;
  /** Passed on to Jest as they are. */
  jestArgs?: string[];
}

interface JestSummary {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numRuntimeErrorTestSuites: number;
}

const log = (line: string) => console.log(`[test] ${line}`);

export async function runTests(options: TestOptions): Promise<number> {
  // A failed lint or typecheck counts as a failed test in the closing line, which is what CI reads.
  let staticFailures = 0;
  let jestFailed = false;
  if (options.staticChecks) {
    // One ESLint and one tsc over the whole workspace: the same rules as each project's `nx lint`/`nx typecheck`,
    // in a sixth of the time (every Nx task would start its own ESLint and build the project graph again).
    for (const [name, command, args] of [
      // enforce-module-boundaries reads Nx's cached project graph and silently skips itself without one.
      ['project graph', 'node_modules/.bin/nx', ['show', 'projects']],
      ['lint', 'node_modules/.bin/eslint', ['.']],
      ['typecheck', 'node_modules/.bin/tsc', ['-p', 'tsconfig.json']],
      ['typecheck (web page)', 'node_modules/.bin/tsc', ['-p', 'apps/gateway/web/tsconfig.json']],
    ] as const) {
      log(name);
      await run(command, [...args], { cwd: ROOT }).catch(() => {
        log(`${name} failed`);
        staticFailures++;
      });
    }
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
    // The services' images, which the e2e tests run; built from the bundles, cached by their inputs.
    await ensureServiceImages(log);
    await ensureStandInImages(log);
    log(`database: ${infra.mongoKind}; running Jest`);
    const jestArgs = ['node_modules/jest/bin/jest.js', '--ci', '--json', `--outputFile=${resultsFile}`, '--maxWorkers=2'];
    // Before --selectProjects, which would take a test path pattern for one more project name.
    jestArgs.push(...(options.jestArgs ?? []));
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
        ...whisperEnv(),
      },
    }).catch(() => (jestFailed = true));
  } finally {
    const leftovers = await removeLeftovers(instancePrefix).catch((err: Error) => (log(`cleanup failed: ${err.message}`), 0));
    if (leftovers > 0) log(`warning: tests left ${leftovers} container(s), volume(s) or network(s) behind; removed`);
    await infra.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }

  if (!existsSync(resultsFile)) {
    console.log(`\n0 passed, ${staticFailures + 1} failed`);
    return 1;
  }
  const summary = JSON.parse(readFileSync(resultsFile, 'utf8')) as JestSummary;
  const failed = summary.numFailedTests + summary.numRuntimeErrorTestSuites + staticFailures;
  const skipped = summary.numPendingTests + summary.numTodoTests;
  console.log(`\n${summary.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed > 0 || jestFailed ? 1 : 0;
}
