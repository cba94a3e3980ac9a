import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * util-linux's setpriv (in every Debian) makes the kernel kill the program when this process dies, even by
 * SIGKILL: its own process group, which lets an abort reach its children, would otherwise outlive us.
 */
const SETPRIV = '/usr/bin/setpriv';
const dieWithParent = existsSync(SETPRIV);

export interface RunOptions {
  /** Aborting kills the whole process group at once (SIGKILL): an engine must not outlive its job. */
  signal?: AbortSignal;
  /** Variables added to the inherited environment. */
  env?: Record<string, string>;
  /** Called with each complete line the process writes to stdout. */
  onLine?: (line: string) => void;
}

export interface RunResult {
  code: number | null;
  /** The last few KiB of stderr, for error messages. */
  stderr: string;
}

const STDERR_KEEP = 8 * 1024;

/**
 * Runs a program with an argument array (never a shell) in a process group of its own, so that aborting
 * reaches its children too (Python engines fork workers), and killed when this process dies. Resolves when it
 * exits; a failure to start rejects.
 */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(abortError(options.signal));
    // The child inherits this process's environment (PATH, locale, proxies), with the caller's additions.
    // eslint-disable-next-line no-restricted-properties
    const env = { ...process.env, ...options.env };
    const [file, argv] = dieWithParent ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    let partial = '';
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    options.signal?.addEventListener('abort', kill, { once: true });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (!options.onLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.once('error', (err) => {
      options.signal?.removeEventListener('abort', kill);
      reject(err);
    });
    child.once('close', (code) => {
      options.signal?.removeEventListener('abort', kill);
      if (partial && options.onLine) options.onLine(partial);
      if (options.signal?.aborted) return reject(abortError(options.signal));
      // setpriv ran but the program could not be started: the same failure as spawn's own.
      if (dieWithParent && code === 127 && stderr.startsWith('setpriv: failed to execute')) return reject(new Error(lastLine(stderr)));
      resolve({ code, stderr });
    });
  });
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted'), { cause: signal.reason });
}

/** The last meaningful line of a program's stderr, for a one-line error message. */
export function lastLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? 'no output').slice(0, 300);
}
