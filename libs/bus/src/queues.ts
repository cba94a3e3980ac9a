import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';
import type { z } from 'zod';
import { TranscriptionJobSchema } from '@visp/contracts';
import { BULL_PREFIX, QUEUES } from './keys';
import type { Redis } from './redis';

/** Each queue's payload schema; producers and workers both validate against it. */
const PAYLOADS = {
  [QUEUES.transcriptions]: TranscriptionJobSchema,
} as const;

export type QueueName = keyof typeof PAYLOADS;
export type PayloadOf<N extends QueueName> = z.infer<(typeof PAYLOADS)[N]>;

/** Retries with exponential backoff; finished jobs kept a while for inspection, then trimmed. */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

export class TypedQueue<N extends QueueName> {
  readonly queue: Queue<PayloadOf<N>>;

  constructor(
    readonly name: N,
    connection: Redis,
  ) {
    this.queue = new Queue<PayloadOf<N>>(name, { connection, prefix: BULL_PREFIX, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  }

  /** Adds a job after validating its payload; `jobId` makes adding idempotent. */
  async add(payload: PayloadOf<N>, options: JobsOptions = {}): Promise<Job<PayloadOf<N>>> {
    const valid = PAYLOADS[this.name].parse(payload) as PayloadOf<N>;
    // BullMQ's name-typed overloads cannot see through the generic; the payload is already validated.
    return (this.queue as Queue).add(this.name, valid, options) as Promise<Job<PayloadOf<N>>>;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * A worker whose processor only ever sees valid payloads; an invalid one fails its job without retries. The
 * processor's signal aborts on `worker.cancelJob(id, reason)`.
 * The connection must allow commands to wait through reconnects: `connectionOf(redis, purpose,
 * { maxRetriesPerRequest: null })` (BullMQ makes the worker's own connections as copies of it).
 */
export function createWorker<N extends QueueName, R>(
  name: N,
  processor: (job: Job<PayloadOf<N>>, token: string | undefined, signal: AbortSignal) => Promise<R>,
  options: Omit<WorkerOptions, 'prefix'> & { connection: Redis },
): Worker<PayloadOf<N>, R> {
  const schema = PAYLOADS[name];
  // Three parameters: BullMQ passes an abort signal only to processors that declare it (Worker.cancelJob).
  const validated: Processor<PayloadOf<N>, R> = async (job, token, signal) => {
    const result = schema.safeParse(job.data);
    if (!result.success) {
      throw new UnrecoverableError(`invalid ${name} payload: ${result.error.issues[0]?.message ?? 'invalid'}`);
    }
    return processor(job, token, signal ?? new AbortController().signal);
  };
  return new Worker<PayloadOf<N>, R>(name, validated, { ...options, prefix: BULL_PREFIX });
}
