// VISP's own database as the project directory, against a real MongoDB-compatible server: what it finds, what it
// refuses to guess (DirectoryRecordError), and VISP's finished transcription queue items.
import mongoose, { type Connection } from 'mongoose';
import { createLogger } from '@visp/config';
import { testMongoUri } from '@visp/testing';
import { DirectoryRecordError } from './directory';
import { VispDirectory } from './visp-directory';

const uri = testMongoUri('vispdirectory');
let db: Connection;
let directory: VispDirectory;

beforeAll(async () => {
  db = await mongoose.createConnection(uri).asPromise();
  await db.collection('users').insertMany([
    { id: 1, username: 'ann', eppn: 'ann@uni.se', loginAllowed: true },
    // Two records for one person: neither is her.
    { id: 2, username: 'bo', eppn: 'bo@uni.se' },
    { id: 3, username: 'bo2', eppn: 'bo@uni.se' },
    // Does not fit: no username.
    { id: 4, eppn: 'cy@uni.se' },
  ]);
  await db.collection('projects').insertMany([
    { id: 'p1', name: 'One', members: [{ username: 'ann', role: 'analyzer' }] },
    { id: 7, name: 'Seven', members: [] },
    // Does not fit: a member without a name.
    { id: 'bad', name: 'Bad', members: [{ role: 'admin' }] },
  ]);
  const item = (id: string, fields: object) => ({ id, project: 'p1', session: 'S', bundle: 'a.wav', initiatedByUser: 'ann', language: 'English', model: 'whisper', status: 'complete', createdAt: new Date('2026-01-01'), finishedAt: new Date('2026-01-02'), transcriptionData: { data: 'x' }, ...fields });
  await db.collection('transcriptionqueueitems').insertMany([
    item('q1', {}),
    item('q2', { bundle: 'b.wav', finishedAt: new Date('2026-01-03') }),
    item('q3', { bundle: 'c.wav', status: 'running' }),
    item('q4', { bundle: 'd.wav', status: 'error' }),
    item('q5', { project: 'p2' }),
    item('q6', { project: 7 }),
  ]);
  directory = await VispDirectory.open(uri, createLogger({ component: 'test', level: 'silent' }));
});

afterAll(async () => {
  await directory?.close();
  await db?.dropDatabase();
  await db?.close();
});

it('finds a user by eppn; none is undefined; two for one sign-in name, or one that does not fit, is DirectoryRecordError', async () => {
  expect(await directory.user('ann@uni.se')).toMatchObject({ username: 'ann', loginAllowed: true });
  expect(await directory.user('nobody@uni.se')).toBeUndefined();
  await expect(directory.user('bo@uni.se')).rejects.toBeInstanceOf(DirectoryRecordError);
  await expect(directory.user('cy@uni.se')).rejects.toBeInstanceOf(DirectoryRecordError);
});

it('finds a project by its id, a numeric one by its digits; one that does not fit is DirectoryRecordError', async () => {
  expect(await directory.project('p1')).toMatchObject({ id: 'p1', members: [{ username: 'ann', role: 'analyzer' }] });
  expect(await directory.project('7')).toMatchObject({ id: '7', name: 'Seven' });
  expect(await directory.project('07')).toBeUndefined();
  expect(await directory.project('nope')).toBeUndefined();
  await expect(directory.project('bad')).rejects.toBeInstanceOf(DirectoryRecordError);
});

it("reads the project's completed queue items only, newest first, or one bundle's", async () => {
  expect((await directory.earlierTranscripts('p1')).map((t) => t.id)).toEqual(['q2', 'q1']);
  expect(await directory.earlierTranscripts('p1', { session: 'S', bundle: 'a.wav' })).toEqual([
    expect.objectContaining({ id: 'q1', project: 'p1', session: 'S', bundle: 'a.wav', createdAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-02T00:00:00.000Z' }),
  ]);
  expect(await directory.earlierTranscripts('p1', { session: 'S', bundle: 'c.wav' })).toEqual([]);
  expect((await directory.earlierTranscripts('7')).map((t) => [t.id, t.project])).toEqual([['q6', '7']]);
});
