// The `openai` backend against a loopback server that speaks OpenAI's /v1/audio/transcriptions (the real offline
// engine behind it), through the real queue, database and worker: a transcript on success, and each way such a
// server refuses or fails turned into a clear job error, retried only when another attempt could help.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { closeRedis, createRedis, QUEUES, TypedQueue, type Redis } from '@visp/bus';
import { openStore, type Store, type TranscriptionRecord } from '@visp/store';
import { librivoxClips, memoryLogger, testMongoUri, testRedisUrl, testWhisper, waitFor } from '@visp/testing';
import { probeAudio, TranscriptionFiles } from '@visp/transcription';
import { buildWhisperWorker, type WhisperWorkerSettings } from './app';
import { FasterWhisperEngine } from './engines/faster-whisper';
import { EngineError } from './engines/engine';
import { OpenAiEngine } from './engines/openai';

const KEY = 'sk-loopback-test-key';

/** The model name decides how the server misbehaves; `whisper-1` transcribes for real. */
function startServer(): Promise<{ url: string; close(): Promise<void>; requests: Array<{ model: string; format: string; granularities: string[] }> }> {
  const engine = new FasterWhisperEngine({ ...testWhisper(), WHISPER_MODEL: 'tiny.en', WHISPER_BEAM_SIZE: 5, WHISPER_COMPUTE_TYPE: 'int8', WHISPER_THREADS: 0 });
  const scratch = mkdtempSync(path.join(tmpdir(), 'visp-openai-'));
  const requests: Array<{ model: string; format: string; granularities: string[] }> = [];
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.headers.authorization !== `Bearer ${KEY}`) return answer(401, { error: { message: 'Incorrect API key provided' } });
    if (req.method === 'GET' && req.url === '/v1/models') return answer(200, { data: [{ id: 'whisper-1' }] });
    if (req.method !== 'POST' || req.url !== '/v1/audio/transcriptions') return answer(404, { error: { message: 'no such endpoint' } });
    const handle = async () => {
      const form = await new Response(Readable.toWeb(req) as WebReadableStream<Uint8Array>, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const model = String(form.get('model'));
      requests.push({ model, format: String(form.get('response_format')), granularities: form.getAll('timestamp_granularities[]').map(String) });
      if (model === 'too-big') return answer(413, { error: { message: 'Maximum content size limit exceeded' } });
      if (model === 'broken') return answer(500, { error: { message: 'internal' } });
      if (model === 'slow') return; // Never answers.
      const file = form.get('file') as File;
      const wav = path.join(scratch, `${requests.length}.wav`);
      writeFileSync(wav, Buffer.from(await file.arrayBuffer()));
      const { durationSec } = await probeAudio(wav);
      const t = await engine.transcribe({ wav, durationSec, workDir: scratch, language: String(form.get('language')) }, { signal: AbortSignal.timeout(60_000) });
      answer(200, { task: 'transcribe', language: 'english', duration: durationSec, text: t.text, segments: t.segments.map((s, id) => ({ id, ...s })), words: t.words });
    };
    handle().catch((err: unknown) => answer(500, { error: { message: String(err) } }));
  });
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => ({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      engine.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(scratch, { recursive: true, force: true });
    },
  }));
}

