import type { WebSocket } from 'ws';
import { isSessionEvent, VispEnvelopeSchema, type BusEvent, type SessionEvent, type VispReplyA, type VispReplyB } from '@visp/contracts';
import type { Logger } from '@visp/config';
import { AppError } from '@visp/service-kit';
import type { Principal } from '../auth/principal';
import type { AccessList } from '../projects/access-list';
import type { ProjectAccess } from '../projects/project-access';
import type { SessionLauncher } from '../sessions/launcher';
import type { SessionManagerClient } from '../sessions/manager-client';
import { CommandSocket, commandFields, type Frame } from '../webclient/command-socket';
import type { Family, VispCommand, VispContext, VispRequest } from './command';
import { deny } from './handshake';

interface VispConnectionDeps {
  manager: SessionManagerClient;
  launcher: SessionLauncher;
  access: ProjectAccess;
  accessList: AccessList;
  commands: ReadonlyMap<string, VispCommand>;
  signOut(): Promise<void>;
  logger: Logger;
}

/**
 * One VISP webclient on `/`, in VISP's dialect: commands `{cmd, requestId, …fields}` (or under `data`), answered in
 * the family VISP answers each in, every failure as `progress: "end"` with `result: false` and words the client
 * shows (its launch tile waits for `end`; it never reads an `error` progress). Identity is the socket's sign-in.
 */
export class VispConnection extends CommandSocket {
  /** Launches waiting for their session, by sid (two launches may wait on one): each gets its events until done. */
  private readonly follows = new Map<string, Set<(event: SessionEvent) => boolean>>();

  constructor(
    ws: WebSocket,
    principal: Principal,
    private readonly deps: VispConnectionDeps,
    messagesPerSecond: number,
  ) {
    super(ws, principal, messagesPerSecond);
  }

  /** VISP's client is told nothing unasked; an event only moves the launches waiting on its session. */
  push(event: BusEvent): void {
    if (!isSessionEvent(event)) return;
    for (const follower of this.follows.get(event.sid) ?? []) if (follower(event)) this.unfollow(event.sid, follower);
  }

  protected warnOverBudget(perSecond: number): void {
    this.send({ requestId: null, cmd: 'rateLimited', data: { result: 429 }, message: `Too many messages: at most ${perSecond} a second`, progress: null, result: false } satisfies VispReplyA);
  }

  protected receive(frame: Frame): void {
    const envelope = VispEnvelopeSchema.safeParse(frame.kind === 'json' ? frame.value : undefined);
    if (!envelope.success) return this.send({ requestId: null, cmd: 'invalid', data: { result: 400 }, message: 'A command must be a JSON object with cmd', progress: 'end', result: false } satisfies VispReplyA);
    const { cmd, requestId, data, type: _type, ...topLevel } = envelope.data;
    const request: VispRequest = { cmd, requestId, fields: commandFields(topLevel, data) };
    const command = this.deps.commands.get(cmd);
    const context = this.context(request);
    this.run(command, request, context).catch((err: unknown) => this.fail(command?.family ?? 'A', request, context, err));
  }

  private async run(command: VispCommand | undefined, request: VispRequest, context: VispContext): Promise<void> {
    // VISP gave no answer to a command it did not know; the client's promise then waited forever.
    if (!command) return context.replyA({ data: { result: 404, commands: [...this.deps.commands.keys()] }, message: `Unknown command ${request.cmd.slice(0, 64)}`, progress: 'end', result: false });
    if (!command.beforeAuthorization && !(await context.allowed())) return deny(context);
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

  private context(request: VispRequest): VispContext {
    const { manager, launcher, access } = this.deps;
    const ref = { cmd: request.cmd, requestId: request.requestId ?? null };
    return {
      owner: this.principal.username,
      admin: this.principal.admin,
      access,
      manager,
      launcher,
      // A record the directory cannot make sense of is no record here: the handshake shows the sign-in alone.
      me: () => access.users.known(this.principal.username),
      allowed: () => this.deps.accessList.allows(this.principal.username),
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
}

