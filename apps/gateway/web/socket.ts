// The webclient socket as the start page uses it: commands answered by requestId, the user's events pushed, and
// reconnection with back-off after a drop (a gateway restart, a network change, a laptop waking up).
import type { BusEvent, WebclientReply } from '@visp/contracts';

/** `connecting` before the first open, `reconnecting` after a drop until it is open again. */
export type Connection = 'connecting' | 'open' | 'reconnecting';

/** The close code the gateway ends a socket with when its login ends (sign-out, expiry): reconnecting is useless. */
const LOGIN_ENDED = 4001;

/**
 * How long to wait before reconnection attempt `attempt` (0 first): doubling from `firstMs` up to `maxMs`, drawn
 * from the upper half of that so that the pages a gateway restart dropped together do not all come back together.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random, firstMs = 500, maxMs = 15_000): number {
  const ceiling = Math.min(maxMs, firstMs * 2 ** attempt);
  return ceiling / 2 + (random() * ceiling) / 2;
}

export interface SocketHandlers {
  event(event: BusEvent): void;
  connection(state: Connection): void;
  /** The gateway ended the socket because the login ended. */
  loginEnded(): void;
  /** A message for the user that answers no command (the gateway refusing a message it could not read). */
  notice(message: string): void;
}

/** A pushed event of the user's own (without the owner: it is always the user). */
interface PushedEvent {
  type: 'event';
  event: BusEvent;
}

export class WebclientSocket {
  private ws: WebSocket | undefined;
  private attempt = 0;
  /** Whether a socket of this page has closed: every attempt after that is a reconnection. */
  private dropped = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private nextId = 1;
  /** Commands without their last reply yet, by requestId. */
  private readonly pending = new Map<number, { cmd: string; onReply: (reply: WebclientReply) => void }>();

  constructor(
    private readonly url: string,
    private readonly on: SocketHandlers,
  ) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  connect(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.on.connection(this.dropped ? 'reconnecting' : 'connecting');
    ws.onopen = () => {
      this.attempt = 0;
      this.on.connection('open');
    };
    // A failed attempt is followed by a close, which is where the next one is planned.
    ws.onerror = () => undefined;
    ws.onmessage = (message) => this.receive(JSON.parse(String(message.data)) as WebclientReply | PushedEvent);
    ws.onclose = (close) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.abandonPending();
      if (close.code === LOGIN_ENDED) return this.on.loginEnded();
      this.dropped = true;
      this.on.connection('reconnecting');
      this.retry = setTimeout(() => this.connect(), reconnectDelay(this.attempt++));
    };
  }

  /** Closes for good (signing out): no reconnection, and what was waiting is ended. */
  close(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000, 'the page is done with it');
    this.abandonPending();
  }

  /** Tries at once rather than at the end of the back-off (the browser says the network is back). */
  reconnectNow(): void {
    if (this.retry !== undefined) this.connect();
  }

  /**
   * Sends a command; `onReply` hears every reply until the one that ends it. Only while the socket is open (the
   * page disables its commands otherwise): false when it is not. A drop ends the command with an `error` reply.
   */
  command(cmd: string, data: Record<string, unknown>, onReply: (reply: WebclientReply) => void): boolean {
    if (!this.ws || !this.isOpen) return false;
    const requestId = this.nextId++;
    this.pending.set(requestId, { cmd, onReply });
    this.ws.send(JSON.stringify({ type: 'cmd', cmd, requestId, data }));
    return true;
  }

  private receive(data: WebclientReply | PushedEvent): void {
    if (data.type === 'event') return this.on.event(data.event);
    const command = typeof data.requestId === 'number' ? this.pending.get(data.requestId) : undefined;
    if (!command) {
      if (data.progress === 'error') this.on.notice(data.message);
      return;
    }
    if (data.progress !== 'update') this.pending.delete(data.requestId as number);
    command.onReply(data);
  }

  /** The replies that will never come: what was asked may or may not have happened, and the caller re-reads state. */
  private abandonPending(): void {
    const pending = [...this.pending];
    this.pending.clear();
    for (const [requestId, { cmd, onReply }] of pending) {
      onReply({ type: 'reply', requestId, cmd, progress: 'error', result: false, message: 'The connection to the server was lost.' });
    }
  }
}
