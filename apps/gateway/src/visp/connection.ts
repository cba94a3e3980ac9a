import type { WebSocket } from 'ws';
import { isSessionEvent, VispEnvelopeSchema, type BusEvent, type SessionEvent, type VispReplyA, type VispReplyB, type VispUser } from '@visp/contracts';
import type { Logger } from '@visp/config';
import { AppError } from '@visp/service-kit';
import type { Principal } from '../auth/principal';
import type { ProjectAccess } from '../projects/project-access';
import type { SessionLauncher } from '../sessions/launcher';
import type { SessionManagerClient } from '../sessions/manager-client';
import { MessageBudget } from '../webclient/message-budget';
import type { Family, VispCommand, VispContext, VispRequest } from './command';
import { deny, type AccessCheck } from './handshake';

export interface VispConnectionDeps {
  manager: SessionManagerClient;
  launcher: SessionLauncher;
  access: ProjectAccess;
  commands: ReadonlyMap<string, VispCommand>;
  allowed: AccessCheck;
  signOut(): Promise<void>;
  logger: Logger;
}

/**
 * One VISP webclient on `/`, in VISP's dialect: commands `{cmd, requestId, …fields}` (or under `data`), answered in
 * the family VISP answers each in, every failure as `progress: "end"` with `result: false` and words the client
 * shows (its launch tile waits for `end`; it never reads an `error` progress). Identity is the socket's sign-in.
 */
export class VispConnection {
  /** Set by every pong; the heartbeat drops a connection that stayed silent for a whole interval. */
  alive = true;
  private readonly budget: MessageBudget;
  /** Launches waiting for their session, by sid (two launches may wait on one): each gets its events until done. */
  private readonly follows = new Map<string, Set<(event: SessionEvent) => boolean>>();
  /** The directory's record of the user, re-read after ME_TTL_MS: the access list can change while a socket is open. */
  private me: { at: number; user: Promise<VispUser | undefined> } | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly principal: Principal,
    private readonly deps: VispConnectionDeps,
    messagesPerSecond: number,
  ) {
    this.budget = new MessageBudget(messagesPerSecond);
    ws.on('pong', () => (this.alive = true));
    ws.on('message', (raw, isBinary) => this.receive(raw.toString(), isBinary));
  }

  /** VISP's client is told nothing unasked; an event only moves the launches waiting on its session. */
  push(event: BusEvent): void {
    if (!isSessionEvent(event)) return;
    for (const follower of this.follows.get(event.sid) ?? []) if (follower(event)) this.unfollow(event.sid, follower);
  }

  private receive(raw: string, isBinary: boolean): void {
    const { admitted, warn } = this.budget.take();
    if (!admitted) {
      if (warn) this.send({ requestId: null, cmd: 'rateLimited', data: { result: 429 }, message: `Too many messages: at most ${this.budget.perSecond} a second`, progress: null, result: false } satisfies VispReplyA);
      return;
    }
    let message: unknown;
    try {
      message = isBinary ? undefined : JSON.parse(raw);
    } catch {
      message = undefined;
    }
    const envelope = VispEnvelopeSchema.safeParse(message);
    if (!envelope.success) return this.send({ requestId: null, cmd: 'invalid', data: { result: 400 }, message: 'A command must be a JSON object with cmd', progress: 'end', result: false } satisfies VispReplyA);
    const { cmd, requestId, data, type: _type, ...topLevel } = envelope.data;
    const request: VispRequest = { cmd, requestId, fields: { ...topLevel, ...(isRecord(data) ? data : {}) } };
    const command = this.deps.commands.get(cmd);
    const context = this.context(request);
    this.run(command, request, context).catch((err: unknown) => this.fail(command?.family ?? 'A', request, context, err));
  }

  private async run(command: VispCommand | undefined, request: VispRequest, context: VispContext): Promise<void> {
    // VISP gave no answer to a command it did not know; the client's promise then waited forever.
    if (!command) return context.replyA({ data: { result: 404, commands: [...this.deps.commands.keys()] }, message: `Unknown command ${request.cmd.slice(0, 64)}`, progress: 'end', result: false });
    if (!command.beforeAuthorization && !(await this.deps.allowed(context))) return deny(context);
    await command.handle(request, context);
  }

  /** A failure in the command's family, as VISP words them: `Error - …`, with `end` and `result: false`. */
  private fail(family: Family, request: VispRequest, context: VispContext, err: unknown): void {
    const known = err instanceof AppError;
    if (!known) this.deps.logger.error({ err, cmd: request.cmd }, 'VISP command failed');
    const message = known ? `Error - ${err.message}` : 'Error - internal error';
    if (family === 'B') context.replyB('end', false, message);
    else context.replyA({ data: { result: known ? err.status : 500, msg: message }, message, progress: 'end', result: false });
  }

  private directoryUser(): Promise<VispUser | undefined> {
    if (this.me && Date.now() - this.me.at < ME_TTL_MS) return this.me.user;
    const user = this.deps.access.directory.user(this.principal.username);
    this.me = { at: Date.now(), user };
    user.catch(() => (this.me = undefined));
    return user;
  }

  private context(request: VispRequest): VispContext {
    const { manager, launcher, access } = this.deps;
    const ref = { cmd: request.cmd, requestId: request.requestId ?? null };
    return {
      owner: this.principal.username,
      admin: this.principal.admin,
      access,
      manager,
      launcher,
      me: () => this.directoryUser(),
      replyA: (fields) => this.send({ ...ref, data: null, message: null, progress: null, result: true, ...fields } satisfies VispReplyA),
      replyB: (progress, result, message, data) =>
        this.send({ type: 'cmd-result', cmd: request.cmd, progress, message, result, ...(request.requestId === undefined ? {} : { requestId: request.requestId }), ...(data === undefined ? {} : { data }) } satisfies VispReplyB),
      follow: (sid, onEvent) => {
        this.follows.set(sid, (this.follows.get(sid) ?? new Set()).add(onEvent));
        return () => this.unfollow(sid, onEvent);
      },
      signOut: () => this.deps.signOut(),
    };
  }

  private unfollow(sid: string, follower: (event: SessionEvent) => boolean): void {
    const followers = this.follows.get(sid);
    followers?.delete(follower);
    if (followers?.size === 0) this.follows.delete(sid);
  }

  private send(message: VispReplyA | VispReplyB): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}

/** How long a connection trusts what the directory said of its user (VISP asked on every message). */
const ME_TTL_MS = 10_000;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
