// VISP's transcription queue over a fake socket, with the jobs in memory: the mapping of VISP's words (status,
// language, model) and the frames its client reads. The real thing, with a whisper-worker and a bundle in a
// project's emuDB, is the transcription case of e2e/src/visp.int.spec.ts.
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { TRANSCRIPTION_STATES, VispEarlierTranscriptSchema, type TranscriptionOrigin, type VispEarlierTranscript, type VispProject, type VispUser } from '@visp/contracts';
import { createLogger } from '@visp/config';
import type { ProjectDirectory, TranscriptionRecord } from '@visp/store';
import type { Principal } from '../auth/principal';
import { AccessList } from '../projects/access-list';
import { DirectoryUsers } from '../projects/directory-users';
import { ProjectAccess } from '../projects/project-access';
import { SessionLauncher } from '../sessions/launcher';
import type { SessionManagerClient } from '../sessions/manager-client';
import type { BundleJob } from '../transcriptions/bundle-jobs';
import { vispCommands } from './commands';
import { VispConnection } from './connection';
import { earlierItem, MESSAGES, vispLanguage, vispModel, vispStatus, type VispTranscriptionDeps } from './transcriptions';

const USERS: VispUser[] = [
  { username: 'alice', eppn: 'alice@uni.se' },
  { username: 'bob', eppn: 'bob@uni.se' },
];
const PROJECTS: VispProject[] = [{ id: 'p1', name: 'One', members: [{ username: 'alice', role: 'analyzer' }, { username: 'bob', role: 'member' }] }];
const directory: ProjectDirectory = {
  user: async (name) => USERS.find((u) => u.eppn === name || u.username === name),
  users: async (names) => USERS.filter((u) => names.includes(u.username)),
  projectsOf: async (username) => PROJECTS.filter((p) => p.members.some((m) => m.username === username)),
  project: async (id) => PROJECTS.find((p) => p.id === id),
};

const AT = new Date('2026-01-01T00:00:00.000Z');
let counter = 0;
function record(state: TranscriptionRecord['state'], origin: Partial<TranscriptionOrigin> = {}, over: Partial<TranscriptionRecord> = {}): TranscriptionRecord {
  counter += 1;
  return {
    id: counter.toString(16).padStart(24, '0'),
    owner: 'alice@uni.se',
    filename: 'talk.wav',
    sizeBytes: 10,
    durationSec: 7,
    audio: { codec: 'pcm_s16le', sampleRate: 16000, channels: 1 },
    backend: 'faster-whisper',
    state,
    progress: 0,
    attempts: 0,
    createdAt: AT,
    updatedAt: AT,
    origin: { project: 'p1', session: 'S1', bundle: 'talk.wav', language: 'English', model: 'whisper', ...origin },
    ...over,
  };
}

/** `earlier`: VISP's own finished items (its database's queue); an Error: that queue cannot be read. */
function connect(username: string, jobs: BundleJob[], earlier: VispEarlierTranscript[] | Error = []) {
  const ws = Object.assign(new EventEmitter(), { OPEN: 1, readyState: 1, sent: [] as Array<Record<string, unknown>>, send: (text: string) => ws.sent.push(JSON.parse(text) as Record<string, unknown>) });
  const transcriptions = {
    projectQueue: jest.fn(async (project: string) => jobs.filter((j) => j.record.origin?.project === project)),
    oneAtATime: <T>(_bundle: unknown, work: () => Promise<T>) => work(),
    createFromBundle: jest.fn(async (owner: string, origin: TranscriptionOrigin) => record('queued', origin, { owner })),
    cancelBundleJob: jest.fn(async () => undefined),
    removeFromProjectQueue: jest.fn(async () => undefined),
    writeBack: jest.fn(async () => false),
    writtenBack: jest.fn(async () => undefined),
    readBundleTranscripts: jest.fn(async () => ({ srt: '1\n00:00:00,000 --> 00:00:01,000\nhello\n', text: 'hello\n' })),
  } satisfies VispTranscriptionDeps['transcriptions'];
  const logger = createLogger({ component: 'test', level: 'silent' });
  const withQueue: ProjectDirectory = {
    ...directory,
    earlierTranscripts: async (project, only) => {
      if (earlier instanceof Error) throw earlier;
      return earlier.filter((e) => e.project === project && (!only || (e.session === only.session && e.bundle === only.bundle)));
    },
  };
  const users = new DirectoryUsers(withQueue);
  const access = new ProjectAccess(withQueue, users, createLogger({ component: 'test', level: 'silent' }));
  const manager = {} as SessionManagerClient;
  const accessList = new AccessList(users, false);
  const commands = vispCommands({ transcriptions, logger });
  const principal: Principal = { username, admin: false, via: 'login', credential: 'login:1' };
  new VispConnection(ws as unknown as WebSocket, principal, { manager, launcher: new SessionLauncher(manager, access, accessList, logger), access, accessList, commands, signOut: async () => undefined, logger }, 1000);
  const send = async (message: unknown) => {
    ws.emit('message', Buffer.from(JSON.stringify(message)), false);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return ws.sent.filter((m) => m.requestId === (message as { requestId: string }).requestId);
  };
  return { send, transcriptions };
}

