// Faults around transcription, with real processes: a worker killed with -9 or stopped with SIGTERM in the middle
// of a job, and Redis restarted while jobs wait and run. No job may be lost, run to completion twice, or spend an
// attempt on the system's own trouble.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { BULL_PREFIX, QUEUES } from '@visp/bus';
import type { TranscriptionView } from '@visp/contracts';
import { childProcesses, isRunning, librivoxClips, startOwnRedis, waitFor, type OwnRedis } from '@visp/testing';
import { useGatewayStack, type Auth } from './gateway-stack';
import type { Launched } from './launch';

let redis: OwnRedis | undefined;
beforeAll(async () => {
  redis = await startOwnRedis();
}, 30_000);

const GW_PORT = 18680;
const stack = useGatewayStack({ sessionManager: 18620, gateway: GW_PORT }, 'transcribefaults', {}, { redisUrl: () => redis!.url });
const clips = librivoxClips();
const scratch = mkdtempSync(path.join(tmpdir(), 'visp-e2e-faults-'));
/**
 * 57 s of speech, two of Whisper's 30 s windows: a warm engine (model loaded) takes some 6 s, and its first
 * progress comes after the first window, with the second still to come: a fault then lands in the middle.
 */
const LONG_WAV = path.join(scratch, 'long.wav');
const ARTIFACTS = path.resolve(__dirname, '../../.visp/artifacts/transcription-faults');
/** A job whose worker vanished is taken again after this long. */
const LOCK_MS = '3000';

afterAll(async () => {
  await redis?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function upload(auth: Auth, file: string): Promise<TranscriptionView> {
  const form = new FormData();
  form.set('file', new Blob([readFileSync(file)]), path.basename(file));
  const res = await fetch(`http://127.0.0.1:${GW_PORT}/api/v1/transcriptions`, { method: 'POST', headers: { ...stack.origin, ...auth }, body: form });
  expect(res.status).toBe(202);
  return (await res.json()) as TranscriptionView;
}

const view = async (auth: Auth, id: string) => (await (await stack.api(`/api/v1/transcriptions/${id}`, auth)).json()) as TranscriptionView;
/** The job is on an engine, in its middle: running, with the progress of Whisper's first window. */
const midway = (auth: Auth, id: string) =>
  waitFor(`transcription ${id} to be under way`, async () => {
    const v = await view(auth, id);
    return v.state === 'running' && v.progress > 0 && v;
  }, 60_000);
const state = (auth: Auth, id: string, wanted: TranscriptionView['state'], timeoutMs = 60_000) =>
  waitFor(`transcription ${id} to be ${wanted}`, async () => {
    const v = await view(auth, id);
    return v.state === wanted && v;
  }, timeoutMs);

/** Workers of the current test; whatever a failed test leaves running is stopped before the next begins. */
const workers: Launched[] = [];
const startWorker = async (port: number, env: Record<string, string> = {}): Promise<Launched> => {
  const worker = await stack.startWorker(port, env);
  workers.push(worker);
  return worker;
};
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => stopped(w, 'SIGTERM')));
});

async function stopped(worker: Launched, signal: NodeJS.Signals): Promise<number | null> {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill(signal);
  return worker.exited;
}

describe('transcription faults', () => {
  let dora: Auth;

  beforeAll(async () => {
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-stream_loop', '7', '-i', clips[0]!.wav, '-c', 'copy', LONG_WAV]);
    dora = await stack.signIn('dora');
  }, 30_000);

  it('a worker killed with -9 in the middle of a job: the job runs again on another worker and completes', async () => {
    const first = await startWorker(18641, { TRANSCRIPTION_LOCK_MS: LOCK_MS });
    const job = await upload(dora, LONG_WAV);
    await midway(dora, job.id);
    const engine = await waitFor('the engine to run', () => childProcesses(first.child.pid ?? 0).find((p) => p.cmdline.includes('warm_whisper.py')), 30_000);
    expect(await stopped(first, 'SIGKILL')).toBeNull();
    // The engine, in a process group of its own, goes with its worker.
    await waitFor(`engine ${engine.pid} gone`, () => !isRunning(engine.pid), 1000);

    await startWorker(18642, { TRANSCRIPTION_LOCK_MS: LOCK_MS });
    const done = await state(dora, job.id, 'completed', 90_000);
    expect(done).toMatchObject({ progress: 1 });
    expect(done.error).toBeUndefined();
    expect((await stack.api(`/api/v1/transcriptions/${job.id}/result?format=txt`, dora)).status).toBe(200);
  }, 150_000);

  it('a worker stopped with SIGTERM in the middle of a job puts it back without spending an attempt', async () => {
    const first = await startWorker(18643);
    const job = await upload(dora, LONG_WAV);
    await midway(dora, job.id);
    expect(await stopped(first, 'SIGTERM')).toBe(0);
    expect(await view(dora, job.id)).toMatchObject({ state: 'queued', attempts: 1, error: { code: 'requeued' } });

    await startWorker(18644);
    expect(await state(dora, job.id, 'completed', 90_000)).toMatchObject({ attempts: 1 });
  }, 150_000);

  it('Redis restarted while jobs wait and run: every job completes exactly once', async () => {
    // Its log at info, kept with the queue's view of each job when the test fails (once in 17 clean-clone runs on
    // 2026-12-06 the first job, the one running through the restart, was not among the completed; cause not known).
    const worker = await startWorker(18645, { LOG_LEVEL: 'info' });
    const jobs = [await upload(dora, LONG_WAV)];
    for (const clip of clips.slice(0, 3)) jobs.push(await upload(dora, clip.wav));
    await midway(dora, jobs[0]!.id);
    await redis!.restart({ downMs: 1000 });

    for (const job of jobs) expect(await state(dora, job.id, 'completed', 120_000)).toMatchObject({ attempts: 1 });
    const queue = new Queue(QUEUES.transcriptions, { connection: { url: redis!.url }, prefix: BULL_PREFIX });
    try {
      const completed = await queue.getJobs(['completed']);
      const mine = completed.filter((j) => jobs.some((job) => job.id === j.id));
      expect(mine.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id).sort());
      expect(mine.map((j) => j.attemptsMade)).toEqual(jobs.map(() => 1));
      expect(await queue.getJobCounts('failed', 'wait', 'active', 'delayed')).toEqual({ failed: 0, wait: 0, active: 0, delayed: 0 });
    } catch (err) {
      const seen = await Promise.all(
        jobs.map(async ({ id }) => {
          const job = await queue.getJob(id);
          return job ? { id, state: await job.getState(), attemptsMade: job.attemptsMade, attemptsStarted: job.attemptsStarted, stalledCounter: job.stalledCounter, processedOn: job.processedOn, finishedOn: job.finishedOn, failedReason: job.failedReason } : { id, state: 'gone' };
        }),
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(path.join(ARTIFACTS, 'redis-restart.log'), `${JSON.stringify(seen, null, 2)}\n--- worker\n${worker.output()}`);
      throw err;
    } finally {
      await queue.close();
    }
  }, 240_000);
});
