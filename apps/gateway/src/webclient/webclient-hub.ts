import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { EventBus } from '@visp/bus';
import type { Logger } from '@visp/config';
import { AppError, refuseUpgrade } from '@visp/service-kit';
import { authenticate } from '../auth/middleware';
import type { EndReason } from '../auth/held-connections';
import type { Authenticator, Principal } from '../auth/principal';
import type { StreamLimit } from '../auth/stream-limit';
import type { SessionManagerClient } from '../sessions/manager-client';
import type { Transcriptions } from '../transcriptions/transcriptions';
import { WebclientConnection } from './connection';

export interface WebclientSettings {
  /** Paths the webclient socket answers on; VISP's own client uses `/`. */
  WEBCLIENT_WS_PATHS: string[];
  /** Seconds between pings; a client that has not answered the last one by the next is dropped. */
  WEBCLIENT_HEARTBEAT_INTERVAL: number;
  WEBCLIENT_RATE_LIMIT: number;
  ALLOWED_ORIGINS: string[];
}

/** Commands are small; anything bigger is refused by the socket itself (close 1009). */
const MAX_MESSAGE_BYTES = 64 * 1024;

/** The close reason a webclient sees when the login or token it opened with ends. */
const endedBecause = (principal: Principal, reason: EndReason) => (reason === 'expired' ? `${principal.via} expired` : principal.via === 'login' ? 'signed out' : 'token revoked');

/** The webclient WebSockets of every signed-in user, and the bus events fanned out to their owners. */
export class WebclientHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly byOwner = new Map<string, Set<WebclientConnection>>();
  private readonly paths: ReadonlySet<string>;
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: { auth: Authenticator; manager: SessionManagerClient; transcriptions: Transcriptions; events: EventBus; streams: StreamLimit; logger: Logger },
    private readonly settings: WebclientSettings,
  ) {
    this.paths = new Set(settings.WEBCLIENT_WS_PATHS);
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.events.subscribe((event) => {
      for (const connection of this.byOwner.get(event.owner) ?? []) connection.push(event);
    });
    this.heartbeat = setInterval(() => this.beat(), this.settings.WEBCLIENT_HEARTBEAT_INTERVAL * 1000);
  }

  /** Whether an upgrade is for the webclient socket rather than a session. */
  handles(req: IncomingMessage): boolean {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    return this.paths.has(path);
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Counted before the upgrade is answered, so that a user at the cap gets a 429 rather than an open socket.
    const admitted = async () => {
      const principal = await authenticate(this.deps.auth, req, this.settings.ALLOWED_ORIGINS, { upgrade: true });
      return { principal, stream: this.deps.streams.take(principal.username) };
    };
    admitted().then(
      ({ principal, stream }) => {
        socket.once('close', stream);
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          const connection = new WebclientConnection(ws, principal, this.deps, { messagesPerSecond: this.settings.WEBCLIENT_RATE_LIMIT });
          this.add(connection);
          const release = this.deps.auth.holdWhileValid(principal, (reason) => ws.close(4001, endedBecause(principal, reason)));
          ws.on('close', () => {
            release();
            this.remove(connection);
          });
          ws.on('error', (err) => this.deps.logger.info({ err: err.message, user: principal.username }, 'webclient socket error'));
        });
      },
      (err: unknown) => {
        if (err instanceof AppError) return refuseUpgrade(socket, err.status);
        this.deps.logger.error({ err }, 'could not authenticate a webclient socket');
        refuseUpgrade(socket, 503);
      },
    );
  }

  /** Pings everyone; whoever did not answer the previous ping is gone. */
  private beat(): void {
    for (const connections of this.byOwner.values()) {
      for (const connection of connections) {
        if (!connection.alive) {
          connection.ws.terminate();
          continue;
        }
        connection.alive = false;
        connection.ws.ping();
      }
    }
  }

  private add(connection: WebclientConnection): void {
    const owner = connection.principal.username;
    const set = this.byOwner.get(owner) ?? new Set();
    this.byOwner.set(owner, set.add(connection));
  }

  private remove(connection: WebclientConnection): void {
    const owner = connection.principal.username;
    const set = this.byOwner.get(owner);
    set?.delete(connection);
    if (set?.size === 0) this.byOwner.delete(owner);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.unsubscribe?.();
    for (const connections of this.byOwner.values()) for (const connection of connections) connection.ws.close(1001, 'the gateway is shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
