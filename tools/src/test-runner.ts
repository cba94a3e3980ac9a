import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureImages } from './images';
import { ensureServiceImages, ensureStandInImages } from './service-images';
import { startInfra } from './infra';
import { FERRETDB_BIN, ROOT, STATE_DIR, whisperEnv } from './paths';
import { describeLeftovers, isSpecLeak, killLeftoverProcesses, removeLeftovers, RUN_MARK } from './leftovers';
import { run } from './processes';
import { holdRunLock } from './run-lock';
import { startKube, type Kube } from './kube';

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

/**
 * Specs that run alone, one after the other, after the rest: the container stack recreates the production networks
 * and starts and kills a dozen containers, and beside the other Podman specs it made both fail now and then (a
 * just-ready session's connect timing out, recovery planning from a list of containers the stack was churning);
 * the chaos test kills every service in turn under a burst of 20 launches. Path patterns of e2e:int specs;
 * jest.config.js leaves them out of the first phase (VISP_JEST_WITHOUT).
 */
const SOLO_SPECS = ['e2e/src/stack\\.int\\.spec\\.ts$', 'e2e/src/chaos\\.int\\.spec\\.ts$'];
/** Specs against a real Kubernetes (tools/kube), run last, once the cluster is up: it is started only for them. */
const KUBE_SPECS = '\\.kube\\.int\\.spec\\.ts$';

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
  const soloResultsFile = path.join(STATE_DIR, 'test-results-solo.json');
  const kubeResultsFile = path.join(STATE_DIR, 'test-results-kube.json');
  mkdirSync(stateDir, { recursive: true });
  for (const file of [resultsFile, soloResultsFile, kubeResultsFile]) rmSync(file, { force: true });
  let kube: Kube | undefined;

  await holdRunLock(log);
  // Holding the lock, whatever earlier runs made is theirs and they are gone (killed before their clean-up): it
  // would take the specs' ports and show in recovery's plans.
  // Their processes first (Jest outlives a runner killed with -9, and the services it launched hold their ports),
  // then their containers, volumes and networks.
  process.env[RUN_MARK] = runId;
  const strays = await killLeftoverProcesses(runId);
  if (strays.length) log(`killed the processes of earlier runs that did not finish: ${strays.join('; ')}`);
  const stale = await removeLeftovers('test-');
  if (stale.length) log(`removed what earlier runs that did not finish left: ${describeLeftovers(stale)}`);
  log('starting Podman service, Redis and the MongoDB-compatible server');
  const infra = await startInfra({ stateDir, persistent: false, mongoUri: process.env.MONGO_URI });
  const instancePrefix = `test-${runId}`;
  // Each spec removes what it made; what one leaves (a container or a network) is removed here and counts as a failure.
  let leakFailures = 0;
  const cleanUp = async () => {
    const leftovers = await removeLeftovers(instancePrefix).catch((err: Error) => (log(`cleanup failed: ${err.message}`), []));
    const leaks = leftovers.filter(isSpecLeak);
    if (leaks.length) {
      log(`failed: the specs left ${describeLeftovers(leaks)} behind; removed`);
      leakFailures++;
    }
  };
  try {
    await ensureImages(log);
    // The services' images, which the e2e tests run; built from the bundles, cached by their inputs.
    await ensureServiceImages(log);
    await ensureStandInImages(log);
    log(`database: ${infra.mongoKind}; running Jest`);
    const env = {
      ...process.env,
      ...infra.env,
      VISP_TEST_REDIS_URL: infra.env.REDIS_URL,
      VISP_TEST_MONGO_URI: infra.env.MONGO_URI,
      VISP_TEST_PODMAN_SOCKET: infra.env.CONTAINER_HOST,
      VISP_TEST_SESSION_GUARD: infra.env.SESSION_GUARD_BINARY,
      VISP_TEST_INSTANCE_PREFIX: instancePrefix,
      // For the fault tests that restart a database server of their own: the same kind as the run's.
      ...(infra.mongoKind === 'MONGO_URI' ? {} : { VISP_TEST_DATABASE_SERVER: infra.mongoKind === 'mongod' ? 'mongod' : FERRETDB_BIN }),
      ...whisperEnv(),
    };
    const jest = (outputFile: string, args: string[], { workers = 2, extraEnv = {} }: { workers?: number; extraEnv?: Record<string, string> } = {}) =>
      run('node', ['node_modules/jest/bin/jest.js', '--ci', '--json', `--outputFile=${outputFile}`, `--maxWorkers=${workers}`, ...args], { cwd: ROOT, env: { ...env, ...extraEnv } }).catch(() => (jestFailed = true));
    if (options.only || options.jestArgs?.length) {
      // A Kubernetes spec named on the command line gets its cluster.
      if (options.jestArgs?.some((arg) => new RegExp(KUBE_SPECS).test(arg))) kube = await startKube(log);
      // Before --selectProjects, which would take a test path pattern for one more project name.
      // Without a cluster, the Kubernetes specs are left out (`--only sessions:int` would pick them up). With one,
      // one spec at a time as in the whole suite: they share the cluster's node and its eight home volumes.
      await jest(resultsFile, [...(options.jestArgs ?? []), ...(options.only ? ['--selectProjects', options.only] : [])], kube ? { workers: 1, extraEnv: { VISP_TEST_KUBECONFIG: kube.kubeconfig } } : { extraEnv: { VISP_JEST_WITHOUT: KUBE_SPECS } });
    } else {
      // The whole suite in three phases: the specs that must run alone (SOLO_SPECS) after the rest, then the
      // Kubernetes runtime's, with the cluster up only for them.
      await jest(resultsFile, [], { extraEnv: { VISP_JEST_WITHOUT: [...SOLO_SPECS, KUBE_SPECS].join(',') } });
      // The specs that run alone start on a host with nothing of the others' left (the chaos test's recovery
      // reports every container it does not own).
      await cleanUp();
      log('the specs that run alone');
      await jest(soloResultsFile, ['--selectProjects', 'e2e:int', '--', ...SOLO_SPECS], { workers: 1 });
      await cleanUp();
      log('the Kubernetes runtime\'s specs, against a real cluster');
      // A cluster that does not come up writes no results, which counts as a failure in the closing line.
      kube = await startKube(log).catch((err: Error) => void log(`Kubernetes did not come up: ${err.message}`));
      if (kube) await jest(kubeResultsFile, ['--', KUBE_SPECS], { workers: 1, extraEnv: { VISP_TEST_KUBECONFIG: kube.kubeconfig } });
    }
  } finally {
    await kube?.stop().catch((err: Error) => log(`stopping Kubernetes failed: ${err.message}`));
    await cleanUp();
    await infra.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }

  // A phase that wrote no results (Jest killed, or crashed before the end) counts as one failure: its tests may
  // have failed, and a line that leaves them out would read green.
  const phases = options.only || options.jestArgs?.length ? [resultsFile] : [resultsFile, soloResultsFile, kubeResultsFile];
  const unreported = phases.filter((file) => !existsSync(file)).length;
  const summaries = phases.filter((file) => existsSync(file)).map((file) => JSON.parse(readFileSync(file, 'utf8')) as JestSummary);
  const summary = summaries.reduce((sum, one) => ({
    numPassedTests: sum.numPassedTests + one.numPassedTests,
    numFailedTests: sum.numFailedTests + one.numFailedTests,
    numPendingTests: sum.numPendingTests + one.numPendingTests,
    numTodoTests: sum.numTodoTests + one.numTodoTests,
    numRuntimeErrorTestSuites: sum.numRuntimeErrorTestSuites + one.numRuntimeErrorTestSuites,
  }), { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, numRuntimeErrorTestSuites: 0 });
  const failed = summary.numFailedTests + summary.numRuntimeErrorTestSuites + staticFailures + unreported + leakFailures;
  const skipped = summary.numPendingTests + summary.numTodoTests;
  console.log(`\n${summary.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed > 0 || jestFailed ? 1 : 0;
}
