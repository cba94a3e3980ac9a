import type { WebSocket } from 'ws';
import type { BusEvent } from '@visp/contracts';
import type { Principal } from '../auth/principal';
import { MessageBudget } from './message-budget';

/** A frame as it arrived: JSON text (parsed), text that is not JSON, or binary. */
export type Frame = { kind: 'json'; value: unknown } | { kind: 'not-json' } | { kind: 'binary' };

/**
 * What both dialects of the webclient socket share — ours on /api/v1/ws (connection.ts) and VISP's on `/`
 * (../visp/connection.ts): liveness for the hub's heartbeat, the message budget, JSON frames in and out. A dialect
 * says what a frame means, what an over-budget warning looks like, and what it does with the user's events.
 */
export abstract class CommandSocket {
  /** Set by every pong; the heartbeat drops a connection that stayed silent for a whole interval. */
  alive = true;
  private readonly budget: MessageBudget;

  constructor(
    readonly ws: WebSocket,
    readonly principal: Principal,
    messagesPerSecond: number,
  ) {
    this.budget = new MessageBudget(messagesPerSecond);
    ws.on('pong', () => (this.alive = true));
    ws.on('message', (raw, isBinary) => {
      // Over the budget, messages are dropped, with at most one warning a second.
      const { admitted, warn } = this.budget.take();
      if (warn) this.warnOverBudget(this.budget.perSecond);
      if (admitted) this.receive(isBinary ? { kind: 'binary' } : parse(raw.toString()));
    });
  }

  /** A bus event about one of this user's sessions or jobs. */
  abstract push(event: BusEvent): void;

  protected abstract receive(frame: Frame): void;

  protected abstract warnOverBudget(perSecond: number): void;

  protected send(message: unknown): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}

function parse(text: string): Frame {
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'not-json' };
  }
}

/** A command's fields: the top level and `data` together (VISP's client puts them at the one or the other). */
export const commandFields = (topLevel: Record<string, unknown>, data: unknown): Record<string, unknown> => ({
  ...topLevel,
  ...(typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {}),
});
