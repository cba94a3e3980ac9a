// A completed bundle job's transcript written beside its bundle once, by one of several gateway processes that all
// hear the completion: two gateways' BundleJobs over one Redis claim (a stand-in with SET NX and the token-checked
// delete) and one record store, the files real. The whole path, with a whisper-worker, is the transcription case of e2e/src/visp.int.spec.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keys, type EventBus, type EventHandler, type Redis } from '@visp/bus';
import { createLogger } from '@visp/config';
import type { BusEvent, Transcript } from '@visp/contracts';
import { AppError } from '@visp/service-kit';
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
async function gateways(records: TranscriptionRecord[], processes = 2, accessList = { require: async (_owner: string) => undefined }) {
  const files = new TranscriptionFiles(dataDir);
  for (const r of records) {
    await files.prepare(r.id);
    await files.writeResult(r.id, JSON.stringify(TRANSCRIPT));
  }
  const claims = new Map<string, string>();
  const redis = {
    set: jest.fn(async (key: string, value: string) => (claims.has(key) ? null : (claims.set(key, value), 'OK'))),
    // The claim's release: deletes the key only while it holds the caller's token.
    eval: jest.fn(async (_script: string, _keys: number, key: string, token: string) => (claims.get(key) === token ? Number(claims.delete(key)) : 0)),
  };
  const newestFirst = () => [...records].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const mark = (id: string, change: Partial<TranscriptionRecord>) => {
    const found = records.find((r) => r.id === id);
    if (found) Object.assign(found, change);
  };
  const repository = {
    getAnyOwner: jest.fn(async (id: string) => records.find((r) => r.id === id)),
    listByProject: jest.fn(async (project: string) => newestFirst().filter((r) => r.origin?.project === project)),
    newestForBundle: jest.fn(async (project: string, session: string, bundle: string) =>
      newestFirst().find((r) => r.origin?.project === project && r.origin.session === session && r.origin.bundle === bundle && r.state !== 'cancelled' && !r.removedFromQueueAt),
    ),
    writtenBack: jest.fn(async (id: string) => mark(id, { writtenBackAt: new Date() })),
    writeBackFailed: jest.fn(async (id: string) => mark(id, { writeBackFailedAt: new Date() })),
  };
  const settings = { TRANSCRIPTION_DATA_DIR: dataDir, PROJECT_REPOSITORIES_DIR: repositories } as TranscriptionSettings;
  const logger = createLogger({ component: 'test', level: 'silent' });
  const made = Array.from({ length: processes }, () => new Transcriptions({ transcriptions: repository as unknown as TranscriptionRepository, redis: redis as unknown as Redis, accessList, logger }, settings).bundleJobs);
  return { made, redis, repository, claims, records };
}

describe('writing a bundle job’s transcript back', () => {
  it('is done by exactly one of the gateway processes that hear the completion, rendered as the download is', async () => {
    const job = record('a'.repeat(24));
    const { made, repository } = await gateways([job]);
    const wrote = await Promise.all([...made, ...made].map((t) => t.writeBack(job)));
    expect(wrote.filter(Boolean)).toHaveLength(1);
    expect(repository.writtenBack).toHaveBeenCalledTimes(1);
    expect(readFileSync(bundleFile('transcription.srt'), 'utf8')).toBe(renderTranscript(TRANSCRIPT, 'srt'));
    expect(readFileSync(bundleFile('transcription.txt'), 'utf8')).toBe(renderTranscript(TRANSCRIPT, 'txt'));
    // Marked: nobody writes it again, however often the queue is looked at.
    expect(await made[1]!.writeBack(job)).toBe(false);
  });

  it("leaves a redo's transcript alone when an older job of the bundle comes by, and writes nothing for one not completed", async () => {
    const older = record('b'.repeat(24), { createdAt: new Date(AT.getTime() - 1000) });
    const running = record('c'.repeat(24), { state: 'running' });
    const { made } = await gateways([older, running]);
    expect(await made[0]!.writeBack(older)).toBe(false);
    expect(await made[0]!.writeBack(running)).toBe(false);
    expect(() => readFileSync(bundleFile('transcription.txt'))).toThrow();
  });

  it('gives its claim up when the write fails, so that the next look writes it', async () => {
    const job = record('d'.repeat(24));
    const { made, claims } = await gateways([job]);
    rmSync(path.dirname(bundleFile('x')), { recursive: true });
    await expect(made[0]!.writeBack(job)).rejects.toThrow(/no longer in project p1/);
    expect(claims.size).toBe(0);
    mkdirSync(path.dirname(bundleFile('x')));
    writeFileSync(bundleFile('talk.wav'), 'x');
    await made[1]!.writtenBack(job);
    expect(readFileSync(bundleFile('transcription.txt'), 'utf8')).toBe('hello there\n');
  });

  it('gives a bundle that is gone up: marked on the record, so that polls of the queue stop trying', async () => {
    const job = record('e'.repeat(24));
    const { made, repository, claims } = await gateways([job]);
    rmSync(path.dirname(bundleFile('x')), { recursive: true });
    await expect(made[0]!.writeBack(job)).rejects.toThrow(/no longer in project p1/);
    expect(repository.writeBackFailed).toHaveBeenCalledWith(job.id);
    expect(job.writeBackFailedAt).toBeInstanceOf(Date);
    expect(claims.size).toBe(0);
  });

  it('claims before it reads: a second process finds the claim taken and reads nothing more', async () => {
    const job = record('f'.repeat(24));
    const { made, repository, claims } = await gateways([job]);
    claims.set(keys.transcriptWriteBack(job.id), 'someone else');
    expect(await made[0]!.writeBack(job)).toBe(false);
    expect(repository.newestForBundle).not.toHaveBeenCalled();
    expect(repository.listByProject).not.toHaveBeenCalled();
  });

  it('waits for the process that holds the claim by reading the record only, until it is written', async () => {
    const job = record('1'.repeat(24));
    const { made, repository, claims } = await gateways([job]);
    claims.set(keys.transcriptWriteBack(job.id), 'someone else');
    setTimeout(() => void repository.writtenBack(job.id), 250);
    await made[0]!.writtenBack(job);
    expect(job.writtenBackAt).toBeInstanceOf(Date);
    expect(repository.getAnyOwner).toHaveBeenCalled();
    expect(repository.newestForBundle).not.toHaveBeenCalled();
  });

  it('writes as completions go by on the bus, once started', async () => {
    const job = record('2'.repeat(24));
    const { made } = await gateways([job], 1);
    let handler: EventHandler | undefined;
    const events = { subscribe: async (h: EventHandler) => ((handler = h), () => (handler = undefined)) } as unknown as EventBus;
    await made[0]!.start(events);
    handler?.({ type: 'transcription.state', id: job.id, owner: job.owner, state: 'completed' } as BusEvent);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(readFileSync(bundleFile('transcription.txt'), 'utf8')).toBe('hello there\n');
    made[0]!.close();
    expect(handler).toBeUndefined();
  });
});

describe('admitting a bundle job', () => {
  it('is for a user on the access list only, checked before anything else', async () => {
    const refused = new AppError('forbidden', 'not on the list');
    const { made, repository } = await gateways([], 1, { require: async () => Promise.reject(refused) });
    await expect(made[0]!.createFromBundle('mallory@uni.se', { project: 'p1', session: 'S', bundle: 'talk.wav' }, {})).rejects.toBe(refused);
    expect(repository.getAnyOwner).not.toHaveBeenCalled();
  });
});
