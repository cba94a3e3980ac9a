import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventBus } from '@visp/bus';
import type { TranscriptionBackend } from '@visp/contracts';
import type { Logger } from '@visp/config';
import { AppError, refuseUpgrade } from '@visp/service-kit';
import { authenticate } from '../auth/middleware';
import type { EndReason } from '../auth/held-connections';
import type { Authenticator, Principal } from '../auth/principal';
import type { StreamLimit } from '../auth/stream-limit';
import type { AccessList } from '../projects/access-list';
import type { ProjectAccess } from '../projects/project-access';
import type { SessionLauncher } from '../sessions/launcher';
import type { SessionManagerClient } from '../sessions/manager-client';
import type { Transcriptions } from '../transcriptions/transcriptions';
import { vispCommands } from '../visp/commands';
import { VispConnection } from '../visp/connection';
import type { CommandSocket } from './command-socket';
import { WebclientConnection } from './connection';

export interface WebclientSettings {
  /** VISP's webclient protocol on `/` too (apps/gateway/src/visp). */
  VISP_WEBCLIENT: boolean;
  ACCESS_LIST_ENABLED: boolean;
  /** What VISP's `kb-whisper` asks for (apps/gateway/src/visp/transcriptions.ts). */
  VISP_KB_WHISPER_MODEL?: string;
  VISP_KB_WHISPER_BACKEND?: TranscriptionBackend;
  /** Seconds between pings; a client that has not answered the last one by the next is dropped. */
  WEBCLIENT_HEARTBEAT_INTERVAL: number;
  WEBCLIENT_RATE_LIMIT: number;
  ALLOWED_ORIGINS: string[];
}

/** Commands are small; anything bigger is refused by the socket itself (close 1009). */
const MAX_MESSAGE_BYTES = 64 * 1024;

/** The close reason a webclient sees when the login or token it opened with ends. */
const endedBecause = (principal: Principal, reason: EndReason) => (reason === 'expired' ? `${principal.via} expired` : principal.via === 'login' ? 'signed out' : 'token revoked');

/** Our webclient socket's path; VISP's client has `/` (its site's root) with the VISP profile. */
const WEBCLIENT_PATH = '/api/v1/ws';
const VISP_PATH = '/';

/** A socket of either dialect, as the hub sees it: whose it is, whether it answers pings, and events to pass on. */
type Client = CommandSocket;

/** The webclient WebSockets of every signed-in user, and the bus events fanned out to their owners. */
export class WebclientHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly byOwner = new Map<string, Set<Client>>();
  private readonly vispTable: ReturnType<typeof vispCommands>;
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: { auth: Authenticator; manager: SessionManagerClient; launcher: SessionLauncher; access: ProjectAccess; accessList: AccessList; transcriptions: Transcriptions; events: EventBus; streams: StreamLimit; logger: Logger },
    private readonly settings: WebclientSettings,
  ) {
    const kbWhisper = { model: settings.VISP_KB_WHISPER_MODEL, backend: settings.VISP_KB_WHISPER_BACKEND };
    this.vispTable = vispCommands({ transcriptions: deps.transcriptions.bundleJobs, kbWhisper, logger: deps.logger });
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.events.subscribe((event) => {
      for (const connection of this.byOwner.get(event.owner) ?? []) connection.push(event);
    });
    this.heartbeat = setInterval(() => this.beat(), this.settings.WEBCLIENT_HEARTBEAT_INTERVAL * 1000);
  }

  /** Whether an upgrade is for the webclient socket rather than a session. */
  handles(req: IncomingMessage): boolean {
    return this.dialectOf(req) !== undefined;
  }

  private dialectOf(req: IncomingMessage): 'ours' | 'visp' | undefined {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    if (path === WEBCLIENT_PATH) return 'ours';
    return path === VISP_PATH && this.settings.VISP_WEBCLIENT ? 'visp' : undefined;
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
          const connection = this.connect(req, ws, principal);
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

  private connect(req: IncomingMessage, ws: WebSocket, principal: Principal): Client {
    const { manager, launcher, access, logger } = this.deps;
    if (this.dialectOf(req) === 'ours') return new WebclientConnection(ws, principal, this.deps, { messagesPerSecond: this.settings.WEBCLIENT_RATE_LIMIT });
    // VISP's signOut ends the login the socket was opened with (an API token is not signed out by a socket).
    const signOut = () => (principal.via === 'login' ? this.deps.auth.signOut(req) : Promise.resolve());
    return new VispConnection(ws, principal, { manager, launcher, access, accessList: this.deps.accessList, commands: this.vispTable, signOut, logger }, this.settings.WEBCLIENT_RATE_LIMIT);
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

  private add(connection: Client): void {
    const owner = connection.principal.username;
    const set = this.byOwner.get(owner) ?? new Set();
    this.byOwner.set(owner, set.add(connection));
  }

  private remove(connection: Client): void {
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
