import type { WebSocket } from 'ws';
import { z } from 'zod';
import {
  isSessionEvent,
  LaunchCommandSchema,
  RequestIdSchema,
  SessionCommandSchema,
  TranscriptionCommandSchema,
  WebclientCommandNames,
  WebclientEnvelopeSchema,
  type BusEvent,
  type SessionView,
  type WebclientReply,
} from '@visp/contracts';
import type { Logger } from '@visp/config';
import { AppError, parseOrThrow } from '@visp/service-kit';
import type { Principal } from '../auth/principal';
import type { SessionManagerClient } from '../sessions/manager-client';
import type { Transcriptions } from '../transcriptions/transcriptions';

type RequestRef = Pick<WebclientReply, 'requestId' | 'cmd'>;

/** Messages a client may send per second, on average; twice as many in a burst. */
export interface ConnectionLimits {
  messagesPerSecond: number;
}

/** What a launch reply carries so that VISP's client (and ours) can open the session. */
const opened = (session: SessionView) => ({ session, accessCode: session.sid, url: session.path });

/**
 * One signed-in client on the webclient socket: runs its commands, answers each with replies carrying its
 * requestId and cmd, follows its launches to ready or failure, and forwards the events of its sessions.
 */
export class WebclientConnection {
  /** Set by every pong; the heartbeat drops a connection that stayed silent for a whole interval. */
  alive = true;
  /** Launches waiting for their session to become ready, by session id. */
  private readonly launches = new Map<string, RequestRef>();
  /** `followTranscription` requests waiting for their job to finish, by transcription id. */
  private readonly follows = new Map<string, RequestRef>();
  private tokens: number;
  private refilledAt = Date.now();
  private warnedAt = 0;

  constructor(
    readonly ws: WebSocket,
    readonly principal: Principal,
    private readonly deps: { manager: SessionManagerClient; transcriptions: Transcriptions; logger: Logger },
    private readonly limits: ConnectionLimits,
  ) {
    this.tokens = 2 * limits.messagesPerSecond;
    ws.on('pong', () => (this.alive = true));
    ws.on('message', (raw, isBinary) => this.receive(raw.toString(), isBinary));
  }

  /** A bus event about one of this user's sessions or jobs: pushed as it is, and news for a request following it. */
  push(event: BusEvent): void {
    const { owner: _owner, ...visible } = event;
    this.send({ type: 'event', event: visible });
    if (!isSessionEvent(event)) {
      const follow = this.follows.get(event.id);
      if (follow && event.type === 'transcription.progress') this.reply(follow, 'update', true, `${Math.round(event.progress * 100)} %`, { id: event.id, progress: event.progress });
      else if (follow) void this.settleFollow(event.id);
      return;
    }
    const launch = this.launches.get(event.sid);
    if (!launch) return;
    if (event.type === 'session.progress') this.reply(launch, 'update', true, event.message, { sid: event.sid, step: event.step, queuePosition: event.queuePosition });
    else if (event.type === 'session.state') void this.settleLaunch(event.sid);
  }

