// VISP's dialect on a connection over a fake socket, with the session-manager as a stub and an in-memory project
// directory: the frames VISP's client reads, field for field (../shared/VISP-PROTOCOL.md). The real thing, through
// the gateway with Podman and both project sources, is e2e/src/visp.int.spec.ts.
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import type { SessionView, VispProject, VispUser } from '@visp/contracts';
import { createLogger } from '@visp/config';
import type { ProjectDirectory } from '@visp/store';
import { AppError } from '@visp/service-kit';
import type { Principal } from '../auth/principal';
import { AccessList } from '../projects/access-list';
import { DirectoryUsers } from '../projects/directory-users';
import { ProjectAccess } from '../projects/project-access';
import { SessionLauncher } from '../sessions/launcher';
import type { SessionManagerClient } from '../sessions/manager-client';
import { vispCommands } from './commands';
import { VispConnection } from './connection';

const SID = 'abcdefgh2345';
const AT = '2026-01-01T00:00:00.000Z';
const session = (over: Partial<SessionView>): SessionView => ({ sid: SID, owner: 'alice@uni.se', type: 'jupyter', project: 'p1', state: 'pending', limits: { memoryMiB: 512, cpus: 1, pids: 256 }, path: `/s/${SID}/`, createdAt: AT, history: [], ...over });

const USERS: VispUser[] = [
  { id: 1, username: 'alice', eppn: 'alice@uni.se', firstName: 'Alice', lastName: 'Andersson', fullName: 'Alice Andersson', email: 'alice@uni.se', loginAllowed: true, privileges: { createProjects: true } },
  { id: 2, username: 'bob', eppn: 'bob@uni.se', fullName: 'Bob B', email: 'bob@uni.se', loginAllowed: false },
];
const PROJECTS: VispProject[] = [
  { id: 'p1', name: 'One', members: [{ username: 'alice', role: 'admin' }, { username: 'bob', role: 'member' }] },
  { id: 'p2', name: 'Two', members: [{ username: 'bob', role: 'analyzer' }] },
];
const directory: ProjectDirectory = {
  user: async (name) => USERS.find((u) => u.eppn === name || u.username === name),
  users: async (names) => USERS.filter((u) => names.includes(u.username)),
  projectsOf: async (username) => PROJECTS.filter((p) => p.members.some((m) => m.username === username)),
  project: async (id) => PROJECTS.find((p) => p.id === id),
};

function connect(username = 'alice@uni.se', options: { accessList?: boolean; sessions?: SessionView[] } = {}) {
  const ws = Object.assign(new EventEmitter(), { OPEN: 1, readyState: 1, sent: [] as Array<Record<string, unknown>>, send: (text: string) => ws.sent.push(JSON.parse(text) as Record<string, unknown>) });
  const sessions = options.sessions ?? [];
  const manager = {
    create: jest.fn(async () => session({})),
    get: jest.fn(async (sid: string) => {
      const found = sessions.find((s) => s.sid === sid);
      if (!found) throw new AppError('not_found', 'no such session');
      return found;
    }),
    stop: jest.fn(async () => session({ state: 'stopped' })),
    list: jest.fn(async (filter: { owner?: string; state?: string }) => sessions.filter((s) => (!filter.owner || s.owner === filter.owner) && (!filter.state || s.state === filter.state))),
    sessionTypes: jest.fn(async () => ({ types: [{ name: 'jupyter' }, { name: 'rstudio' }] })),
  };
  const users = new DirectoryUsers(directory);
  const access = new ProjectAccess(directory, users, createLogger({ component: 'test', level: 'silent' }));
  const accessList = new AccessList(users, options.accessList ?? false);
  const launcher = new SessionLauncher(manager as unknown as SessionManagerClient, access, accessList, createLogger({ component: 'test', level: 'silent' }));
  const signOut = jest.fn(async () => undefined);
  const principal: Principal = { username, admin: false, via: 'login', credential: 'login:1' };
  const deps = { manager: manager as unknown as SessionManagerClient, launcher, access, accessList, commands: vispCommands(), signOut, logger: createLogger({ component: 'test', level: 'silent' }) };
  const connection = new VispConnection(ws as unknown as WebSocket, principal, deps, 1000);
  const settled = () => new Promise((resolve) => setTimeout(resolve, 5));
  const send = async (message: unknown) => {
    ws.emit('message', Buffer.from(JSON.stringify(message)), false);
    await settled();
  };
  const to = (requestId: string) => ws.sent.filter((m) => m.requestId === requestId);
  return { connection, manager, ws, send, to, signOut, settled };
}

