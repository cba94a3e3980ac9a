// The worker in-process with the real engine, Redis and database: /readyz tells a broken engine from a working
// one, and an attempt that outlives TRANSCRIPTION_TIMEOUT is killed and ends as a timeout.
import { mkdtempSync, rmSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { closeRedis, createRedis, QUEUES, TypedQueue, type Redis } from '@visp/bus';
import { openStore, type Store } from '@visp/store';
import { librivoxClips, memoryLogger, testMongoUri, testRedisUrl, testWhisper, waitFor } from '@visp/testing';
import { probeAudio, TranscriptionFiles } from '@visp/transcription';
import { buildWhisperWorker, type WhisperWorkerSettings } from './app';

describe('the whisper-worker', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'visp-worker-'));
  let store: Store;
  let redis: Redis;

  const settings = (overrides: Partial<WhisperWorkerSettings> = {}): WhisperWorkerSettings => ({
    component: 'whisper-worker',
    HOST: '127.0.0.1',
    PORT: 0,
    SHUTDOWN_TIMEOUT_MS: 5000,
    TRANSCRIPTION_DATA_DIR: dataDir,
    TRANSCRIPTION_TIMEOUT: 3600,
    TRANSCRIPTION_BACKENDS: ['faster-whisper'],
    WORKER_CONCURRENCY: 1,
    TRANSCRIPTION_LOCK_MS: 30_000,
    OPENAI_BASE_URL: 'http://127.0.0.1:9',
    OPENAI_MODEL: 'whisper-1',
    OPENAI_TIMEOUT: 5,
    ...testWhisper(),
    WHISPER_MODEL: 'tiny.en',
    WHISPER_BEAM_SIZE: 5,
    WHISPER_COMPUTE_TYPE: 'int8',
    WHISPER_THREADS: 0,
    ...overrides,
  });

  beforeAll(async () => {
    store = await openStore(testMongoUri('worker'));
    redis = createRedis(testRedisUrl(), { name: 'worker-test' });
  });

  afterAll(async () => {
    await closeRedis(redis);
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is ready only when its engine passes the self-test', async () => {
    const readiness = async (overrides: Partial<WhisperWorkerSettings>) => {
      const { service, worker } = buildWhisperWorker(settings(overrides), { store, redis, logger: memoryLogger().logger });
      await worker.start();
      const { port } = await service.start();
      try {
        return await waitFor('a settled readiness answer', async () => {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          const body = (await res.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
          // The self-test runs at start; until it has finished the probe times out, which is not yet an answer.
          return !/no answer within/.test(JSON.stringify(body)) && { status: res.status, checks: body.checks };
        }, 30_000);
      } finally {
        await service.close();
      }
    };
    const good = await readiness({});
    expect(good.status).toBe(200);
    const broken = await readiness({ WHISPER_MODEL_DIR: path.join(dataDir, 'no-model-here') });
    expect(broken.status).toBe(503);
    expect(broken.checks['engine:faster-whisper']).toMatchObject({ ok: false });
    expect(broken.checks.worker).toMatchObject({ ok: true });
  }, 60_000);

  it('kills an attempt that outlives TRANSCRIPTION_TIMEOUT and ends the job as a timeout', async () => {
    const { service, worker } = buildWhisperWorker(settings({ TRANSCRIPTION_TIMEOUT: 1 }), { store, redis, logger: memoryLogger().logger });
    await worker.start();
    const queue = new TypedQueue(QUEUES.transcriptions, redis);
    try {
      const files = new TranscriptionFiles(dataDir);
      const id = 'abcdef0123456789abcdef01';
      const long = path.join(dataDir, 'long.wav');
      execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-stream_loop', '7', '-i', librivoxClips()[0]!.wav, '-c', 'copy', long]);
      await files.prepare(id);
      await copyFile(long, files.upload(id));
      const { durationSec, ...audio } = await probeAudio(long);
      await store.transcriptions.create({ id, owner: 'tim', filename: 'long.wav', sizeBytes: 1, durationSec, audio, backend: 'faster-whisper' });
      await queue.add({ transcriptionId: id, owner: 'tim' }, { jobId: id, attempts: 1 });
      const failed = await waitFor('the job to fail', async () => {
        const r = await store.transcriptions.get('tim', id);
        return r?.state === 'failed' && r;
      }, 30_000);
      expect(failed.error).toEqual({ code: 'timeout', message: 'the transcription took longer than 1 s' });
    } finally {
      await queue.close();
      await service.close();
    }
  }, 60_000);

  // An attempt can finish the engine and write the result, then lose the database, Redis or its process before the
  // job is marked done (the chaos test saw one engine run twice). The next attempt keeps that result; here the
  // engine cannot even load its model, so a second run would fail the job.
  it('completes a retried job from the result an earlier attempt wrote, without running the engine again', async () => {
    const log = memoryLogger();
    const { service, worker } = buildWhisperWorker(settings({ WHISPER_MODEL_DIR: path.join(dataDir, 'no-model-here') }), { store, redis, logger: log.logger });
    await worker.start();
    const queue = new TypedQueue(QUEUES.transcriptions, redis);
    try {
      const files = new TranscriptionFiles(dataDir);
      const id = 'abcdef0123456789abcdef02';
      const clip = librivoxClips()[0]!.wav;
      await files.prepare(id);
      await copyFile(clip, files.upload(id));
      const earlier = { text: 'kept from the first attempt', language: 'en', duration: 2, segments: [{ start: 0, end: 2, text: 'kept from the first attempt' }] };
      await files.writeResult(id, JSON.stringify(earlier));
      const { durationSec, ...audio } = await probeAudio(clip);
      await store.transcriptions.create({ id, owner: 'tim', filename: 'clip.wav', sizeBytes: 1, durationSec, audio, backend: 'faster-whisper' });
      await queue.add({ transcriptionId: id, owner: 'tim' }, { jobId: id, attempts: 1 });
      const done = await waitFor('the job to finish', async () => {
        const r = await store.transcriptions.get('tim', id);
        return (r?.state === 'completed' || r?.state === 'failed') && r;
      }, 30_000);
      expect({ state: done.state, error: done.error }).toEqual({ state: 'completed', error: undefined });
      expect(JSON.parse(await readFile(files.result(id), 'utf8'))).toEqual(earlier);
      expect(log.lines.filter((line) => line.id === id).map((line) => line.msg)).toEqual(['the result of an earlier attempt is kept; the engine does not run again']);
    } finally {
      await queue.close();
      await service.close();
    }
  }, 60_000);
});
