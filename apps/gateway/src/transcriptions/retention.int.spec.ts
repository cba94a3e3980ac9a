// The retention of finished transcriptions' files, with the real database, Redis and data dir: what expires goes,
// what does not stays. The clock is the test's argument, so nothing waits for time to pass.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeRedis, createRedis } from '@visp/bus';
import { createLogger } from '@visp/config';
import { openStore, type Store } from '@visp/store';
import { testMongoUri, testRedisUrl } from '@visp/testing';
import { TranscriptionFiles } from '@visp/transcription';
import { Transcriptions, type TranscriptionSettings } from './transcriptions';

const DAY = 86_400_000;
const dataDir = mkdtempSync(path.join(tmpdir(), 'visp-retention-'));
const redis = createRedis(testRedisUrl(), { name: 'retention-test' });
const files = new TranscriptionFiles(dataDir);
let store: Store;
let transcriptions: Transcriptions;

const settings: TranscriptionSettings = {
  TRANSCRIPTION_DATA_DIR: dataDir,
  TRANSCRIPTION_MAX_MIB: 500,
  TRANSCRIPTION_MAX_SECONDS: 14_400,
  TRANSCRIPTION_MAX_PENDING: 10,
  TRANSCRIPTION_QUOTA_MIB: 1,
  TRANSCRIPTION_MIN_FREE_MIB: 0,
  TRANSCRIPTION_RETENTION: 7 * 86_400,
  TRANSCRIPTION_BACKEND: 'faster-whisper',
  TRANSCRIPTION_ATTEMPTS: 1,
  TRANSCRIPTION_BACKOFF_MS: 0,
};

beforeAll(async () => {
  store = await openStore(testMongoUri('retention'));
  transcriptions = new Transcriptions({ transcriptions: store.transcriptions, redis, accessList: { require: async () => undefined }, logger: createLogger({ component: 'test', level: 'warn' }) }, settings);
});

afterAll(async () => {
  await transcriptions.close();
  await store.connection.dropDatabase();
  await store.close();
  await closeRedis(redis);
  rmSync(dataDir, { recursive: true, force: true });
});

/** A job of `owner` that completed at `finishedAt`, with its upload and result on disk. */
async function completedJob(id: string, owner: string, finishedAt: Date): Promise<void> {
  await store.transcriptions.create({ id, owner, filename: 'a.wav', sizeBytes: 600_000, durationSec: 20, audio: { codec: 'pcm_s16le', sampleRate: 16_000, channels: 1 }, backend: 'faster-whisper' });
  await store.transcriptions.start(id, 1);
  await store.transcriptions.complete(id, { language: 'en', durationSec: 20 }, finishedAt);
  await files.prepare(id);
  writeFileSync(files.upload(id), Buffer.alloc(600_000));
  await files.writeResult(id, JSON.stringify({ text: 'hello', language: 'en', duration: 20, segments: [] }));
}

it('deletes the files of jobs finished longer ago than the retention period, frees their quota, and says why', async () => {
  const now = Date.now();
  const [old, recent] = ['6561c0de0000000000000001', '6561c0de0000000000000002'];
  await completedJob(old, 'lena', new Date(now - 8 * DAY));
  await completedJob(recent, 'lena', new Date(now - 6 * DAY));
  expect(await store.transcriptions.storedBytes('lena')).toBe(1_200_000);

  expect(await transcriptions.expire(now)).toBe(1);
  expect(existsSync(files.dir(old))).toBe(false);
  expect(existsSync(files.result(recent))).toBe(true);
  expect(await store.transcriptions.storedBytes('lena')).toBe(600_000);
  await expect(transcriptions.result('lena', old, 'txt')).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/deleted .* after the retention period/) });
  expect((await transcriptions.result('lena', recent, 'json')).body).toContain('"text":"hello"');

  // Once gone, a job is not expired again; the next one goes when its time comes.
  expect(await transcriptions.expire(now)).toBe(0);
  expect(await transcriptions.expire(now + 2 * DAY)).toBe(1);
  expect(existsSync(files.dir(recent))).toBe(false);
});
