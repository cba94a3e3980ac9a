import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import type { EventBus, PayloadOf } from '@visp/bus';
import { createLogger } from '@visp/config';
import type { Transcript, TranscriptionId } from '@visp/contracts';
import type { TranscriptionRecord, TranscriptionRepository } from '@visp/store';
import { TranscriptionFiles } from '@visp/transcription';
import type { Engine } from './engines/engine';
import { TranscriptionProcessor } from './processor';

const ID = 'a1b2c3d4e5f6a1b2c3d4e5f6' as TranscriptionId;
const RECORD: TranscriptionRecord = {
  id: ID,
  owner: 'ada@uni.se',
  filename: 'clip.wav',
  sizeBytes: 1000,
  durationSec: 2,
  audio: { codec: 'pcm_s16le', sampleRate: 16_000, channels: 1 },
  backend: 'faster-whisper',
  state: 'running',
  progress: 0,
  attempts: 1,
  createdAt: new Date(),
  updatedAt: new Date(),
};
const TRANSCRIPT: Transcript = { text: 'hello', language: 'en', duration: 2, segments: [{ start: 0, end: 2, text: 'hello' }] };

let root: string;
beforeEach(() => (root = mkdtempSync(path.join(tmpdir(), 'visp-processor-'))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

it("finishes a job's progress writes before its final write", async () => {
  // What the database saw, in the order the writes finished. A progress write is slow, as one buffered through a
  // database outage is: landing after `complete()`, it would put the record back to running on FerretDB.
  const writes: string[] = [];
  const transcriptions = {
    start: async () => (writes.push('start'), RECORD),
    progress: async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      writes.push('progress');
    },
    complete: async () => (writes.push('complete'), { ...RECORD, state: 'completed' }),
  } as unknown as TranscriptionRepository;
  const engine: Engine = {
    name: 'faster-whisper',
    transcribe: async (_request, { onProgress }) => (onProgress?.(0.5), TRANSCRIPT),
    selfTest: async () => undefined,
    close: () => undefined,
  };
  const events = { announce: async () => undefined } as unknown as EventBus;
  const processor = new TranscriptionProcessor({ transcriptions, files: new TranscriptionFiles(root), engines: new Map([[engine.name, engine]]), events, logger: createLogger({ component: 'test', level: 'silent' }), timeoutSec: 60 });
  const job = { data: { transcriptionId: ID }, attemptsMade: 0, opts: { attempts: 3 }, updateProgress: async () => undefined } as unknown as Job<PayloadOf<'transcriptions'>>;

  await expect(processor.process(job, 'token', new AbortController().signal)).resolves.toEqual({ segments: 1 });
  expect(writes).toEqual(['start', 'progress', 'complete']);
});

// A worker killed (or cut from Redis) after storing the result and before BullMQ marked the job: the job comes back
// (stalled), and failing it left the record completed and BullMQ's account failed (the chaos test's jobsLost: 1).
it('marks a job done, without running the engine, when an earlier attempt already completed its transcription', async () => {
  const files = new TranscriptionFiles(root);
  mkdirSync(files.dir(ID), { recursive: true });
  await files.writeResult(ID, JSON.stringify(TRANSCRIPT));
  const transcriptions = { start: async () => undefined, getAnyOwner: async () => ({ ...RECORD, state: 'completed' }) } as unknown as TranscriptionRepository;
  const engine: Engine = { name: 'faster-whisper', transcribe: () => Promise.reject(new Error('the engine ran again')), selfTest: async () => undefined, close: () => undefined };
  const events = { announce: async () => undefined } as unknown as EventBus;
  const processor = new TranscriptionProcessor({ transcriptions, files, engines: new Map([[engine.name, engine]]), events, logger: createLogger({ component: 'test', level: 'silent' }), timeoutSec: 60 });
  const job = { data: { transcriptionId: ID }, attemptsMade: 0, opts: { attempts: 3 }, updateProgress: async () => undefined } as unknown as Job<PayloadOf<'transcriptions'>>;
  await expect(processor.process(job, 'token', new AbortController().signal)).resolves.toEqual({ segments: 1 });
});

it('still refuses a job whose transcription was cancelled', async () => {
  const transcriptions = { start: async () => undefined, getAnyOwner: async () => ({ ...RECORD, state: 'cancelled' }) } as unknown as TranscriptionRepository;
  const events = { announce: async () => undefined } as unknown as EventBus;
  const processor = new TranscriptionProcessor({ transcriptions, files: new TranscriptionFiles(root), engines: new Map(), events, logger: createLogger({ component: 'test', level: 'silent' }), timeoutSec: 60 });
  const job = { data: { transcriptionId: ID }, attemptsMade: 0, opts: { attempts: 3 }, updateProgress: async () => undefined } as unknown as Job<PayloadOf<'transcriptions'>>;
  await expect(processor.process(job, 'token', new AbortController().signal)).rejects.toThrow('the transcription was cancelled or has finished');
});
