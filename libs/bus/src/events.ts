import { BusEventSchema, type BusEvent } from '@visp/contracts';
import type { Logger } from '@visp/config';
import { channels } from './keys';
import { parseJson } from './json';
import { closeRedis, connectionOf, type Redis } from './redis';

export type EventHandler = (event: BusEvent) => void;

/**
 * Session events over Redis pub/sub. Publishing validates, so nothing malformed goes out; receiving validates
 * again, so nothing malformed reaches a handler (logged and dropped instead).
 */
export class EventBus {
  private subscriber: Redis | undefined;
  private readonly handlers = new Set<EventHandler>();

  constructor(
    private readonly redis: Redis,
    private readonly logger?: Logger,
  ) {}

  async publish(event: BusEvent): Promise<void> {
    await this.redis.publish(channels.events(this.redis), JSON.stringify(BusEventSchema.parse(event)));
  }

  /**
   * Publishes, logging a failure instead of throwing: for notices whose truth is already stored elsewhere (the
   * database), which must not fail the work they report on when Redis hiccups.
   */
  async announce(event: BusEvent): Promise<void> {
    await this.publish(event).catch((err: unknown) => this.logger?.warn({ err, event }, 'could not publish an event'));
  }

  /** Calls `handler` for every valid event until the returned function is called. */
  async subscribe(handler: EventHandler): Promise<() => void> {
    if (!this.subscriber) {
      this.subscriber = connectionOf(this.redis, 'events');
      this.subscriber.on('message', (_channel: string, message: string) => this.dispatch(message));
      await this.subscriber.subscribe(channels.events(this.subscriber));
    }
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  private dispatch(message: string): void {
    const event = parseJson(BusEventSchema, message);
    if (!event) {
      this.logger?.warn({ channel: channels.events(this.redis) }, 'dropped a malformed event');
      return;
    }
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        this.logger?.error({ err }, 'event handler failed');
      }
    }
  }

  async close(): Promise<void> {
    this.handlers.clear();
    if (this.subscriber) await closeRedis(this.subscriber);
  }
}