describe('the openai backend', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let store: Store;
  let redis: Redis;
  let queue: TypedQueue<'transcriptions'>;
  let files: TranscriptionFiles;
  let close: () => Promise<void>;
  let settings: WhisperWorkerSettings;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'visp-openai-data-'));
  const clip = librivoxClips()[1]!;

  beforeAll(async () => {
    server = await startServer();
    store = await openStore(testMongoUri('openai'));
    redis = createRedis(testRedisUrl(), { name: 'openai-test' });
    queue = new TypedQueue(QUEUES.transcriptions, redis);
    await queue.queue.obliterate({ force: true });
    files = new TranscriptionFiles(dataDir);
    settings = {
      component: 'whisper-worker',
      HOST: '127.0.0.1',
      PORT: 0,
      SHUTDOWN_TIMEOUT_MS: 5000,
      TRANSCRIPTION_DATA_DIR: dataDir,
      TRANSCRIPTION_TIMEOUT: 60,
      TRANSCRIPTION_BACKENDS: ['openai'],
      WORKER_CONCURRENCY: 2,
      TRANSCRIPTION_LOCK_MS: 30_000,
      OPENAI_BASE_URL: server.url,
      OPENAI_API_KEY: KEY,
      OPENAI_MODEL: 'whisper-1',
      // Long enough for the real engine behind the server on a loaded machine; the 'slow' case waits it out twice.
      OPENAI_TIMEOUT: 8,
      ...testWhisper(),
      WHISPER_MODEL: 'tiny.en',
      WHISPER_BEAM_SIZE: 5,
      WHISPER_COMPUTE_TYPE: 'int8',
      WHISPER_THREADS: 0,
    };
    const { service, worker } = buildWhisperWorker(settings, { store, redis, logger: memoryLogger().logger });
    await worker.start();
    const { port } = await service.start();
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(readyz.status).toBe(200);
    close = () => service.close();
  }, 60_000);

  afterAll(async () => {
    await close();
    await queue.close();
    await closeRedis(redis);
    await store.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Queues the clip as the gateway would, with a model name that steers the server. */
  async function submit(model: string): Promise<TranscriptionRecord> {
    const id = `${Date.now().toString(16).padStart(12, '0')}${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`;
    await files.prepare(id);
    await writeFile(files.upload(id), await readFile(clip.wav));
    const { durationSec, ...audio } = await probeAudio(clip.wav);
    const record = await store.transcriptions.create({ id, owner: 'erin', filename: 'clip.wav', sizeBytes: 1, durationSec, audio, language: 'en', backend: 'openai', model });
    await queue.add({ transcriptionId: id, owner: 'erin', language: 'en', backend: 'openai', model }, { jobId: id, attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    return record;
  }

  const settled = (id: string) =>
    waitFor(`job ${id} to finish`, async () => {
      const r = await store.transcriptions.get('erin', id);
      return r && ['completed', 'failed'].includes(r.state) && r;
    }, 60_000);

  it('transcribes through the server with segment and word times', async () => {
    const record = await settled((await submit('whisper-1')).id);
    expect(record).toMatchObject({ state: 'completed', language: 'en', attempts: 1 });
    const transcript = JSON.parse(await readFile(files.result(record.id), 'utf8')) as { text: string; words: unknown[]; segments: unknown[] };
    expect(transcript.text).toMatch(/he was not an/i);
    expect(transcript.words.length).toBeGreaterThan(5);
    expect(server.requests.at(-1)).toEqual({ model: 'whisper-1', format: 'verbose_json', granularities: ['segment', 'word'] });
  }, 60_000);

  it.each([
    ['too-big', 'too-large', /does not take files this large \(413\)/, 1],
    ['broken', 'backend-failed', /failed \(500\)/, 2],
    ['slow', 'timeout', /did not answer within 8 s/, 2],
  ] as const)('a server answering %s ends the job as %s after the right number of attempts', async (model, code, message, attempts) => {
    const record = await settled((await submit(model)).id);
    expect(record).toMatchObject({ state: 'failed', attempts, error: { code, message: expect.stringMatching(message) } });
  }, 60_000);

  it('a refused key is a clear, final error, and the self-test /readyz runs fails', async () => {
    const engine = new OpenAiEngine({ ...settings, OPENAI_API_KEY: 'sk-wrong' });
    const attempt = engine.transcribe({ wav: clip.wav, durationSec: 7, workDir: dataDir }, { signal: AbortSignal.timeout(10_000) });
    await expect(attempt).rejects.toEqual(new EngineError('backend-refused', 'the transcription service refused the API key (401)', false));
    await expect(engine.selfTest(AbortSignal.timeout(5000))).rejects.toThrow(/answered 401/);
    // Nothing listens here: unreachable, worth retrying.
    const nowhere = new OpenAiEngine({ ...settings, OPENAI_BASE_URL: 'http://127.0.0.1:9' });
    await expect(nowhere.transcribe({ wav: clip.wav, durationSec: 7, workDir: dataDir }, { signal: AbortSignal.timeout(10_000) })).rejects.toMatchObject({ code: 'backend-unreachable', retryable: true });
  });
});
