import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

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

/** A program in a process group of its own (see spawnInGroup); its stdin a pipe when asked for. */
export interface GroupProcess<Stdin extends Writable | null> {
  child: ChildProcessByStdio<Stdin, Readable, Readable>;
  /** SIGKILL to the whole group: the program and everything it started. */
  kill(): void;
}

/**
 * Starts a program with an argument array (never a shell) in a process group of its own, so that a kill reaches
 * its children too (Python engines fork workers), and killed when this process dies. Its stdout and stderr are
 * pipes, and its stdin with `stdin: 'pipe'`.
 */
export function spawnInGroup(command: string, args: readonly string[], env: Record<string, string> | undefined, stdin: 'pipe'): GroupProcess<Writable>;
export function spawnInGroup(command: string, args: readonly string[], env?: Record<string, string>): GroupProcess<null>;
export function spawnInGroup(command: string, args: readonly string[], env: Record<string, string> = {}, stdin: 'pipe' | 'ignore' = 'ignore'): GroupProcess<Writable | null> {
  // The child inherits this process's environment (PATH, locale, proxies), with the caller's additions.
  // eslint-disable-next-line no-restricted-properties
  const fullEnv = { ...process.env, ...env };
  const [file, argv] = dieWithParent ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
  const options = { env: fullEnv, detached: true } as const;
  const child = stdin === 'pipe' ? spawn(file, argv, { ...options, stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(file, argv, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  return { child, kill };
}

/** setpriv ran but could not start the program: the same failure as spawn's own, as an error. */
export function startFailure(code: number | null, stderr: string): Error | undefined {
  return dieWithParent && code === 127 && stderr.startsWith('setpriv: failed to execute') ? new Error(lastLine(stderr)) : undefined;
}

/**
 * Splits a stream's text into lines for `onLine`, the last one when the stream ends without a newline. Only each
 * new chunk is searched: a line of many megabytes (a long recording's transcript) costs its length, once.
 */
export function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      onLine(partial + chunk.slice(start, end));
      partial = '';
      start = end + 1;
    }
    partial += chunk.slice(start);
  });
  stream.once('end', () => {
    if (partial) onLine(partial);
    partial = '';
  });
}

/** Keeps the last few KiB of a stream's text, for error messages. */
function stderrTail(stream: Readable): () => string {
  let kept = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    kept = (kept + chunk).slice(-STDERR_KEEP);
  });
  return () => kept;
}

/**
 * Runs a program to its end in a process group of its own (spawnInGroup): aborting kills the group at once.
 * Resolves when it exits; a failure to start rejects.
 */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(abortError(options.signal));
    const { child, kill } = spawnInGroup(command, args, options.env);
    options.signal?.addEventListener('abort', kill, { once: true });
    if (options.onLine) eachLine(child.stdout, options.onLine);
    else child.stdout.resume();
    const stderr = stderrTail(child.stderr);
    child.once('error', (err) => {
      options.signal?.removeEventListener('abort', kill);
      reject(err);
    });
    // 'close': stdout has ended, so every line has been handed on.
    child.once('close', (code) => {
      options.signal?.removeEventListener('abort', kill);
      if (options.signal?.aborted) return reject(abortError(options.signal));
      const failure = startFailure(code, stderr());
      if (failure) return reject(failure);
      resolve({ code, stderr: stderr() });
    });
  });
}

export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted'), { cause: signal.reason });
}

/** The last meaningful line of a program's stderr, for a one-line error message. */
export function lastLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? 'no output').slice(0, 300);
}
