import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { abortError, eachLine, lastLine, spawnInGroup, startFailure } from '@visp/transcription';
import { EngineError } from './engine';

/** The engine's server: beside this module in the source tree, beside the bundle in dist/ and in the image. */
const SERVER = path.join(__dirname, 'warm_whisper.py');

/** What the server says, a line each (warm_whisper.py's docstring); every other line is the CLI's own output. */
const ControlSchema = z.discriminatedUnion('visp', [
  z.object({ visp: z.literal('ready') }),
  z.object({ visp: z.literal('started') }),
  z.object({ visp: z.literal('done'), result: z.unknown() }),
  z.object({ visp: z.literal('failed'), error: z.string() }),
]);

/** Never reach the network for a model, and print segment lines as they come (for progress). */
const ENGINE_ENV = { HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1' };

/**
 * The Python that runs `cli` (whisper-ctranslate2, a console script), found on PATH when `cli` is a bare name and
 * followed through symlinks (pipx links it): the interpreter its first line names, which pip writes there (a venv's,
 * or the system's for `pip install --user`); else the `python3` beside the script.
 */
export function pythonOf(cli: string, searchPath?: string): string {
  // The search path a bare name is found on, as spawn finds it: not a setting.
  // eslint-disable-next-line no-restricted-properties
  const dirs = (searchPath ?? process.env.PATH ?? '').split(':').filter(Boolean);
  const candidates = cli.includes('/') ? [cli] : dirs.map((dir) => path.join(dir, cli));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      const script = realpathSync(candidate);
      return interpreterOf(script) ?? path.join(path.dirname(script), 'python3');
    } catch {
      // Not here: the next one.
    }
  }
  throw new EngineError('engine-failed', `the Whisper engine ${cli} is not installed`, true);
}

/**
 * The Python a console script's first lines name: `#!<python>`, `#!/usr/bin/env <python>`, or pip's
 * `#!/bin/sh` trampoline for paths too long for a `#!` line (`'''exec' <python> "$0" "$@"`). Undefined otherwise.
 */
