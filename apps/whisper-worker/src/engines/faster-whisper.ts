import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Transcript } from '@visp/contracts';
import { abortError, silentWav } from '@visp/transcription';
import { EngineError, type Engine, type TranscribeOptions, type TranscribeRequest } from './engine';
import { EngineGone, pythonOf, WarmWhisper } from './warm-whisper';

export interface FasterWhisperSettings {
  WHISPER_CLI: string;
  WHISPER_MODEL_DIR: string;
  WHISPER_MODEL: string;
  WHISPER_BEAM_SIZE: number;
  WHISPER_COMPUTE_TYPE: string;
  WHISPER_THREADS: number;
}

/** What whisper-ctranslate2 writes with `--output_format json --word_timestamps True` (the warm engine's result). */
const CliOutputSchema = z.object({
  text: z.string(),
  language: z.string(),
  segments: z.array(
    z.object({
      start: z.number(),
      end: z.number(),
      text: z.string(),
      words: z.array(z.object({ word: z.string(), start: z.number(), end: z.number(), probability: z.number().optional() })).optional(),
    }),
  ),
});

/** A line of `--verbose True`: `[00:01.000 --> 00:07.020]  text` (hours appear once they are needed). */
const SEGMENT_LINE = /^\[(?:(\d+):)?(\d+):(\d+(?:\.\d+)?) --> (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\]/;

/** The end time of a verbose segment line, in seconds. */
export function segmentEnd(line: string): number | undefined {
  const m = SEGMENT_LINE.exec(line);
  if (!m) return undefined;
  return Number(m[4] ?? 0) * 3600 + Number(m[5]) * 60 + Number(m[6]);
}

/**
 * Real Whisper offline: faster-whisper through whisper-ctranslate2's code and options, with a CTranslate2 model
 * directory and the Hugging Face hub switched off. Engines are kept warm (WarmWhisper): a job starts on a loaded
 * model, where the CLI run per job spent most of a short clip's time starting Python and loading it. Up to
 * `keepWarm` idle engines are kept, one per job the worker runs at once; the rest end when their job does.
 */
export class FasterWhisperEngine implements Engine {
  readonly name = 'faster-whisper' as const;
  private readonly idle: WarmWhisper[] = [];
  private readonly busy = new Set<WarmWhisper>();
  private closed = false;

  constructor(
    private readonly settings: FasterWhisperSettings,
    private readonly keepWarm = 1,
  ) {}

  async transcribe(request: TranscribeRequest, options: TranscribeOptions): Promise<Transcript> {
    const { WHISPER_MODEL: model } = this.settings;
    if (request.model && request.model !== model) throw new EngineError('model-unavailable', `this server transcribes with ${model}, not ${request.model}`, false);
    if (model.endsWith('.en') && request.language && request.language !== 'en') {
      throw new EngineError('language-unsupported', `the ${model} model only transcribes English, not "${request.language}"`, false);
    }
    const onLine = (line: string) => {
      const end = segmentEnd(line);
      if (end !== undefined && request.durationSec > 0) options.onProgress?.(Math.min(1, end / request.durationSec));
    };
    const output = CliOutputSchema.safeParse(await this.run(request, onLine, options.signal));
    if (!output.success) throw new EngineError('engine-failed', 'the Whisper engine wrote output of an unknown shape', false);
    const { text, language, segments } = output.data;
    return {
      text,
      language,
      duration: request.durationSec,
      segments: segments.map(({ start, end, text: t }) => ({ start, end, text: t })),
      words: segments.flatMap((s) => s.words ?? []),
    };
  }

  /**
   * Transcribes a second of silence: an engine starts and loads the model. Once it passes, as many engines as
   * jobs may run at once are started (or kept) warm. Those still loading go behind the ready ones, which jobs
   * take first. (Jobs the worker takes before the first pass start engines of their own.)
   */
  async selfTest(signal: AbortSignal): Promise<void> {
    const dir = await mkdtemp(path.join(tmpdir(), 'visp-whisper-selftest-'));
    try {
      const wav = path.join(dir, 'silence.wav');
      await writeFile(wav, silentWav(1));
      CliOutputSchema.parse(await this.run({ wav }, () => undefined, signal));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    while (!this.closed && this.idle.length + this.busy.size < this.keepWarm) this.idle.unshift(this.start());
  }

  /** Ends every engine, idle or busy (the worker has stopped its jobs). */
  close(): void {
    this.closed = true;
    for (const engine of [...this.idle.splice(0), ...this.busy]) engine.close();
  }

  /**
   * A job on an idle engine, or on a new one; the engine is kept for the next job if it is still up and has not
   * grown. A job whose engine was gone before it took the job (or before it was ready) goes to another, once.
   */
  private async run(request: Pick<TranscribeRequest, 'wav' | 'language'>, onLine: (line: string) => void, signal: AbortSignal): Promise<unknown> {
    try {
      return await this.runOn(this.idle.pop() ?? this.start(), request, onLine, signal);
    } catch (err) {
      if (!(err instanceof EngineGone) || signal.aborted) throw err;
      return await this.runOn(this.idle.pop() ?? this.start(), request, onLine, signal);
    }
  }

  private async runOn(engine: WarmWhisper, request: Pick<TranscribeRequest, 'wav' | 'language'>, onLine: (line: string) => void, signal: AbortSignal): Promise<unknown> {
    this.busy.add(engine);
    try {
      await abortable(engine.ready, signal, () => engine.close());
      return await engine.run(request, onLine, signal);
    } finally {
      this.busy.delete(engine);
      if (engine.reusable && !this.closed && this.idle.length < this.keepWarm) this.idle.push(engine);
      else engine.close();
    }
  }

  private start(): WarmWhisper {
    if (this.closed) throw new EngineError('engine-failed', 'the worker is shutting down', true);
    // An idle engine that dies (killed, out of memory) leaves the pool; the next job starts another.
    return new WarmWhisper(pythonOf(this.settings.WHISPER_CLI), this.args(), (ended) => {
      const at = this.idle.indexOf(ended);
      if (at >= 0) this.idle.splice(at, 1);
    });
  }

  /** The CLI's arguments but the audio, language and output ones, which are a job's. */
  private args(): string[] {
    const s = this.settings;
    return [
      ...['--model', s.WHISPER_MODEL, '--model_directory', s.WHISPER_MODEL_DIR, '--local_files_only', 'True', '--device', 'cpu'],
      ...['--compute_type', s.WHISPER_COMPUTE_TYPE, '--beam_size', String(s.WHISPER_BEAM_SIZE)],
      ...(s.WHISPER_THREADS > 0 ? ['--threads', String(s.WHISPER_THREADS)] : []),
      ...['--word_timestamps', 'True', '--verbose', 'True'],
    ];
  }
}

/** `promise`, or the abort's reason once `signal` fires first (then `onAbort` runs). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal, onAbort: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort();
    return Promise.reject(abortError(signal));
  }
  return new Promise((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(abortError(signal));
    };
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
