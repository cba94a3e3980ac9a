// A completed bundle job's transcript written beside its bundle once, by one of several gateway processes that all
// hear the completion: two Transcriptions over one Redis claim (a stand-in with SET NX) and one record store, the
// files real. The whole path, with a whisper-worker, is the transcription case of e2e/src/visp.int.spec.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Redis } from '@visp/bus';
import { createLogger } from '@visp/config';
import type { Transcript } from '@visp/contracts';
import type { TranscriptionRecord, TranscriptionRepository } from '@visp/store';
import { renderTranscript, TranscriptionFiles } from '@visp/transcription';
import { Transcriptions, type TranscriptionSettings } from './transcriptions';

// The queue is BullMQ's; only its order of waiting and running jobs is read here, and none are.
jest.mock('@visp/bus', () => ({
  ...jest.requireActual<object>('@visp/bus'),
  TypedQueue: class {
    readonly queue = { getRanges: async () => [] };
    async close(): Promise<void> {}
  },
}));

const TRANSCRIPT: Transcript = { text: 'hello there', language: 'en', duration: 2, segments: [{ start: 0, end: 1.5, text: 'hello there' }] };
const AT = new Date('2026-01-01T00:00:00.000Z');

let root: string;
let repositories: string;
let dataDir: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'visp-write-back-'));
  repositories = path.join(root, 'repositories');
  dataDir = path.join(root, 'data');
  mkdirSync(path.join(repositories, 'p1', 'Data', 'VISP_emuDB', 'S_ses', 'talk_bndl'), { recursive: true });
  mkdirSync(dataDir);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const bundleFile = (name: string) => path.join(repositories, 'p1', 'Data', 'VISP_emuDB', 'S_ses', 'talk_bndl', name);

function record(id: string, over: Partial<TranscriptionRecord> = {}): TranscriptionRecord {
  return {
    id,
    owner: 'alice@uni.se',
    filename: 'talk.wav',
    sizeBytes: 10,
    durationSec: 2,
    audio: { codec: 'pcm_s16le', sampleRate: 16000, channels: 1 },
    backend: 'faster-whisper',
    state: 'completed',
    progress: 1,
    attempts: 1,
    createdAt: AT,
    updatedAt: AT,
    origin: { project: 'p1', session: 'S', bundle: 'talk.wav' },
    ...over,
  };
}

/** One record store and one Redis, shared by `processes` gateway processes. */
async function gateways(records: TranscriptionRecord[], processes = 2) {
  const files = new TranscriptionFiles(dataDir);
  for (const r of records) {
    await files.prepare(r.id);
    await files.writeResult(r.id, JSON.stringify(TRANSCRIPT));
  }
  const claims = new Map<string, string>();
  const redis = {
    set: jest.fn(async (key: string, value: string) => (claims.has(key) ? null : (claims.set(key, value), 'OK'))),
    del: jest.fn(async (key: string) => Number(claims.delete(key))),
  };
  const repository = {
    getAnyOwner: jest.fn(async (id: string) => records.find((r) => r.id === id)),
    listByProject: jest.fn(async (project: string) => [...records].filter((r) => r.origin?.project === project).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())),
    writtenBack: jest.fn(async (id: string) => {
      const found = records.find((r) => r.id === id);
      if (found) found.writtenBackAt = new Date();
    }),
  };
  const settings = { TRANSCRIPTION_DATA_DIR: dataDir, PROJECT_REPOSITORIES_DIR: repositories } as TranscriptionSettings;
  const logger = createLogger({ component: 'test', level: 'silent' });
  const made = Array.from({ length: processes }, () => new Transcriptions({ transcriptions: repository as unknown as TranscriptionRepository, redis: redis as unknown as Redis, logger }, settings));
  return { made, redis, repository, claims };
}

describe('writing a bundle job’s transcript back', () => {
  it('is done by exactly one of the gateway processes that hear the completion, rendered as the download is', async () => {
    const { made, repository } = await gateways([record('a'.repeat(24))]);
    const wrote = await Promise.all([...made, ...made].map((t) => t.writeBack('a'.repeat(24))));
    expect(wrote.filter(Boolean)).toHaveLength(1);
    expect(repository.writtenBack).toHaveBeenCalledTimes(1);
    expect(readFileSync(bundleFile('transcription.srt'), 'utf8')).toBe(renderTranscript(TRANSCRIPT, 'srt'));
    expect(readFileSync(bundleFile('transcription.txt'), 'utf8')).toBe(renderTranscript(TRANSCRIPT, 'txt'));
    // Marked: nobody writes it again, however often the queue is looked at.
    expect(await made[1]!.writeBack('a'.repeat(24))).toBe(false);
  });

  it("leaves a redo's transcript alone when an older job of the bundle comes by, and writes nothing for one not completed", async () => {
    const older = record('b'.repeat(24), { createdAt: new Date(AT.getTime() - 1000) });
    const running = record('c'.repeat(24), { state: 'running' });
    const { made } = await gateways([older, running]);
    expect(await made[0]!.writeBack(older.id)).toBe(false);
    expect(await made[0]!.writeBack(running.id)).toBe(false);
    expect(() => readFileSync(bundleFile('transcription.txt'))).toThrow();
  });

  it('gives its claim up when the write fails, so that the next look writes it', async () => {
    const job = record('d'.repeat(24));
    const { made, claims } = await gateways([job]);
    rmSync(path.dirname(bundleFile('x')), { recursive: true });
    await expect(made[0]!.writeBack(job.id)).rejects.toThrow(/no longer in project p1/);
    expect(claims.size).toBe(0);
    mkdirSync(path.dirname(bundleFile('x')));
    writeFileSync(bundleFile('talk.wav'), 'x');
    await made[1]!.writtenBack(job);
    expect(readFileSync(bundleFile('transcription.txt'), 'utf8')).toBe('hello there\n');
  });
});
