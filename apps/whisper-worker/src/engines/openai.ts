import { openAsBlob } from 'node:fs';
import { z } from 'zod';
import { languageCode, type Transcript } from '@visp/contracts';
import { EngineError, type Engine, type TranscribeOptions, type TranscribeRequest } from './engine';

export interface OpenAiSettings {
  OPENAI_BASE_URL: string;
  OPENAI_API_KEY?: string;
  OPENAI_MODEL: string;
  /** Seconds. */
  OPENAI_TIMEOUT: number;
}

/** `response_format=verbose_json` as OpenAI, speaches and whisper.cpp's server answer it. */
const VerboseJsonSchema = z.object({
  text: z.string(),
  language: z.string().optional(),
  duration: z.union([z.number(), z.string().transform(Number)]).optional(),
  segments: z.array(z.object({ start: z.number(), end: z.number(), text: z.string() })).default([]),
  words: z.array(z.object({ word: z.string(), start: z.number(), end: z.number(), probability: z.number().optional() })).optional(),
});

/** What an HTTP status means for the job: its code, its message and whether to try again. */
function refusal(status: number): EngineError {
  if (status === 401 || status === 403) return new EngineError('backend-refused', `the transcription service refused the API key (${status})`, false);
  if (status === 413) return new EngineError('too-large', 'the transcription service does not take files this large (413)', false);
  if (status === 429) return new EngineError('backend-busy', 'the transcription service is busy (429); trying again later', true);
  if (status >= 500) return new EngineError('backend-failed', `the transcription service failed (${status}); trying again later`, true);
  return new EngineError('backend-refused', `the transcription service refused the file (${status})`, false);
}

/** Any OpenAI-compatible `/v1/audio/transcriptions`: OpenAI itself, speaches, whisper.cpp's server. */
export class OpenAiEngine implements Engine {
  readonly name = 'openai' as const;

  constructor(private readonly settings: OpenAiSettings) {}

  async transcribe(request: TranscribeRequest, options: TranscribeOptions): Promise<Transcript> {
    const form = new FormData();
    form.set('file', await openAsBlob(request.wav, { type: 'audio/wav' }), 'audio.wav');
    form.set('model', request.model ?? this.settings.OPENAI_MODEL);
    form.set('response_format', 'verbose_json');
    form.append('timestamp_granularities[]', 'segment');
    form.append('timestamp_granularities[]', 'word');
    if (request.language) form.set('language', request.language);
    const res = await this.call('/v1/audio/transcriptions', { method: 'POST', body: form }, options.signal, this.settings.OPENAI_TIMEOUT);
    if (!res.ok) {
      await res.body?.cancel();
      throw refusal(res.status);
    }
    const body = VerboseJsonSchema.safeParse(await res.json().catch(() => undefined));
    if (!body.success) throw new EngineError('backend-failed', 'the transcription service answered with something other than verbose_json', true);
    const { text, language, duration, segments, words } = body.data;
    options.onProgress?.(1);
    return { text, language: (language && languageCode(language)) ?? request.language ?? 'und', duration: duration ?? request.durationSec, segments, words };
  }

  /** The server answers with the key: its model list, or at least not a refusal or a failure. */
  async selfTest(signal: AbortSignal): Promise<void> {
    const res = await this.call('/v1/models', {}, signal, 10);
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403 || res.status >= 500) throw new Error(`the transcription service answered ${res.status}`);
  }

  /** Nothing is kept between jobs: each is one request. */
  close(): void {}

  private async call(endpoint: string, init: RequestInit, signal: AbortSignal, timeoutSec: number): Promise<Response> {
    const url = `${this.settings.OPENAI_BASE_URL.replace(/\/+$/, '')}${endpoint}`;
    const key = this.settings.OPENAI_API_KEY;
    const timeout = AbortSignal.timeout(timeoutSec * 1000);
    try {
      return await fetch(url, { ...init, headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.any([signal, timeout]) });
    } catch (err) {
      if (signal.aborted) throw err;
      if (timeout.aborted) throw new EngineError('timeout', `the transcription service did not answer within ${timeoutSec} s`, true, { cause: err });
      const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new EngineError('backend-unreachable', `the transcription service cannot be reached (${reason})`, true, { cause: err });
    }
  }
}
