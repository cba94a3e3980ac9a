import { Worker } from 'bullmq';
import { Redis as IORedis } from 'ioredis';
import type { Logger } from '@visp/config';
import { closeRedis, connectionOf, createRedis, type Redis } from './redis';

// Nothing listens on port 1: every connection here is refused at once, and no Redis is needed.
const NOWHERE = 'redis://127.0.0.1:1';

describe('connectionOf', () => {
  const opened: Redis[] = [];
  const open = (redis: Redis) => (opened.push(redis), redis);
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((redis) => closeRedis(redis)));
  });

  it("names the connection after its parent and purpose, and keeps the parent's settings unless told", () => {
    const parent = open(createRedis(NOWHERE, { name: 'whisper-worker' }));
    const subscriber = open(connectionOf(parent, 'events'));
    const queue = open(connectionOf(parent, 'queue', { maxRetriesPerRequest: null }));
    expect(subscriber.options).toMatchObject({ connectionName: 'visp-whisper-worker-events', maxRetriesPerRequest: 3, port: 1 });
    expect(queue.options).toMatchObject({ connectionName: 'visp-whisper-worker-queue', maxRetriesPerRequest: null, port: 1 });
  });

  it('logs an outage once, under its own name', async () => {
    const logger = { warn: jest.fn(), info: jest.fn() };
    const parent = open(createRedis(NOWHERE, { name: 'gateway', logger: logger as unknown as Logger }));
    const connection = open(connectionOf(parent, 'routes'));
    await new Promise((resolve) => connection.once('error', resolve));
    await new Promise((resolve) => connection.once('error', resolve));
    const outages = logger.warn.mock.calls.filter(([fields]) => (fields as { connection: string }).connection === 'gateway-routes');
    expect(outages).toEqual([[expect.objectContaining({ connection: 'gateway-routes' }), 'redis unavailable']]);
  });

  it("gives a BullMQ worker the connection it requires, where a copy of a service's connection is refused", async () => {
    const worker = (connection: Redis) => new Worker('spec', async () => undefined, { connection, autorun: false });
    // Refused before it connects, but after BullMQ copied the connection: a lazy one, so that the copy never opens.
    const lazy = open(new IORedis(NOWHERE, { lazyConnect: true, maxRetriesPerRequest: 3 }));
    expect(() => worker(open(connectionOf(lazy, 'events')))).toThrow(/maxRetriesPerRequest must be null/);
    const parent = open(createRedis(NOWHERE, { name: 'whisper-worker' }));
    const accepted = worker(open(connectionOf(parent, 'queue', { maxRetriesPerRequest: null })));
    accepted.on('error', () => undefined);
    await accepted.close(true);
  });
});
