// `visp-dev soak --runs N`: the whole suite N times, each on a clean clone of the committed HEAD, exactly as CI
// runs it (`.ci/run`), one after the other; then how many runs were green, which tests failed how often, and how
// long each run took. A test that fails once in ten runs is a bug: this is how it shows.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, STATE_DIR } from './paths';

/** The parts of Jest's --json output read here. */
interface JestResults {
  testResults: Array<{ name: string; status: string; message: string; assertionResults: Array<{ fullName: string; status: string }> }>;
}

export interface SoakRun {
  run: number;
  seconds: number;
  /** The suite's own last line, `N passed, N failed`; undefined when it never got there. */
  summary?: string;
  green: boolean;
  /** Failed tests as `file › name`; a failed suite without failed tests (it did not load) by its file. */
  failures: string[];
}

/** The failures Jest recorded in a clone's result files (tools/src/test-runner.ts writes them). */
export function failuresIn(results: JestResults[], root: string): string[] {
  const failures: string[] = [];
  for (const { testResults } of results) {
    for (const suite of testResults) {
      const file = path.relative(root, suite.name);
      const failed = suite.assertionResults.filter((a) => a.status === 'failed').map((a) => `${file} › ${a.fullName}`);
      failures.push(...(failed.length > 0 ? failed : suite.status === 'failed' ? [`${file} (did not run: ${suite.message.split('\n').find(Boolean)?.slice(0, 120) ?? 'no message'})`] : []));
    }
  }
  return failures;
}

/** `runs N, green N` and the failures by test, most frequent first, and the runs' durations. */
export function soakReport(runs: SoakRun[]): string {
  const counts = new Map<string, number>();
  for (const run of runs) for (const failure of new Set(run.failures)) counts.set(failure, (counts.get(failure) ?? 0) + 1);
  const minutes = (seconds: number) => `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  const sorted = runs.map((r) => r.seconds).sort((a, b) => a - b);
  const lines = [
    `runs ${runs.length}, green ${runs.filter((r) => r.green).length}`,
    ...(counts.size === 0 ? ['failures by test: none'] : ['failures by test:', ...[...counts].sort((a, b) => b[1] - a[1]).map(([name, n]) => `  ${n}× ${name}`)]),
    `durations: ${runs.map((r) => minutes(r.seconds)).join(', ')}${sorted.length ? ` (median ${minutes(sorted[Math.floor(sorted.length / 2)] ?? 0)}, longest ${minutes(sorted.at(-1) ?? 0)})` : ''}`,
  ];
  return lines.join('\n');
}

/**
 * One clean clone of `commit` through `.ci/run`; its output goes to `log`. A red run's artifacts (containers' logs,
 * the networks' state, screenshots) are kept beside it in `<log without .log>-artifacts/`, as the clone goes.
 */
async function soakOnce(run: number, commit: string, log: string): Promise<SoakRun> {
  const clone = mkdtempSync(path.join(tmpdir(), 'visp-soak-'));
  const started = Date.now();
  try {
    const cloned = spawnSync('git', ['clone', '--quiet', ROOT, clone], { encoding: 'utf8' });
    if (cloned.status !== 0) throw new Error(`git clone failed: ${cloned.stderr.trim()}`);
    // The commit the soak started on, whatever is committed meanwhile: every run tests the same code.
    const checkout = spawnSync('git', ['checkout', '--quiet', commit], { cwd: clone, encoding: 'utf8' });
    if (checkout.status !== 0) throw new Error(`git checkout ${commit} failed: ${checkout.stderr.trim()}`);
    const out = createWriteStream(log);
    let tail = '';
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('bash', ['.ci/run'], { cwd: clone, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
      for (const stream of [child.stdout, child.stderr]) {
        stream.on('data', (chunk: Buffer) => {
          out.write(chunk);
          tail = (tail + chunk.toString()).slice(-4096);
        });
      }
      child.on('error', reject);
      child.on('close', resolve);
    });
    await new Promise((resolve) => out.end(resolve));
    const summary = tail.match(/^(\d+) passed, (\d+) failed.*$/m)?.[0];
    const results = ['test-results.json', 'test-results-solo.json', 'test-results-kube.json']
      .map((file) => path.join(clone, '.visp', file))
      .filter((file) => existsSync(file))
      .map((file) => JSON.parse(readFileSync(file, 'utf8')) as JestResults);
    const failures = failuresIn(results, clone);
    const green = code === 0 && summary !== undefined && / 0 failed/.test(summary);
    if (!green && failures.length === 0) failures.push(summary ? '(the static checks or the setup; see the log)' : '(no summary line: the run did not finish; see the log)');
    const artifacts = path.join(clone, '.visp', 'artifacts');
    if (!green && existsSync(artifacts)) cpSync(artifacts, log.replace(/\.log$/, '-artifacts'), { recursive: true });
    return { run, seconds: (Date.now() - started) / 1000, summary, green, failures };
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
}

export async function soak(options: { runs: number }): Promise<number> {
  const dirty = spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  if (dirty) console.log('[soak] the working tree has uncommitted changes: the runs test the committed HEAD only');
  const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const head = commit.slice(0, 7);
  const logs = path.join(STATE_DIR, 'soak');
  mkdirSync(logs, { recursive: true });
  const runs: SoakRun[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const log = path.join(logs, `${head}-run-${run}.log`);
    const result = await soakOnce(run, commit, log);
    runs.push(result);
    console.log(`[soak] run ${run}/${options.runs} of ${head}: ${result.summary ?? 'no summary'} in ${Math.round(result.seconds)} s${result.green ? '' : ` (log: ${path.relative(ROOT, log)})`}`);
    for (const failure of result.failures) console.log(`[soak]   ${failure}`);
  }
  console.log(`\n${soakReport(runs)}`);
  return runs.every((r) => r.green) ? 0 : 1;
}
