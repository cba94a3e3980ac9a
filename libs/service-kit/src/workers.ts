import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from '@visp/config';

/** More restarts than this within RESTART_WINDOW_MS means the workers cannot run: the primary gives up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 10_000;

/** How many worker processes `setting` asks for: 0 means one per core. */
export const workerCount = (setting: number) => (setting === 0 ? availableParallelism() : setting);

/**
 * Runs `count` copies of this service sharing its port (node:cluster), for a stateless service that may use
 * every core. This process only supervises: a worker that dies is replaced (unless they keep dying), and
 * SIGTERM/SIGINT are passed on so that every worker drains before the primary exits.
 */
export function superviseWorkers(count: number, logger: Logger, shutdownTimeoutMs: number): void {
  let stopping = false;
  const restarts: number[] = [];
  const fork = () => cluster.fork();
  for (let i = 0; i < count; i++) fork();
  logger.info({ workers: count }, 'started worker processes');

  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while ((restarts[0] ?? now) < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      logger.fatal({ pid: worker.process.pid, code, signal }, 'workers keep dying: giving up');
      process.exit(1);
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died: starting another');
    fork();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'signal received: stopping workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), shutdownTimeoutMs + 10_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
