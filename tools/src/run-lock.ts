import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One test run (or benchmark) at a time on a machine: runs share Podman's storage, the specs' fixed ports, the Redis
 * databases and the cores.
 * The lock is an abstract Unix socket (Linux): the kernel lets it go when the process ends, SIGKILL included, so a
 * run that holds it knows every `test-*` thing in Podman belongs to itself or to a run that died.
 */
export async function holdRunLock(log: (line: string) => void): Promise<void> {
  let waiting = false;
  for (;;) {
    const server = createServer();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen({ path: '\0visp-session-host-test-run' }, () => resolve(undefined));
    });
    if (!err) {
      // Held until the process exits; it keeps nothing alive.
      server.unref();
      return;
    }
    if (err.code !== 'EADDRINUSE') throw err;
    if (!waiting) log('another test run or benchmark is under way on this machine: waiting for it to end');
    waiting = true;
    await sleep(2000);
  }
}