  private receive(raw: string, isBinary: boolean): void {
    if (!this.admit()) return;
    const unknownRequest: RequestRef = { requestId: null, cmd: null };
    if (isBinary) return this.reply(unknownRequest, 'error', false, 'send commands as JSON text', { code: 'validation_failed' });
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      return this.reply(unknownRequest, 'error', false, 'a command must be a JSON object', { code: 'validation_failed' });
    }
    const envelope = WebclientEnvelopeSchema.safeParse(message);
    if (!envelope.success) return this.reply(bestEffortRef(message), 'error', false, 'a command needs cmd and requestId', { code: 'validation_failed' });
    const { type: _type, cmd, requestId, data, ...topLevel } = envelope.data;
    const request = { requestId, cmd };
    this.run(request, { ...topLevel, ...data }).catch((err: unknown) => this.fail(request, err));
  }

  private async run(request: { requestId: string | number; cmd: string }, fields: Record<string, unknown>): Promise<void> {
    const { manager } = this.deps;
    const owner = this.principal.username;
    switch (request.cmd) {
      case 'launchSession':
      case 'launchContainerSession':
        return this.launch(request, parseOrThrow(LaunchCommandSchema, fields, 'command'));
      case 'closeSession': {
        const { sid } = parseOrThrow(SessionCommandSchema, fields, 'command');
        const session = await manager.stop(sid, owner);
        this.launches.delete(sid);
        return this.reply(request, 'end', true, `session ${sid} is ${session.state}`, { session });
      }
      case 'getSession': {
        const { sid } = parseOrThrow(SessionCommandSchema, fields, 'command');
        const session = await manager.get(sid, owner);
        return this.reply(request, 'end', true, session.state, { session });
      }
      case 'listSessions': {
        parseOrThrow(z.object({}).strict(), fields, 'command');
        const sessions = await manager.list({ owner });
        return this.reply(request, 'end', true, `${sessions.length} sessions`, { sessions });
      }
      case 'listTranscriptions': {
        parseOrThrow(z.object({}).strict(), fields, 'command');
        const transcriptions = await this.deps.transcriptions.list(owner);
        return this.reply(request, 'end', true, `${transcriptions.length} transcriptions`, { transcriptions });
      }
      case 'getTranscription': {
        const transcription = await this.deps.transcriptions.get(owner, parseOrThrow(TranscriptionCommandSchema, fields, 'command').id);
        return this.reply(request, 'end', true, transcription.state, { transcription });
      }
      case 'cancelTranscription': {
        const transcription = await this.deps.transcriptions.cancel(owner, parseOrThrow(TranscriptionCommandSchema, fields, 'command').id);
        this.follows.delete(transcription.id);
        return this.reply(request, 'end', true, `transcription ${transcription.id} is ${transcription.state}`, { transcription });
      }
      case 'followTranscription': {
        const { id } = parseOrThrow(TranscriptionCommandSchema, fields, 'command');
        const transcription = await this.deps.transcriptions.get(owner, id);
        this.follows.set(id, request);
        this.reply(request, 'update', true, transcription.state, { transcription });
        // As with launches: read the stored state once after registering, so an event just before is not lost.
        return this.settleFollow(id);
      }
      default:
        throw new AppError('validation_failed', `unknown command ${request.cmd.slice(0, 64)} (known: ${WebclientCommandNames.join(', ')})`);
    }
  }

  /** Starts a session and keeps the request open with progress updates until it is ready (end) or fails (error). */
  private async launch(request: RequestRef, command: z.infer<typeof LaunchCommandSchema>): Promise<void> {
    const session = await this.deps.manager.create(this.principal.username, command);
    this.launches.set(session.sid, request);
    this.reply(request, 'update', true, `session ${session.sid} is ${session.state}`, { session });
    // Events sent before the launch was registered are not lost: the stored state is read once now.
    await this.settleLaunch(session.sid);
  }

  /** Ends a waiting launch if its session is ready (or will never be). */
  private async settleLaunch(sid: string): Promise<void> {
    const request = this.launches.get(sid);
    if (!request) return;
    const session = await this.deps.manager.get(sid, this.principal.username).catch(() => undefined);
    if (!session || !this.launches.has(sid)) return;
    if (session.state === 'ready') {
      this.launches.delete(sid);
      this.reply(request, 'end', true, session.sid, opened(session));
    } else if (session.state === 'failed' || session.state === 'stopped' || session.state === 'stopping') {
      this.launches.delete(sid);
      this.reply(request, 'error', false, session.reason ?? `the session is ${session.state}`, { session });
    }
  }

  /** Ends a follow whose job has finished: `end` with the transcription when completed, `error` otherwise. */
  private async settleFollow(id: string): Promise<void> {
    const request = this.follows.get(id);
    if (!request) return;
    const transcription = await this.deps.transcriptions.get(this.principal.username, id).catch(() => undefined);
    if (!transcription || !this.follows.has(id)) return;
    if (transcription.state === 'completed') {
      this.follows.delete(id);
      this.reply(request, 'end', true, 'completed', { transcription });
    } else if (transcription.state === 'failed' || transcription.state === 'cancelled') {
      this.follows.delete(id);
      this.reply(request, 'error', false, transcription.error?.message ?? `the transcription was ${transcription.state}`, { transcription });
    }
  }

  private fail(request: RequestRef, err: unknown): void {
    if (err instanceof AppError) return this.reply(request, 'error', false, err.message, { code: err.code });
    this.deps.logger.error({ err, cmd: request.cmd }, 'webclient command failed');
    this.reply(request, 'error', false, 'internal error', { code: 'internal' });
  }

  /** A token bucket; over it, messages are dropped with at most one warning a second. */
  private admit(): boolean {
    const now = Date.now();
    const rate = this.limits.messagesPerSecond;
    this.tokens = Math.min(2 * rate, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    if (now - this.warnedAt >= 1000) {
      this.warnedAt = now;
      this.reply({ requestId: null, cmd: null }, 'error', false, `too many messages: at most ${rate} a second; some were dropped`, { code: 'rate_limited' });
    }
    return false;
  }

  private reply(request: RequestRef, progress: WebclientReply['progress'], result: boolean, message: string, data?: unknown): void {
    const reply: WebclientReply = { type: 'reply', ...request, progress, result, message, ...(data === undefined ? {} : { data }) };
    this.send(reply);
  }

  private send(message: unknown): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
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
