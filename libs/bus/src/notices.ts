import { closeRedis, connectionOf, type Redis } from './redis';

/**
 * Subscribes to a channel of plain-string notices (an id per message) on a connection of its own; returns the
 * function that ends the subscription. For notices whose truth is stored elsewhere: one missed while Redis is
 * away changes only how soon it takes effect.
 */
export async function onNotice(redis: Redis, channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
  const subscriber = connectionOf(redis, channel);
  subscriber.on('message', (from: string, message: string) => {
    if (from === channel) handler(message);
  });
  await subscriber.subscribe(channel);
  return () => closeRedis(subscriber);
}
