import type { WebSocket } from 'ws';
import { z } from 'zod';
import { isSessionEvent, RequestIdSchema, WebclientEnvelopeSchema, type BusEvent, type WebclientReply } from '@visp/contracts';
import type { Logger } from '@visp/config';
import { AppError, parseOrThrow } from '@visp/service-kit';
import type { Principal } from '../auth/principal';
import type { SessionLauncher } from '../sessions/launcher';
import type { SessionManagerClient } from '../sessions/manager-client';
import type { Transcriptions } from '../transcriptions/transcriptions';
import { UnknownCommandError, WEBCLIENT_COMMANDS, type CommandContext, type OpenRequest } from './commands';
import { CommandSocket, commandFields, type Frame } from './command-socket';

type RequestRef = Pick<WebclientReply, 'requestId' | 'cmd'>;

/** Messages a client may send per second, on average; twice as many in a burst. */
export interface ConnectionLimits {
  messagesPerSecond: number;
}

/**
 * One signed-in client on the webclient socket: runs its commands (from the command table), answers each with
 * replies carrying its requestId and cmd, and forwards the events of its sessions and jobs, to the client and to
 * the requests left open on them (launches, follows).
 */
export class WebclientConnection extends CommandSocket {
  /** Requests waiting for their session or job, by its sid or id (12 characters of a-z2-7, or 24 hex: never the same). */
  private readonly open = new Map<string, OpenRequest>();

  constructor(
    ws: WebSocket,
    principal: Principal,
    private readonly deps: { manager: SessionManagerClient; launcher: SessionLauncher; transcriptions: Transcriptions; logger: Logger },
    limits: ConnectionLimits,
  ) {
    super(ws, principal, limits.messagesPerSecond);
  }

  /** A bus event about one of this user's sessions or jobs: pushed as it is, and news for a request waiting on it. */
  push(event: BusEvent): void {
    const { owner: _owner, ...visible } = event;
    this.send({ type: 'event', event: visible });
    this.open.get(isSessionEvent(event) ? event.sid : event.id)?.onEvent(event);
  }

  protected receive(frame: Frame): void {
    const unknownRequest: RequestRef = { requestId: null, cmd: null };
    if (frame.kind === 'binary') return this.reply(unknownRequest, 'error', false, 'send commands as JSON text', { code: 'validation_failed' });
    if (frame.kind === 'not-json') return this.reply(unknownRequest, 'error', false, 'a command must be a JSON object', { code: 'validation_failed' });
    const envelope = WebclientEnvelopeSchema.safeParse(frame.value);
    if (!envelope.success) return this.reply(bestEffortRef(frame.value), 'error', false, 'a command needs cmd and requestId', { code: 'validation_failed' });
    const { type: _type, cmd, requestId, data, ...topLevel } = envelope.data;
    const request = { requestId, cmd };
    this.run(request, commandFields(topLevel, data)).catch((err: unknown) => this.fail(request, err));
  }

  /** Looks the command up, checks its fields, runs it, and sends the end reply it returns. */
  private async run(request: { requestId: string | number; cmd: string }, fields: Record<string, unknown>): Promise<void> {
    const command = WEBCLIENT_COMMANDS.get(request.cmd);
    if (!command) throw new UnknownCommandError(request.cmd, WEBCLIENT_COMMANDS.names);
    const parsed = parseOrThrow(command.fields, fields, 'command');
    const done = await command.handle(parsed, this.context(request));
    if (done) this.reply(request, 'end', true, done.message, done.data);
  }

  private context(request: RequestRef): CommandContext {
    const { manager, launcher, transcriptions } = this.deps;
    const reply: CommandContext['reply'] = (progress, result, message, data) => this.reply(request, progress, result, message, data);
    return { owner: this.principal.username, manager, launcher, transcriptions, reply, open: this.open };
  }

  private fail(request: RequestRef, err: unknown): void {
    if (err instanceof AppError) return this.reply(request, 'error', false, err.message, { code: err.code, ...(err instanceof UnknownCommandError ? { commands: err.commands } : {}) });
    this.deps.logger.error({ err, cmd: request.cmd }, 'webclient command failed');
    this.reply(request, 'error', false, 'internal error', { code: 'internal' });
  }

  protected warnOverBudget(perSecond: number): void {
    this.reply({ requestId: null, cmd: null }, 'error', false, `too many messages: at most ${perSecond} a second; some were dropped`, { code: 'rate_limited' });
  }

  private reply(request: RequestRef, progress: WebclientReply['progress'], result: boolean, message: string, data?: unknown): void {
    const reply: WebclientReply = { type: 'reply', ...request, progress, result, message, ...(data === undefined ? {} : { data }) };
    this.send(reply);
  }
}

const PartialRefSchema = z.object({
  requestId: RequestIdSchema.nullable().catch(null),
  cmd: z.string().max(64).nullable().catch(null),
});

/** The requestId and cmd of a message that failed validation, when usable, so that the client can match the error. */
function bestEffortRef(message: unknown): RequestRef {
  const ref = PartialRefSchema.safeParse(message);
  return ref.success ? ref.data : { requestId: null, cmd: null };
}
