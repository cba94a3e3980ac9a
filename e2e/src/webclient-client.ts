// A webclient WebSocket client for the e2e specs: keeps every message, to be awaited by predicate.
import WebSocket from 'ws';
import type { WebclientReply } from '@visp/contracts';
import type { Auth } from './gateway-stack';

export interface PushedEvent {
  type: 'event';
  event: { type: string; sid?: string; id?: string; state?: string; step?: string; progress?: number };
}
export type Message = WebclientReply | PushedEvent;

export class WebclientClient {
  readonly messages: Message[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as Message);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(port: number, auth: Auth, options: { autoPong?: boolean } = {}): Promise<WebclientClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws`, { headers: { origin: `http://127.0.0.1:${port}`, ...auth }, autoPong: options.autoPong ?? true });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WebclientClient(ws)));
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  async next<T extends Message>(what: string, match: (m: Message) => m is T, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  /** The reply to a request that ends it (end or error). */
  final(requestId: string | number | null, timeoutMs?: number): Promise<WebclientReply> {
    return this.next(`final reply to ${requestId}`, (m): m is WebclientReply => m.type === 'reply' && m.requestId === requestId && m.progress !== 'update', timeoutMs);
  }

  repliesTo(requestId: string | number): WebclientReply[] {
    return this.messages.filter((m): m is WebclientReply => m.type === 'reply' && m.requestId === requestId);
  }

  /** Pushed events about a session (by sid) or a transcription (by id). */
  eventsAbout(subject: string): PushedEvent['event'][] {
    return this.messages.filter((m): m is PushedEvent => m.type === 'event' && (m.event.sid ?? m.event.id) === subject).map((m) => m.event);
  }

  close(): void {
    this.ws.close();
  }
}

