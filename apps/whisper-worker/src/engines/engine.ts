import type { Transcript, TranscriptionBackend } from '@visp/contracts';

export interface TranscribeRequest {
  /** 16 kHz mono PCM WAV. */
  wav: string;
  durationSec: number;
  /** A Whisper language code; undefined: detect. */
  language?: string;
  /** The uploader's model hint. */
  model?: string;
  /** A directory of the job's own for scratch files. */
  workDir: string;
}

export interface TranscribeOptions {
  /** Aborting stops the engine at once. */
  signal: AbortSignal;
  /** 0 to 1, as the engine goes. */
  onProgress?: (progress: number) => void;
}

/** One way to turn audio into a transcript. */
export interface Engine {
  readonly name: TranscriptionBackend;
  transcribe(request: TranscribeRequest, options: TranscribeOptions): Promise<Transcript>;
  /** Resolves when the engine can work: its program runs and its model loads, or its server answers. */
  selfTest(signal: AbortSignal): Promise<void>;
  /** Ends what the engine keeps running between jobs (processes, connections); called once its jobs have stopped. */
  close(): void;
}

/**
 * A failure with a stable code and a message for the job's owner. `retryable` says whether another attempt
 * could succeed (a server error or timeout) or not (a refused key, a file the server will never take).
 */
export class EngineError extends Error {
  override readonly name = 'EngineError';

  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