describe("VISP's handshake", () => {
  it('answers getSession with the signed-in user as a UserSession, whatever phpSessId says, then authenticates and authorizes', async () => {
    const { send, to } = connect();
    await send({ cmd: 'getSession', requestId: 'g', data: { phpSessId: 'somebody-elses' } });
    await send({ cmd: 'authenticateUser', requestId: 'a', data: { username: 'mallory', eppn: 'mallory@evil' } });
    await send({ cmd: 'authorizeUser', requestId: 'z', data: {} });
    expect(to('g')).toEqual([
      {
        requestId: 'g',
        cmd: 'getSession',
        data: { id: 1, firstName: 'Alice', lastName: 'Andersson', fullName: 'Alice Andersson', email: 'alice@uni.se', eppn: 'alice@uni.se', username: 'alice', privileges: { createProjects: true } },
        message: null,
        progress: null,
        result: true,
      },
    ]);
    expect(to('a')).toEqual([{ requestId: 'a', cmd: 'authenticateUser', data: { result: 200, msg: 'Authenticated' }, message: null, progress: null, result: true }]);
    expect(to('z')).toEqual([{ requestId: 'z', cmd: 'authorizeUser', data: { result: 200, msg: 'Authorized' }, message: null, progress: null, result: true }]);
  });

  it("with the access list on, denies a user it does not allow with VISP's frame, for authorizeUser and every later command", async () => {
    const { send, to, manager } = connect('bob@uni.se', { accessList: true });
    await send({ cmd: 'authorizeUser', requestId: 'z', data: {} });
    await send({ cmd: 'fetchProjects', requestId: 'f' });
    await send({ cmd: 'launchContainerSession', requestId: 'l', projectId: 'p2', appName: 'jupyter' });
    const denial = { data: { result: 400, msg: 'You are not authorized to use this functionality' }, message: 'You are not authorized to use this functionality', progress: null, result: true };
    expect([...to('z'), ...to('f'), ...to('l')]).toEqual([
      { requestId: 'z', cmd: 'authorizeUser', ...denial },
      { requestId: 'f', cmd: 'fetchProjects', ...denial },
      { requestId: 'l', cmd: 'launchContainerSession', ...denial },
    ]);
    expect(manager.create).not.toHaveBeenCalled();
    // Who they are is still answered (VISP answers getSession before anything).
    await send({ cmd: 'getSession', requestId: 'g', data: {} });
    expect(to('g')[0]).toMatchObject({ result: true, data: { username: 'bob' } });
  });

  it('signs out the login the socket was opened with', async () => {
    const { send, to, signOut } = connect();
    await send({ cmd: 'signOut', requestId: 's', data: {} });
    expect(to('s')).toEqual([{ requestId: 's', cmd: 'signOut', data: { result: 200, msg: 'Signed out' }, message: null, progress: null, result: true }]);
    expect(signOut).toHaveBeenCalledTimes(1);
  });

  it('answers an unknown command with an end frame that says so, and a frame it cannot read with one too', async () => {
    const { send, to, ws } = connect();
    await send({ cmd: 'rmRf', requestId: 'u' });
    expect(to('u')).toEqual([{ requestId: 'u', cmd: 'rmRf', data: { result: 404, commands: expect.arrayContaining(['getSession', 'launchContainerSession']) }, message: 'Unknown command rmRf', progress: 'end', result: false }]);
    ws.emit('message', Buffer.from('{nope'), false);
    expect(ws.sent.at(-1)).toEqual({ requestId: null, cmd: 'invalid', data: { result: 400 }, message: 'A command must be a JSON object with cmd', progress: 'end', result: false });
  });
});

