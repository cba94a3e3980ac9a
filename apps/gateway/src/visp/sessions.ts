// VISP's session commands: a session belongs to a project; launch it (or find the one already open), close it.
// Fields are at the top level (webclient appctrl.component.ts); replies are family B with the access code, which
// is the session id here, in `message`.
import { LIVE_SESSION_STATES, SessionIdSchema, VISP_LAUNCH_TEXTS, VispLaunchFieldsSchema, VispSessionCodeFieldsSchema, type SessionEvent, type SessionState, type SessionView } from '@visp/contracts';
import { AppError, parseOrThrow } from '@visp/service-kit';
import type { VispCommand, VispContext } from './command';

/** The states of a session that is open, or on its way to being open. */
export const LIVE_STATES: ReadonlySet<SessionState> = new Set(LIVE_SESSION_STATES);
/** Progress steps after which VISP would say `Launching` (it creates and starts the container, then waits). */
const LAUNCHING_STEPS: ReadonlySet<string> = new Set(['creating', 'scheduled', 'pulling', 'starting', 'waiting-ready']);

const [PREFLIGHT, PREFLIGHT_COMPLETE, CREATING, LAUNCHING, READY] = VISP_LAUNCH_TEXTS;

/** The session behind an access code, of whoever owns it; undefined when there is none (or it is over). */
async function sessionOf(context: VispContext, code: string): Promise<SessionView | undefined> {
  if (!SessionIdSchema.safeParse(code).success) return undefined;
  const session = await context.manager.get(code).catch((err: unknown) => {
    if (err instanceof AppError && err.code === 'not_found') return undefined;
    throw err;
  });
  return session && LIVE_STATES.has(session.state) ? session : undefined;
}

/** Follows a started session to its end: VISP's texts as updates, then the access code, or why it failed. */
function followLaunch(context: VispContext, sid: string): void {
  let launching = false;
  const settle = (session: Pick<SessionView, 'state' | 'reason'>): boolean => {
    if (session.state === 'ready') {
      context.replyB('update', true, READY);
      context.replyB('end', true, sid);
      return true;
    }
    if (LIVE_STATES.has(session.state)) return false;
    context.replyB('end', false, `Failed to launch session: ${session.reason ?? `the session is ${session.state}`}`);
    return true;
  };
  let done = false;
  const unfollow = context.follow(sid, (event: SessionEvent) => {
    if (done) return true;
    if (event.type === 'session.progress' && LAUNCHING_STEPS.has(event.step) && !launching) {
      launching = true;
      context.replyB('update', true, LAUNCHING);
    }
    if (event.type === 'session.state') done = settle(event);
    return done;
  });
  // Events sent before the follow was registered are not lost: the stored state is read once now.
  void context.manager.get(sid, context.owner).then(
    (session) => {
      if (!done) done = settle(session);
      if (done) unfollow();
    },
    () => undefined,
  );
}

export const sessionCommands: VispCommand[] = [
  {
    name: 'launchContainerSession',
    family: 'B',
    async handle(request, context) {
      const { projectId, appName } = parseOrThrow(VispLaunchFieldsSchema, request.fields, 'command');
      const project = await context.access.workingProject(context.owner, projectId).catch((err: unknown) => {
        if (!(err instanceof AppError) || (err.code !== 'not_found' && err.code !== 'forbidden')) throw err;
        return err.code;
      });
      if (project === 'not_found') return context.replyB('end', false, 'Error - no such project');
      if (project === 'forbidden') return context.replyB('end', false, 'Error - user is not authorized');
      const { types } = await context.manager.sessionTypes();
      if (!types.some((t) => t.name === appName)) return context.replyB('end', false, 'Error - unknown app name');
      // One session per user, app and project, as VISP: the open one is the answer.
      const sessions = await context.manager.list({ owner: context.owner });
      const open = sessions.find((s) => s.type === appName && s.project === project.id && LIVE_STATES.has(s.state));
      if (open?.state === 'ready') return context.replyB('end', true, open.sid);
      context.replyB('update', true, PREFLIGHT);
      const session = open ?? (await context.launcher.launch(context.owner, { type: appName, project: project.id }));
      context.replyB('update', true, PREFLIGHT_COMPLETE);
      context.replyB('update', true, CREATING);
      followLaunch(context, session.sid);
    },
  },
  {
    name: 'closeSession',
    family: 'B',
    async handle(request, context) {
      const { sessionAccessCode } = parseOrThrow(VispSessionCodeFieldsSchema, request.fields, 'command');
      const session = await sessionOf(context, sessionAccessCode);
      if (!session) return context.replyB('end', false, 'Error - no such session');
      if (session.owner !== context.owner) return context.replyB('end', false, 'Error - you are not the owner of this session');
      await context.manager.stop(session.sid, context.owner);
      context.replyB('end', true, 'Session deleted');
    },
  },
  {
    // VISP's legacy frame (no requestId, `result` a string); VISP checked no owner, this does.
    name: 'shutdownSession',
    family: 'B',
    async handle(request, context) {
      const { sessionAccessCode } = parseOrThrow(VispSessionCodeFieldsSchema, request.fields, 'command');
      const session = await sessionOf(context, sessionAccessCode);
      const stopped = session?.owner === context.owner && (await context.manager.stop(session.sid, context.owner).then(() => true, () => false));
      context.replyB('end', stopped ? 'Shutdown completed' : 'Shutdown failed', stopped ? 'Shutdown completed' : 'Shutdown failed');
    },
  },
];
