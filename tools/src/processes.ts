import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process has gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Run before a command, so that it gets SIGTERM should this process die without stopping it (kill -9, a crash):
 * no server of a killed test or bench run is left behind. setpriv (util-linux) execs the command in its place.
 */
const DIE_WITH_PARENT = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'TERM', '--'] : [];

/** Starts a long-running process with its output in `logFile`; it ends when this process does. */
export function spawnLogged(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; logFile: string; cwd?: string }): Child {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const [program = command, ...argv] = [...DIE_WITH_PARENT, command, ...args];
  const child = spawn(program, argv, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => log.write(`\n[visp-dev] could not start ${command}: ${err.message}\n`));
  return {
    name,
    process: child,
    logFile: options.logFile,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function lastLines(file: string, count = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `probe` until it returns true; fails early, with the log's tail, if `child` exits first. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, options: { timeoutMs: number; child?: Child }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const child = options.child;
    if (child && (child.process.exitCode !== null || child.process.signalCode !== null)) {
      throw new Error(`${what}: process exited (${child.process.exitCode ?? child.process.signalCode}) before it was ready:\n${lastLines(child.logFile)}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      const tail = options.child ? `:\n${lastLines(options.child.logFile)}` : '';
      throw new Error(`${what}: not ready within ${options.timeoutMs} ms${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs a command to completion with inherited output; rejects on a non-zero exit. */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; quiet?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', options.quiet ? 'pipe' : 'inherit', options.quiet ? 'pipe' : 'inherit'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    // A failure carries the end of the output, which is where the reason is (a build log can be megabytes).
    const tail = () => output.trim().split('\n').slice(-25).join('\n');
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}${output ? `:\n${tail()}` : ''}`))));
  });
}

/** True when a service on 127.0.0.1:`port` answers its /readyz with 200. */
export function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => req.destroy());
  });
}

/**
 * Resolves at the first SIGINT or SIGTERM, and from then on ignores them: Ctrl-C reaches npm and node both (npm
 * forwards it again), and a second signal must not cut the clean-up short.
 */
export function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      process.on('SIGINT', () => undefined);
      process.on('SIGTERM', () => undefined);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
