import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import {
  ErrorReplySchema,
  LaunchedReplySchema,
  WebclientCommandNames,
  WebclientReplySchema,
  type BusEvent,
  type SessionView,
  type TranscriptionView,
  type WebclientReply,
} from '@visp/contracts';
import { createLogger } from '@visp/config';
import { AppError } from '@visp/service-kit';
import type { Principal } from '../auth/principal';
import type { SessionManagerClient } from '../sessions/manager-client';
import type { Transcriptions } from '../transcriptions/transcriptions';
import { commandTable, type WebclientCommand } from './commands/command';
import { WEBCLIENT_COMMANDS } from './commands';
import type { ProjectDirectory } from '@visp/store';
import { AccessList } from '../projects/access-list';
import { DirectoryUsers } from '../projects/directory-users';
import { ProjectAccess } from '../projects/project-access';
import { SessionLauncher } from '../sessions/launcher';
import { WebclientConnection } from './connection';

const SID = 'abcdefgh2345';
const JOB = 'a'.repeat(24);
const AT = '2026-01-01T00:00:00.000Z';

const session = (state: SessionView['state']): SessionView => ({ sid: SID, owner: 'alice', type: 'echo', state, limits: { memoryMiB: 512, cpus: 1, pids: 256 }, path: `/s/${SID}/`, createdAt: AT, history: [] });
const job = (state: TranscriptionView['state']): TranscriptionView => ({ id: JOB, state, filename: 'a.wav', sizeBytes: 1, durationSec: 1, backend: 'faster-whisper', progress: 0, attempts: 0, createdAt: AT });

/** A connection over a fake socket, with the session-manager and the transcriptions as stubs. */
function connect() {
  const ws = Object.assign(new EventEmitter(), { OPEN: 1, readyState: 1, sent: [] as unknown[], send: (text: string) => ws.sent.push(JSON.parse(text)) });
  const manager = { create: jest.fn(async () => session('pending')), get: jest.fn(async () => session('starting')), stop: jest.fn(async () => session('stopped')), list: jest.fn(async () => [session('ready')]) };
  const transcriptions = { list: jest.fn(async () => [job('queued')]), get: jest.fn(async () => job('running')), cancel: jest.fn(async () => job('cancelled')) };
  const principal: Principal = { username: 'alice', admin: false, via: 'login', credential: 'login:1' };
  // Project 7 has alice as an analyzer; the launcher lets her (and only members) start sessions in it.
  const directory: ProjectDirectory = {
    user: async (name) => ({ username: name }),
    users: async () => [],
    projectsOf: async () => [],
    project: async (id) => (id === '7' ? { id, name: 'Seven', members: [{ username: 'alice', role: 'analyzer' }] } : undefined),
  };
  const users = new DirectoryUsers(directory);
  const launcher = new SessionLauncher(manager as unknown as SessionManagerClient, new ProjectAccess(directory, users, createLogger({ component: 'test', level: 'silent' })), new AccessList(users, false), createLogger({ component: 'test', level: 'silent' }));
  const deps = { manager: manager as unknown as SessionManagerClient, launcher, transcriptions: transcriptions as unknown as Transcriptions, logger: createLogger({ component: 'test', level: 'silent' }) };
  const connection = new WebclientConnection(ws as unknown as WebSocket, principal, deps, { messagesPerSecond: 1000 });
  const replies = () => ws.sent.filter((m): m is WebclientReply => (m as { type?: string }).type === 'reply');
  const settled = () => new Promise((resolve) => setImmediate(resolve));
  const send = async (message: unknown) => {
    ws.emit('message', Buffer.from(JSON.stringify(message)), false);
    await settled();
  };
  return { connection, manager, transcriptions, replies, send, settled };
}

describe('the webclient command table', () => {
  it('has every command the contract names, in its order, and nothing else', () => {
    expect(WEBCLIENT_COMMANDS.names).toEqual([...WebclientCommandNames]);
  });

  it('refuses two entries of one name', () => {
    const entry = WEBCLIENT_COMMANDS.get('listSessions') as WebclientCommand;
    expect(() => commandTable([entry, entry])).toThrow(/two webclient commands are called listSessions/);
  });

  it('answers an unknown command with the names in the table, in its message and as data', async () => {
    const { send, replies } = connect();
    await send({ cmd: 'rmRf', requestId: 'x2' });
    const [reply] = replies();
    expect(reply).toEqual({
      type: 'reply',
      requestId: 'x2',
      cmd: 'rmRf',
      progress: 'error',
      result: false,
      message: `unknown command rmRf (known: ${WEBCLIENT_COMMANDS.names.join(', ')})`,
      data: { code: 'validation_failed', commands: WEBCLIENT_COMMANDS.names },
    });
    expect(ErrorReplySchema.parse(reply?.data)).toEqual(reply?.data);
  });
});