describe("VISP's words", () => {
  it('maps our states to its statuses; a cancelled job is not in its queue', () => {
    expect(Object.fromEntries(TRANSCRIPTION_STATES.map((state) => [state, vispStatus(state)]))).toEqual({ queued: 'queued', running: 'running', completed: 'complete', failed: 'error', cancelled: undefined });
  });

  it('reads its language names, and "Automatic Detection" as detect', () => {
    expect(vispLanguage('English')).toEqual({ code: 'en' });
    expect(vispLanguage('Swedish')).toEqual({ code: 'sv' });
    expect(vispLanguage('sv')).toEqual({ code: 'sv' });
    expect(vispLanguage('Automatic Detection')).toEqual({ code: undefined });
    expect(vispLanguage(undefined)).toEqual({ code: undefined });
    expect(vispLanguage('Klingon')).toEqual({ refused: expect.stringContaining('Unknown language "Klingon"') });
    expect(vispLanguage('constructor')).toEqual({ refused: expect.any(String) });
  });

  it('maps its models: whisper the default, kb-whisper the configured model or Swedish, anything else refused', () => {
    const kb = { model: 'KBLab/kb-whisper-large', backend: 'openai' as const };
    expect(vispModel('whisper', 'en', kb)).toEqual({ language: 'en' });
    expect(vispModel(undefined, undefined)).toEqual({ language: undefined });
    expect(vispModel('kb-whisper', undefined)).toEqual({ language: 'sv' });
    expect(vispModel('kb-whisper', undefined, { backend: 'openai' })).toEqual({ language: 'sv' });
    expect(vispModel('kb-whisper', undefined, kb)).toEqual({ model: 'KBLab/kb-whisper-large', backend: 'openai', language: 'sv' });
    expect(vispModel('kb-whisper', 'en', { model: 'kb-whisper-large' })).toEqual({ model: 'kb-whisper-large', language: 'en' });
    expect(vispModel('large-v3', 'en')).toEqual({ refused: expect.stringContaining('whisper or kb-whisper') });
  });
  it("reads VISP's own finished queue documents, however it stored their fields, as finished items", () => {
    const stored = { id: 'x1', project: 7, session: 'S', bundle: 'b.wav', initiatedByUser: null, language: null, status: 'complete', createdAt: '2026-06-01T10:00:00Z', finishedAt: new Date('2026-06-01T10:05:00Z'), transcriptionData: { data: 't' } };
    expect(earlierItem(VispEarlierTranscriptSchema.parse(stored))).toEqual({
      id: 'x1', project: '7', session: 'S', bundle: 'b.wav', initiatedByUser: '', language: 'Automatic Detection', model: 'whisper', status: 'complete', error: '',
      createdAt: '2026-06-01T10:00:00.000Z', updatedAt: '2026-06-01T10:05:00.000Z', finishedAt: '2026-06-01T10:05:00.000Z', queuePosition: -1,
    });
    expect(VispEarlierTranscriptSchema.safeParse({ ...stored, bundle: '' }).success).toBe(false);
  });
});