function interpreterOf(script: string): string | undefined {
  const [first = '', second = ''] = readFileSync(script, 'latin1').split('\n', 2);
  if (!first.startsWith('#!')) return undefined;
  const words = first.slice(2).trim().split(/\s+/);
  const trampoline = /^'''exec' "?([^"\s]+)"?/.exec(second)?.[1];
  const program = words[0] === '/usr/bin/env' ? words[1] : path.basename(words[0] ?? '') === 'sh' ? trampoline : words[0];
  return program && /^python[\d.]*$/.test(path.basename(program)) ? program : undefined;
}

/**
 * The engine ended before it took the job it was handed (an idle engine that died just before, its exit not yet
 * seen) or before it was ready: nothing of the job ran, and it may go to another engine.
 */
export class EngineGone extends EngineError {
  constructor(what: string, cause: Error) {
    super('engine-failed', `the Whisper engine ${what}: ${cause.message}`, true, { cause });
  }
}

interface RunningJob {
  /** Whether the engine has said it took the job (`{"visp": "started"}`). */
  started: boolean;
  onLine: (line: string) => void;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * How much of the engine's stderr is kept, from when the current job was handed to it: an error message tells
 * of that job only, never of another owner's before it.
 */
const STDERR_KEEP = 8 * 1024;

/**
 * One engine process kept warm: whisper-ctranslate2's code with the CLI's own arguments, the model loaded once,
 * then one job at a time over stdin and stdout. A job's abort kills the process (its whole group, at once): it
 * is not used again. A job that fails in the engine leaves it serving.
 */
export class WarmWhisper {
  /** Resolves once the model is loaded; rejects if the process ends first. */
  readonly ready: Promise<void>;
  /** Resident memory when it became ready, in kB (0 until then). */
  private readyRssKb = 0;
  private job: RunningJob | undefined;
  private exit: Error | undefined;
  /** Killed by us: on its way out, whether or not its exit has been seen yet. */
  private killed = false;
  private stderr = '';
  private readonly pid: number | undefined;
  private readonly kill: () => void;
  private readonly send: (line: string) => void;
  private settleReady: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(python: string, args: readonly string[], onExit: (engine: WarmWhisper) => void) {
    const { child, kill } = spawnInGroup(python, [SERVER, ...args], ENGINE_ENV, 'pipe');
    this.pid = child.pid;
    this.kill = kill;
    this.send = (line) => void child.stdin.write(`${line}\n`);
    // Writing to a process that has just died fails with EPIPE; its exit, below, is what reports it.
    child.stdin.on('error', () => undefined);
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    // Nobody may be waiting when the process fails (an idle engine dying): the rejection is still handled.
    this.ready.catch(() => undefined);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP)));
    eachLine(child.stdout, (line) => this.read(line));
    child.once('error', (err) => this.ended(err, onExit));
    child.once('close', (code, signal) => this.ended(startFailure(code, this.stderr) ?? new Error(`it exited (${signal ?? `code ${code}`}): ${lastLine(this.stderr)}`), onExit));
  }

  /** Whether it can take a job: started (or starting) and not ended. */
  get alive(): boolean {
    return this.exit === undefined && !this.killed;
  }

  /**
   * Whether it should be kept for another job: alive, and not holding much more memory than when it was ready
   * (Python keeps the peak of its largest job, a long recording's audio and features, and rarely gives it back).
   */
  get reusable(): boolean {
    return this.alive && (this.readyRssKb === 0 || residentKb(this.pid) <= 2 * this.readyRssKb);
  }

  /** Transcribes `wav`; the CLI's output lines go to `onLine` as they come. Resolves with the CLI's JSON result. */
  run(job: { wav: string; language?: string }, onLine: (line: string) => void, signal: AbortSignal): Promise<unknown> {
    if (this.job) return Promise.reject(new Error('the engine is busy'));
    if (!this.alive) return Promise.reject(new EngineGone('stopped', this.exit ?? new Error('it was stopped')));
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const abort = () => {
        this.job?.reject(abortError(signal));
        this.close();
      };
      signal.addEventListener('abort', abort, { once: true });
      const settled = <T>(then: (value: T) => void) => (value: T) => {
        signal.removeEventListener('abort', abort);
        this.job = undefined;
        then(value);
      };
      this.job = { started: false, onLine, resolve: settled(resolve), reject: settled(reject) };
      this.stderr = '';
      this.send(JSON.stringify({ wav: job.wav, language: job.language ?? null }));
    });
  }

  /** Ends the process at once, whatever it is doing (once it has ended, its pid may be another's: nothing). */
  close(): void {
    this.killed = true;
    if (!this.exit) this.kill();
  }

  private read(line: string): void {
    if (!line.startsWith('{"visp"')) return void this.job?.onLine(line);
    let message: z.infer<typeof ControlSchema>;
    try {
      message = ControlSchema.parse(JSON.parse(line));
    } catch {
      // Not what warm_whisper.py writes: nothing it says can be trusted to end the job any more.
      this.job?.reject(new EngineError('engine-failed', 'the Whisper engine answered in an unknown form', true));
      return this.close();
    }
    if (message.visp === 'ready') {
      this.readyRssKb = residentKb(this.pid);
      return this.settleReady?.resolve();
    }
    if (message.visp === 'started') {
      if (this.job) this.job.started = true;
      return;
    }
    if (message.visp === 'done') return this.job?.resolve(message.result);
    this.job?.reject(new EngineError('engine-failed', `the Whisper engine failed: ${message.error}`, true));
  }

  private ended(err: Error, onExit: (engine: WarmWhisper) => void): void {
    if (this.exit) return;
    this.exit = err;
    this.settleReady?.reject(new EngineGone('did not start', err));
    this.job?.reject(this.job.started ? new EngineError('engine-failed', `the Whisper engine stopped: ${err.message}`, true, { cause: err }) : new EngineGone('stopped', err));
    onExit(this);
  }
}

/** A process's resident memory in kB (`VmRSS`), or 0 when it is gone. */
function residentKb(pid: number | undefined): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