describe('a webclient connection', () => {
  it("answers each one-reply command with end and the data its entry's reply schema describes", async () => {
    const { send, replies } = connect();
    const commands: Array<[string, Record<string, unknown>]> = [
      ['listSessions', {}],
      ['getSession', { sid: SID }],
      ['closeSession', { sid: SID }],
      ['listTranscriptions', {}],
      ['getTranscription', { id: JOB }],
      ['cancelTranscription', { id: JOB }],
    ];
    for (const [cmd, data] of commands) await send({ cmd, requestId: cmd, data });
    for (const [cmd] of commands) {
      const [reply] = replies().filter((r) => r.requestId === cmd);
      expect(WebclientReplySchema.parse(reply)).toMatchObject({ cmd, progress: 'end', result: true });
      expect(() => WEBCLIENT_COMMANDS.get(cmd)?.reply.parse(reply?.data)).not.toThrow();
    }
    expect(replies().map((r) => r.message)).toEqual(['1 sessions', 'starting', `session ${SID} is stopped`, '1 transcriptions', 'running', `transcription ${JOB} is cancelled`]);
  });

  it('reads a command from the top level and from data, and refuses fields it does not take', async () => {
    const { send, replies, manager } = connect();
    await send({ cmd: 'getSession', requestId: 1, sid: SID });
    await send({ type: 'cmd', cmd: 'getSession', requestId: 2, data: { sid: SID } });
    await send({ cmd: 'listSessions', requestId: 3, data: { admin: true } });
    expect(manager.get.mock.calls).toEqual([
      [SID, 'alice'],
      [SID, 'alice'],
    ]);
    expect(replies().map((r) => [r.requestId, r.progress])).toEqual([
      [1, 'end'],
      [2, 'end'],
      [3, 'error'],
    ]);
    expect(replies()[2]?.data).toEqual({ code: 'validation_failed' });
  });

  it('follows a launch to ready: updates under its requestId, then end with the access code', async () => {
    const { connection, send, replies, manager } = connect();
    await send({ cmd: 'launchSession', requestId: 'r1', data: { type: 'echo', project: '7' } });
    expect(manager.create).toHaveBeenCalledWith('alice', { type: 'echo', project: '7', limits: undefined });
    connection.push({ type: 'session.progress', owner: 'alice', sid: SID, step: 'creating', message: 'Creating session', at: AT });
    manager.get.mockResolvedValue(session('ready'));
    connection.push({ type: 'session.state', owner: 'alice', sid: SID, state: 'ready', at: AT });
    await new Promise((resolve) => setImmediate(resolve));
    expect(replies().map((r) => [r.cmd, r.progress, r.message])).toEqual([
      ['launchSession', 'update', `session ${SID} is pending`],
      ['launchSession', 'update', 'Creating session'],
      ['launchSession', 'end', SID],
    ]);
    expect(LaunchedReplySchema.parse(replies()[2]?.data)).toMatchObject({ accessCode: SID, url: `/s/${SID}/` });
    // Settled: later events are only pushed.
    connection.push({ type: 'session.progress', owner: 'alice', sid: SID, step: 'ready', message: 'again', at: AT });
    expect(replies()).toHaveLength(3);
  });

  it('ends a launch whose session fails with an error reply, and one closed meanwhile with none', async () => {
    const failing = connect();
    failing.manager.get.mockResolvedValue({ ...session('failed'), reason: 'no room' });
    await failing.send({ cmd: 'launchSession', requestId: 'f', data: { type: 'echo' } });
    expect(failing.replies().map((r) => [r.progress, r.result, r.message])).toEqual([
      ['update', true, `session ${SID} is pending`],
      ['error', false, 'no room'],
    ]);

    const closed = connect();
    await closed.send({ cmd: 'launchSession', requestId: 'l', data: { type: 'echo' } });
    await closed.send({ cmd: 'closeSession', requestId: 'c', data: { sid: SID } });
    closed.manager.get.mockResolvedValue(session('stopped'));
    closed.connection.push({ type: 'session.state', owner: 'alice', sid: SID, state: 'stopped', at: AT });
    await closed.settled();
    expect(closed.replies().map((r) => [r.requestId, r.progress])).toEqual([
      ['l', 'update'],
      ['c', 'end'],
    ]);
  });

  it('follows a transcription: progress in percent, then end when it completes', async () => {
    const { connection, send, replies, transcriptions } = connect();
    await send({ cmd: 'followTranscription', requestId: 't', data: { id: JOB } });
    connection.push({ type: 'transcription.progress', owner: 'alice', id: JOB, progress: 0.426, at: AT });
    transcriptions.get.mockResolvedValue(job('completed'));
    connection.push({ type: 'transcription.state', owner: 'alice', id: JOB, state: 'completed', at: AT } satisfies BusEvent);
    await new Promise((resolve) => setImmediate(resolve));
    expect(replies().map((r) => [r.progress, r.message])).toEqual([
      ['update', 'running'],
      ['update', '43 %'],
      ['end', 'completed'],
    ]);
    expect(() => WEBCLIENT_COMMANDS.get('followTranscription')?.reply.parse(replies()[2]?.data)).not.toThrow();
  });

  it("passes a service's error on with its code, and hides anything else as internal", async () => {
    const { send, replies, manager } = connect();
    manager.get.mockRejectedValueOnce(new AppError('not_found', `session ${SID} not found`));
    await send({ cmd: 'getSession', requestId: 'a', data: { sid: SID } });
    manager.list.mockRejectedValueOnce(new Error('boom at /srv/secret/path'));
    await send({ cmd: 'listSessions', requestId: 'b' });
    expect(replies().map((r) => [r.message, r.data])).toEqual([
      [`session ${SID} not found`, { code: 'not_found' }],
      ['internal error', { code: 'internal' }],
    ]);
  });
});
