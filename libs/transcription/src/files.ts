import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TranscriptionIdSchema, TranscriptSchema, type Transcript, type TranscriptionId } from '@visp/contracts';

/**
 * Where a transcription's files are: `<root>/<id>/`, named by the system only (the id is checked to be hex, so no
 * user input ever becomes part of a path). The gateway writes `upload`; the worker `result.json`.
 */
export class TranscriptionFiles {
  constructor(readonly root: string) {}

  dir(id: TranscriptionId): string {
    return path.join(this.root, TranscriptionIdSchema.parse(id));
  }

  upload(id: TranscriptionId): string {
    return path.join(this.dir(id), 'upload');
  }

  /** The converted audio, while a worker needs it. */
  engineWav(id: TranscriptionId): string {
    return path.join(this.dir(id), 'audio.wav');
  }

  result(id: TranscriptionId): string {
    return path.join(this.dir(id), 'result.json');
  }

  /** Makes the data dir when it is missing (a fresh host): each upload's room is measured on its file system first. */
  async ensureRoot(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  async prepare(id: TranscriptionId): Promise<void> {
    await mkdir(this.dir(id), { recursive: true, mode: 0o700 });
  }

  /** Writes the result whole or not at all: a reader never sees half a file. */
  async writeResult(id: TranscriptionId, json: string): Promise<void> {
    const partial = `${this.result(id)}.partial`;
    await writeFile(partial, json, { mode: 0o600 });
    await rename(partial, this.result(id));
  }

  /**
   * The transcript in `result.json`, or undefined when there is none, or what is there is not a transcript (the
   * write is atomic, so that is damage, not a write in progress). The one reader of results: the worker keeps an
   * earlier attempt's instead of running the engine again, the gateway serves it as a download.
   */
  async readResult(id: TranscriptionId): Promise<Transcript | undefined> {
    const text = await readFile(this.result(id), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (text === undefined) return undefined;
    const parsed = TranscriptSchema.safeParse(safeJson(text));
    return parsed.success ? parsed.data : undefined;
  }

  async remove(id: TranscriptionId): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
