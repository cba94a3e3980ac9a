// The sessions family: launch, close, get and list a user's sessions.
import type { z } from 'zod';
import {
  isSessionEvent,
  LaunchCommandSchema,
  LaunchedReplySchema,
  NoFieldsCommandSchema,
  SessionCommandSchema,
  SessionReplySchema,
  SessionsReplySchema,
  type SessionView,
} from '@visp/contracts';
import { command, type CommandContext, type OpenRequest, type WebclientCommand } from './command';

/** What a launch's end reply carries so that VISP's client (and ours) can open the session. */
const opened = (session: SessionView): z.input<typeof LaunchedReplySchema> => ({ session, accessCode: session.sid, url: session.path });

/** Starts a session and keeps the request open with progress updates until it is ready (end) or fails (error). */
const launch = command({
  name: 'launchSession',
  fields: LaunchCommandSchema,
  reply: LaunchedReplySchema,
  async handle(fields, context) {
    const session = await context.launcher.launch(context.owner, fields);
    context.open.set(session.sid, followLaunch(context));
    context.reply('update', true, `session ${session.sid} is ${session.state}`, { session });
    // Events sent before the launch was registered are not lost: the stored state is read once now.
    await settleLaunch(context, session.sid);
    return undefined;
  },
});

/** A waiting launch: its session's progress as updates; a state change may end it. */
const followLaunch = (context: CommandContext): OpenRequest => ({
  reply: context.reply,
  onEvent(event) {
    if (!isSessionEvent(event)) return;
    if (event.type === 'session.progress') context.reply('update', true, event.message, { sid: event.sid, step: event.step, queuePosition: event.queuePosition });
    else if (event.type === 'session.state') void settleLaunch(context, event.sid);
  },
});

/** Ends a waiting launch if its session is ready (or will never be). */
async function settleLaunch(context: CommandContext, sid: string): Promise<void> {
  const request = context.open.get(sid);
  if (!request) return;
  const session = await context.manager.get(sid, context.owner).catch(() => undefined);
  if (!session || !context.open.has(sid)) return;
  if (session.state === 'ready') {
    context.open.delete(sid);
    request.reply('end', true, session.sid, opened(session));
  } else if (session.state === 'failed' || session.state === 'stopped' || session.state === 'stopping') {
    context.open.delete(sid);
    request.reply('error', false, session.reason ?? `the session is ${session.state}`, { session });
  }
}

export const sessionCommands: readonly WebclientCommand[] = [
  launch,
  command({
    name: 'closeSession',
    fields: SessionCommandSchema,
    reply: SessionReplySchema,
    async handle({ sid }, context) {
      const session = await context.manager.stop(sid, context.owner);
      context.open.delete(sid);
      return { message: `session ${sid} is ${session.state}`, data: { session } };
    },
  }),
  command({
    name: 'listSessions',
    fields: NoFieldsCommandSchema,
    reply: SessionsReplySchema,
    async handle(_fields, context) {
      const sessions = await context.manager.list({ owner: context.owner });
      return { message: `${sessions.length} sessions`, data: { sessions } };
    },
  }),
  command({
    name: 'getSession',
    fields: SessionCommandSchema,
    reply: SessionReplySchema,
    async handle({ sid }, context) {
      const session = await context.manager.get(sid, context.owner);
      return { message: session.state, data: { session } };
    },
  }),
];
