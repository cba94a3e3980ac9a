import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { AppError } from '@visp/service-kit';
import { InvalidAudioError, probeAudio, sniffAudio, SNIFF_BYTES, type AudioProbe } from '@visp/transcription';

export interface UploadLimits {
  maxBytes: number;
  /** What a refusal for size says, when `maxBytes` is less than the size limit (a quota or the disk). */
  tooLarge?: string;
  maxSeconds: number;
}

export interface Upload {
  /** The name the client gave, for display only; never part of a path. */
  filename: string;
  sizeBytes: number;
  audio: AudioProbe;
  fields: Record<string, string>;
}

/** Form fields are short words; anything else is refused before it is read. */
const FIELD_LIMITS = { fields: 10, fieldSize: 256, files: 1, parts: 12 };

/**
 * Reads a multipart upload: one file (field `file`) streamed to `destination` under a size limit, plus short form
 * fields. Then checks what it is from its content, not its name: an audio container's signature first, then
 * ffprobe for a decodable audio stream and its length. Any refusal is a 4xx AppError; the caller removes the file.
 */
export async function receiveUpload(req: IncomingMessage, destination: string, limits: UploadLimits): Promise<Upload> {
  if (!req.headers['content-type']?.startsWith('multipart/form-data')) throw new AppError('unsupported_media_type', 'send the recording as multipart/form-data with a "file" field');
  const { filename, sizeBytes, fields } = await readForm(req, destination, limits.maxBytes, limits.tooLarge);
  if (sizeBytes === 0) throw new AppError('unprocessable', 'the file is empty');
  return { filename, sizeBytes, audio: await checkAudio(destination, limits.maxSeconds), fields };
}

/**
 * What a stored recording is, from its content alone: an audio container's signature, then ffprobe for a decodable
 * audio stream no longer than `maxSeconds`. Any refusal is a 4xx AppError. Uploads and projects' bundles alike.
 */
export async function checkAudio(destination: string, maxSeconds: number): Promise<AudioProbe> {
  const head = Buffer.alloc(SNIFF_BYTES);
  const handle = await open(destination, 'r');
  try {
    await handle.read(head, 0, SNIFF_BYTES, 0);
  } finally {
    await handle.close();
  }
  if (!sniffAudio(head)) throw new AppError('unsupported_media_type', 'the file is not audio this service knows (WAV, MP3, AAC, Ogg, FLAC, MP4/M4A, WebM, AIFF, AMR), whatever its name');
  let audio: AudioProbe;
  try {
    audio = await probeAudio(destination);
  } catch (err) {
    if (err instanceof InvalidAudioError) throw new AppError('unprocessable', err.message);
    throw err;
  }
  if (audio.durationSec > maxSeconds) throw new AppError('unprocessable', `the recording is ${Math.round(audio.durationSec)} s long; at most ${maxSeconds} s are accepted`);
  return audio;
}

function readForm(req: IncomingMessage, destination: string, maxBytes: number, tooLarge?: string): Promise<Omit<Upload, 'audio'>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { ...FIELD_LIMITS, fileSize: maxBytes } });
    } catch {
      return reject(new AppError('bad_request', 'the multipart body has no boundary'));
    }
    const fields: Record<string, string> = {};
    let file: Promise<{ filename: string; sizeBytes: number }> | undefined;
    let settled = false;
    /** Answers at once and drains the rest of the body unread (the caller removes whatever was written). */
    const refuse = (err: AppError) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      req.resume();
      file?.catch(() => undefined);
      reject(err);
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated || info.nameTruncated) return refuse(new AppError('validation_failed', `form field ${name.slice(0, 32)} is too long`));
      fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || file) {
        stream.resume();
        return refuse(new AppError('validation_failed', 'send exactly one file, in the field "file"'));
      }
      let sizeBytes = 0;
      stream.on('data', (chunk: Buffer) => (sizeBytes += chunk.length));
      stream.on('limit', () => refuse(new AppError('payload_too_large', tooLarge ?? `the file is larger than ${Math.floor(maxBytes / 1024 / 1024)} MiB`)));
      file = pipeline(stream, createWriteStream(destination, { mode: 0o600 })).then(() => ({ filename: info.filename || 'recording', sizeBytes }));
    });
    for (const limit of ['filesLimit', 'fieldsLimit', 'partsLimit'] as const) parser.on(limit, () => refuse(new AppError('validation_failed', 'too many parts in the form')));
    parser.on('error', () => refuse(new AppError('bad_request', 'the multipart body is malformed')));
    parser.on('close', () => {
      if (!file) return refuse(new AppError('validation_failed', 'the form has no file: send the recording in the field "file"'));
      file.then(
        (f) => {
          if (settled) return;
          settled = true;
          resolve({ ...f, fields });
        },
        () => refuse(new AppError('internal', 'the upload could not be stored')),
      );
    });
    req.on('aborted', () => refuse(new AppError('bad_request', 'the upload was interrupted')));
    req.pipe(parser);
  });
}