describe("VISP's transcription commands", () => {
  it("lists the project's queue in VISP's item shape, family B with end", async () => {
    const running = record('running', { session: 'S1', bundle: 'a.wav' });
    const done = record('completed', { session: 'S1', bundle: 'b.wav', language: 'Automatic Detection' }, { finishedAt: AT, writtenBackAt: AT });
    const failed = record('failed', { session: 'S2', bundle: 'c.wav' }, { error: { code: 'invalid-audio', message: 'not audio' } });
    const { send } = connect('alice@uni.se', [
      { record: running, queueIndex: 0 },
      { record: done, queueIndex: -1 },
      { record: failed, queueIndex: -1 },
    ]);
    const [reply] = await send({ cmd: 'fetchTranscriptionQueueItems', requestId: 'q', data: { project: 'p1' } });
    expect(reply).toMatchObject({ type: 'cmd-result', requestId: 'q', cmd: 'fetchTranscriptionQueueItems', progress: 'end', result: true });
    expect(reply?.data).toEqual([
      { id: running.id, project: 'p1', session: 'S1', bundle: 'a.wav', initiatedByUser: 'alice@uni.se', language: 'English', model: 'whisper', status: 'running', error: '', createdAt: AT.toISOString(), updatedAt: AT.toISOString(), finishedAt: null, queuePosition: 0 },
      expect.objectContaining({ bundle: 'b.wav', status: 'complete', language: 'Automatic Detection', finishedAt: AT.toISOString(), queuePosition: -1 }),
      expect.objectContaining({ bundle: 'c.wav', status: 'error', error: 'not audio' }),
    ]);
  });

  it('refuses a plain member and a project that is not there, in VISP words', async () => {
    const { send, transcriptions } = connect('bob@uni.se', []);
    const refused = (message: string) => [expect.objectContaining({ type: 'cmd-result', progress: 'end', result: false, message })];
    expect(await send({ cmd: 'fetchTranscriptionQueueItems', requestId: 'q', data: { project: 'p1' } })).toEqual(refused(MESSAGES.noManage));
    expect(await send({ cmd: 'transcribe', requestId: 't', data: { project: 'p1', session: 'S1', bundle: 'talk.wav', language: 'English', model: 'whisper' } })).toEqual(refused(MESSAGES.noAccess));
    expect(await send({ cmd: 'fetchTranscription', requestId: 'f', data: { project: 'p1', session: 'S1', bundle: 'talk.wav' } })).toEqual(refused(MESSAGES.noAccess));
    expect(await send({ cmd: 'removeTranscriptionFromQueue', requestId: 'r', data: { project: 'p1', session: 'S1', bundle: 'talk.wav' } })).toEqual(refused(MESSAGES.noAccess));
    expect(await send({ cmd: 'transcribe', requestId: 'n', data: { project: 'nope', session: 'S1', bundle: 'talk.wav' } })).toEqual(refused(MESSAGES.noProject));
    expect(transcriptions.createFromBundle).not.toHaveBeenCalled();
  });

  it('queues a bundle with the language and model mapped, keeps VISP words for its queue, and refuses an unknown model', async () => {
    const { send, transcriptions } = connect('alice@uni.se', []);
    expect(await send({ cmd: 'transcribe', requestId: 't', data: { project: 'p1', session: 'S1', bundle: 'talk.wav', language: 'Swedish', model: 'kb-whisper' } })).toEqual([expect.objectContaining({ progress: 'end', result: true })]);
    expect(transcriptions.createFromBundle).toHaveBeenCalledWith('alice@uni.se', { project: 'p1', session: 'S1', bundle: 'talk.wav', language: 'Swedish', model: 'kb-whisper' }, { language: 'sv' });
    expect(await send({ cmd: 'transcribe', requestId: 'm', data: { project: 'p1', session: 'S1', bundle: 'talk.wav', model: 'gpt-5' } })).toEqual([expect.objectContaining({ result: false, message: expect.stringContaining('Unknown model') })]);
    expect(transcriptions.createFromBundle).toHaveBeenCalledTimes(1);
  });

  it('says a pending bundle is queued already without a second job, and redoes a finished one', async () => {
    const jobs: BundleJob[] = [{ record: record('queued'), queueIndex: 0 }];
    const { send, transcriptions } = connect('alice@uni.se', jobs);
    const body = { project: 'p1', session: 'S1', bundle: 'talk.wav', language: 'English', model: 'whisper' };
    expect(await send({ cmd: 'transcribe', requestId: 'a', data: body })).toEqual([expect.objectContaining({ result: true, message: 'The file is already in the transcription queue.' })]);
    expect(transcriptions.createFromBundle).not.toHaveBeenCalled();
    jobs[0] = { record: record('completed'), queueIndex: -1 };
    expect(await send({ cmd: 'transcribe', requestId: 'b', data: body })).toEqual([expect.objectContaining({ result: true, message: MESSAGES.redo })]);
    expect(transcriptions.createFromBundle).toHaveBeenCalledTimes(1);
  });

  it('takes items off the queue as VISP: pending cancelled, failed removed, completed kept; a missing one refused', async () => {
    const pending = record('running', { bundle: 'a.wav' });
    const failed = record('failed', { bundle: 'b.wav' });
    const done = record('completed', { bundle: 'c.wav' });
    const { send, transcriptions } = connect('alice@uni.se', [pending, failed, done].map((r) => ({ record: r, queueIndex: -1 })));
    const remove = (bundle: string) => send({ cmd: 'removeTranscriptionFromQueue', requestId: bundle, data: { project: 'p1', session: 'S1', bundle } });
    expect(await remove('a.wav')).toEqual([expect.objectContaining({ progress: 'end', result: true })]);
    expect(transcriptions.cancelBundleJob).toHaveBeenCalledWith(pending);
    expect(await remove('b.wav')).toEqual([expect.objectContaining({ result: true })]);
    expect(transcriptions.removeFromProjectQueue).toHaveBeenCalledWith(failed);
    expect(await remove('c.wav')).toEqual([expect.objectContaining({ result: true })]);
    expect(transcriptions.cancelBundleJob).toHaveBeenCalledTimes(1);
    expect(transcriptions.removeFromProjectQueue).toHaveBeenCalledTimes(1);
    expect(await remove('d.wav')).toEqual([expect.objectContaining({ result: false, message: MESSAGES.notQueued })]);
  });

  it("shows VISP's own finished items where no job here is the bundle's, reads their transcript, and redoes them when asked", async () => {
    const earlier = (session: string, bundle: string): VispEarlierTranscript => ({ id: `visp-${bundle}`, project: 'p1', session, bundle, initiatedByUser: 'alice', language: 'Swedish', model: 'whisper', createdAt: null, updatedAt: null, finishedAt: AT.toISOString() });
    // talk.wav failed here after VISP had done it: the job here is the bundle's now.
    const failed = record('failed', { bundle: 'talk.wav' });
    const { send, transcriptions } = connect('alice@uni.se', [{ record: failed, queueIndex: -1 }], [earlier('S1', 'talk.wav'), earlier('S1', 'old.wav')]);
    const [listed] = await send({ cmd: 'fetchTranscriptionQueueItems', requestId: 'q', data: { project: 'p1' } });
    expect((listed?.data as Array<{ id: string; status: string }>).map((i) => [i.id, i.status])).toEqual([
      [failed.id, 'error'],
      ['visp-old.wav', 'complete'],
    ]);
    const bundle = { project: 'p1', session: 'S1', bundle: 'old.wav' };
    expect(await send({ cmd: 'fetchTranscription', requestId: 'f', data: bundle })).toEqual([expect.objectContaining({ result: true, data: expect.objectContaining({ text: 'hello\n' }) })]);
    expect(transcriptions.writtenBack).not.toHaveBeenCalled();
    expect(transcriptions.readBundleTranscripts).toHaveBeenCalledWith(bundle);
    // Taken off the queue: kept, as VISP kept a finished item; nothing here to cancel or remove.
    expect(await send({ cmd: 'removeTranscriptionFromQueue', requestId: 'r', data: bundle })).toEqual([expect.objectContaining({ result: true, message: '' })]);
    expect([transcriptions.cancelBundleJob, transcriptions.removeFromProjectQueue].map((f) => f.mock.calls.length)).toEqual([0, 0]);
    expect(await send({ cmd: 'transcribe', requestId: 't', data: { ...bundle, language: 'English' } })).toEqual([expect.objectContaining({ result: true, message: MESSAGES.redo })]);
    expect(await send({ cmd: 'fetchTranscription', requestId: 'g', data: { ...bundle, session: 'S2' } })).toEqual([expect.objectContaining({ result: false, message: MESSAGES.notQueued })]);
  });

  it("lists the queue here when VISP's own cannot be read", async () => {
    const done = record('completed', {}, { writtenBackAt: AT });
    const { send } = connect('alice@uni.se', [{ record: done, queueIndex: -1 }], new Error('not authorized on visp to execute command find'));
    const [listed] = await send({ cmd: 'fetchTranscriptionQueueItems', requestId: 'q', data: { project: 'p1' } });
    expect(listed).toMatchObject({ result: true, data: [expect.objectContaining({ id: done.id })] });
  });

  it('writes back, as it lists the queue, the completed jobs not written yet, unless given up on', async () => {
    const unwritten = record('completed', { bundle: 'a.wav' });
    const gone = record('completed', { bundle: 'b.wav' }, { writeBackFailedAt: AT });
    const written = record('completed', { bundle: 'c.wav' }, { writtenBackAt: AT });
    const { send, transcriptions } = connect('alice@uni.se', [unwritten, gone, written].map((r) => ({ record: r, queueIndex: -1 })));
    await send({ cmd: 'fetchTranscriptionQueueItems', requestId: 'q', data: { project: 'p1' } });
    expect(transcriptions.writeBack.mock.calls).toEqual([[unwritten]]);
  });

  it('answers fetchTranscription with the srt and the text beside the bundle, once written', async () => {
    const done = record('completed');
    const { send, transcriptions } = connect('alice@uni.se', [{ record: done, queueIndex: -1 }]);
    const [reply] = await send({ cmd: 'fetchTranscription', requestId: 'f', data: { project: 'p1', session: 'S1', bundle: 'talk.wav' } });
    expect(reply).toMatchObject({ type: 'cmd-result', progress: 'end', result: true, data: { srt: expect.stringContaining('hello'), text: 'hello\n' } });
    expect(transcriptions.writtenBack).toHaveBeenCalledWith(done);
    expect(transcriptions.readBundleTranscripts).toHaveBeenCalledWith({ project: 'p1', session: 'S1', bundle: 'talk.wav' });
    expect(await send({ cmd: 'fetchTranscription', requestId: 'g', data: { project: 'p1', session: 'S1', bundle: 'other.wav' } })).toEqual([expect.objectContaining({ result: false, message: MESSAGES.notQueued })]);
  });
});