describe("VISP's projects and sessions", () => {
  it("lists the user's projects with members in VISP's shape and the sessions open in each, codes only for the user's own", async () => {
    const sessions = [session({ state: 'ready' }), session({ sid: 'bbbbbbbb2345', owner: 'bob@uni.se', type: 'rstudio', state: 'starting' }), session({ sid: 'cccccccc2345', state: 'stopped' })];
    const { send, to } = connect('alice@uni.se', { sessions });
    await send({ cmd: 'fetchProjects', requestId: 'f' });
    const [reply] = to('f');
    expect(reply).toMatchObject({ cmd: 'fetchProjects', message: null, result: true });
    expect((reply?.data as { projects: unknown[] }).projects).toEqual([
      {
        id: 'p1',
        name: 'One',
        members: [
          { username: 'alice', role: 'admin', fullName: 'Alice Andersson', firstName: 'Alice', lastName: 'Andersson', email: 'alice@uni.se', eppn: 'alice@uni.se' },
          { username: 'bob', role: 'member', fullName: 'Bob B', firstName: undefined, lastName: undefined, email: 'bob@uni.se', eppn: 'bob@uni.se' },
        ],
        liveAppSessions: [
          { projectId: 'p1', username: 'alice', type: 'jupyter', sessionAccessCode: SID },
          { projectId: 'p1', username: 'bob', type: 'rstudio', sessionAccessCode: '' },
        ],
      },
    ]);
  });

  it("launches in a project with VISP's texts, then ends with the access code", async () => {
    const { send, to, connection, manager } = connect();
    await send({ cmd: 'launchContainerSession', requestId: 'l', projectId: 'p1', appName: 'jupyter' });
    expect(manager.create).toHaveBeenCalledWith('alice@uni.se', { type: 'jupyter', project: 'p1' });
    connection.push({ type: 'session.progress', owner: 'alice@uni.se', sid: SID, step: 'creating', message: 'x', at: AT });
    connection.push({ type: 'session.progress', owner: 'alice@uni.se', sid: SID, step: 'waiting-ready', message: 'x', at: AT });
    connection.push({ type: 'session.state', owner: 'alice@uni.se', sid: SID, state: 'ready', at: AT });
    connection.push({ type: 'session.state', owner: 'alice@uni.se', sid: SID, state: 'stopping', at: AT }); // after the end: nothing
    const frames = to('l');
    expect(frames.every((f) => f.type === 'cmd-result' && f.cmd === 'launchContainerSession' && f.result === true)).toBe(true);
    expect(frames.map((f) => [f.progress, f.message])).toEqual([
      ['update', 'Pre-flight'],
      ['update', 'Pre-flight complete'],
      ['update', 'Creating session'],
      ['update', 'Launching'],
      ['update', 'Session ready'],
      ['end', SID],
    ]);
  });

  it('answers at once with the open session of the same app in the same project', async () => {
    const { send, to, manager } = connect('alice@uni.se', { sessions: [session({ state: 'ready' })] });
    await send({ cmd: 'launchContainerSession', requestId: 'l', projectId: 'p1', appName: 'jupyter' });
    expect(to('l')).toEqual([{ type: 'cmd-result', requestId: 'l', cmd: 'launchContainerSession', progress: 'end', result: true, message: SID }]);
    expect(manager.create).not.toHaveBeenCalled();
  });

  it("refuses with VISP's words: no such project, not a working member, an unknown app; a failed start says why", async () => {
    const { send, to, connection, manager } = connect();
    await send({ cmd: 'launchContainerSession', requestId: '1', projectId: 'nope', appName: 'jupyter' });
    await send({ cmd: 'launchContainerSession', requestId: '2', projectId: 'p2', appName: 'jupyter' });
    await send({ cmd: 'launchContainerSession', requestId: '3', projectId: 'p1', appName: 'doom' });
    const bob = connect('bob@uni.se');
    await bob.send({ cmd: 'launchContainerSession', requestId: '4', projectId: 'p1', appName: 'jupyter' }); // a plain member
    await send({ cmd: 'launchContainerSession', requestId: '5', projectId: 'p1', appName: 'jupyter' });
    connection.push({ type: 'session.state', owner: 'alice@uni.se', sid: SID, state: 'failed', reason: 'no room on this host', at: AT });
    const last = (frames: Array<Record<string, unknown>>) => frames.at(-1) && [frames.at(-1)?.progress, frames.at(-1)?.result, frames.at(-1)?.message];
    expect([last(to('1')), last(to('2')), last(to('3')), last(bob.to('4')), last(to('5'))]).toEqual([
      ['end', false, 'Error - no such project'],
      ['end', false, 'Error - user is not authorized'],
      ['end', false, 'Error - unknown app name'],
      ['end', false, 'Error - user is not authorized'],
      ['end', false, 'Failed to launch session: no room on this host'],
    ]);
    expect(manager.create).toHaveBeenCalledTimes(1);
  });

  it("closes the user's own session only, with VISP's messages", async () => {
    const sessions = [session({ state: 'ready' }), session({ sid: 'bbbbbbbb2345', owner: 'bob@uni.se', state: 'ready' })];
    const { send, to, manager } = connect('alice@uni.se', { sessions });
    await send({ cmd: 'closeSession', requestId: '1', sessionAccessCode: 'zzzzzzzzzzzz' });
    await send({ cmd: 'closeSession', requestId: '2', sessionAccessCode: '../../etc' });
    await send({ cmd: 'closeSession', requestId: '3', sessionAccessCode: 'bbbbbbbb2345' });
    await send({ cmd: 'closeSession', requestId: '4', sessionAccessCode: SID });
    expect(['1', '2', '3', '4'].map((id) => to(id).map((f) => [f.type, f.progress, f.result, f.message]))).toEqual([
      [['cmd-result', 'end', false, 'Error - no such session']],
      [['cmd-result', 'end', false, 'Error - no such session']],
      [['cmd-result', 'end', false, 'Error - you are not the owner of this session']],
      [['cmd-result', 'end', true, 'Session deleted']],
    ]);
    expect(manager.stop.mock.calls).toEqual([[SID, 'alice@uni.se']]);
  });

  it("answers VISP's legacy shutdownSession frame (no requestId, result a string), for the owner only", async () => {
    const sessions = [session({ state: 'ready' }), session({ sid: 'bbbbbbbb2345', owner: 'bob@uni.se', state: 'ready' })];
    const { send, ws, manager } = connect('alice@uni.se', { sessions });
    await send({ type: 'cmd', cmd: 'shutdownSession', sessionAccessCode: 'bbbbbbbb2345' });
    await send({ type: 'cmd', cmd: 'shutdownSession', sessionAccessCode: SID });
    expect(ws.sent).toEqual([
      { type: 'cmd-result', cmd: 'shutdownSession', progress: 'end', result: 'Shutdown failed', message: 'Shutdown failed' },
      { type: 'cmd-result', cmd: 'shutdownSession', progress: 'end', result: 'Shutdown completed', message: 'Shutdown completed' },
    ]);
    expect(manager.stop).toHaveBeenCalledTimes(1);
  });
});
