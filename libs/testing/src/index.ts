// Helpers for tests only. Integration tests get their servers from the test runner (tools/src/test-runner.ts),
// which starts real Redis, a real MongoDB-compatible server and a real Podman service and passes them here.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@visp/config';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: integration tests need the real servers; run them with \`npm test\` or \`nx test-int <project>\``);
  return value;
}

export const randomSuffix = (bytes = 4) => randomBytes(bytes).toString('hex');

/**
 * A Redis URL on a database of its own per Jest worker, so parallel test files do not see each other's keys; or
 * on `database` (3–31; tools/src/infra.ts starts Redis with 32), for a suite whose state (rate limits, queues) must not meet another's in the same worker.
 */
export function testRedisUrl(database?: number): string {
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  return `${required('VISP_TEST_REDIS_URL')}/${database ?? worker % 3}`;
}

/** A fresh database on the MongoDB-compatible server. */
export function testMongoUri(name: string): string {
  const url = new URL(required('VISP_TEST_MONGO_URI'));
  url.pathname = `/t_${name.replace(/[^a-z0-9]/gi, '').slice(0, 20)}_${randomSuffix()}`;
  return url.toString();
}

export const testPodmanHost = () => required('VISP_TEST_PODMAN_SOCKET');

/** The session guard's binary (tools/session-guard), for a local-mode session-manager and its socket proxy. */
export const testSessionGuard = () => required('VISP_TEST_SESSION_GUARD');

/** The running spec's file name, short and fit for an instance id (`chaos` for e2e/src/chaos.int.spec.ts). */
function specName(): string | undefined {
  const testPath = (globalThis as { expect?: { getState(): { testPath?: string } } }).expect?.getState().testPath;
  if (!testPath) return undefined;
  return path.basename(testPath).replace(/(\.int)?\.spec\.ts$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 24);
}

/**
 * An instance id the runner recognises, so anything a failed test leaves behind is removed; it names the spec, so
 * the runner can say whose it was.
 */
export const testInstanceId = () => [process.env.VISP_TEST_INSTANCE_PREFIX ?? 'test-local', specName(), randomSuffix(3)].filter(Boolean).join('-');

/** A logger that keeps its lines for assertions instead of printing them. */
export function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ component: 'test', level: 'debug', destination }), lines };
}

export { waitFor } from './wait';
export { execute, openKernel, sendExecuteRequest, startKernel } from './jupyter';
export { readSse } from './sse';
export { LIBRIVOX, librivoxClips, normalizeForWer, testWhisper, wordErrorRate, type Clip } from './whisper';
export { startOwnRedis, type OwnRedis } from './redis-server';
export { databaseAnswers, startOwnDatabase, type OwnDatabase } from './database-server';
export { childProcesses, isRunning } from './processes';
