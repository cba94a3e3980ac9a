import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Transcript } from '@visp/contracts';
import { lastLine, runProcess, silentWav } from '@visp/transcription';
import { EngineError, type Engine, type TranscribeOptions, type TranscribeRequest } from './engine';

export interface FasterWhisperSettings {
  WHISPER_CLI: string;
  WHISPER_MODEL_DIR: string;
  WHISPER_MODEL: string;
  WHISPER_BEAM_SIZE: number;
  WHISPER_COMPUTE_TYPE: string;
  WHISPER_THREADS: number;
}

/** What whisper-ctranslate2 writes with `--output_format json --word_timestamps True`. */
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
 * Real Whisper offline: the `whisper-ctranslate2` CLI (faster-whisper) with a CTranslate2 model directory, run
 * as a child process per job with an argument array and the Hugging Face hub switched off.
 */
export class FasterWhisperEngine implements Engine {
  readonly name = 'faster-whisper' as const;

  constructor(private readonly settings: FasterWhisperSettings) {}

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
    const { code, stderr } = await runProcess(this.settings.WHISPER_CLI, this.args(request), { signal: options.signal, env: ENGINE_ENV, onLine });
    if (code !== 0) throw new EngineError('engine-failed', `the Whisper engine failed: ${lastLine(stderr)}`, true);
    const outputFile = path.join(request.workDir, `${path.basename(request.wav, path.extname(request.wav))}.json`);
    const output = CliOutputSchema.safeParse(JSON.parse(await readFile(outputFile, 'utf8')));
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

  /** Transcribes a second of silence: the program starts and the model directory loads. */
  async selfTest(signal: AbortSignal): Promise<void> {
    const dir = await mkdtemp(path.join(tmpdir(), 'visp-whisper-selftest-'));
    try {
      const wav = path.join(dir, 'silence.wav');
      await writeFile(wav, silentWav(1));
      const { code, stderr } = await runProcess(this.settings.WHISPER_CLI, this.args({ wav, workDir: dir }), { signal, env: ENGINE_ENV });
      if (code !== 0) throw new Error(`whisper-ctranslate2 failed: ${lastLine(stderr)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private args(request: Pick<TranscribeRequest, 'wav' | 'workDir' | 'language'>): string[] {
    const s = this.settings;
    return [
      request.wav,
      ...['--model', s.WHISPER_MODEL, '--model_directory', s.WHISPER_MODEL_DIR, '--local_files_only', 'True', '--device', 'cpu'],
      ...['--compute_type', s.WHISPER_COMPUTE_TYPE, '--beam_size', String(s.WHISPER_BEAM_SIZE)],
      ...(s.WHISPER_THREADS > 0 ? ['--threads', String(s.WHISPER_THREADS)] : []),
      ...(request.language ? ['--language', request.language] : []),
      ...['--word_timestamps', 'True', '--output_format', 'json', '--output_dir', request.workDir, '--verbose', 'True'],
    ];
  }
}

/** Never reach the network for a model, and print segment lines as they come (for progress). */
const ENGINE_ENV = { HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1' };
