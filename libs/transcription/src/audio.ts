import { runProcess, lastLine } from './run';

/** Containers recognised by their first bytes; the name a file was uploaded under is never trusted. */
export type AudioContainer = 'wav' | 'mp3' | 'aac' | 'ogg' | 'flac' | 'mp4' | 'webm' | 'aiff' | 'amr';

/** Bytes {@link sniffAudio} needs. */
export const SNIFF_BYTES = 16;

const ascii = (head: Buffer, at: number, text: string) => head.subarray(at, at + text.length).toString('latin1') === text;

/** The audio container whose signature starts `head`, or undefined for anything else (text, images, archives, video). */
export function sniffAudio(head: Buffer): AudioContainer | undefined {
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WAVE')) return 'wav';
  if (ascii(head, 0, 'FORM') && (ascii(head, 8, 'AIFF') || ascii(head, 8, 'AIFC'))) return 'aiff';
  if (ascii(head, 0, 'OggS')) return 'ogg';
  if (ascii(head, 0, 'fLaC')) return 'flac';
  if (ascii(head, 0, '#!AMR')) return 'amr';
  if (ascii(head, 4, 'ftyp')) return 'mp4';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return 'webm';
  if (ascii(head, 0, 'ID3')) return 'mp3';
  // An MPEG audio frame: 11 sync bits, then a layer that is not "reserved". ADTS (AAC) has layer bits 00.
  const [b0 = 0, b1 = 0] = head;
  if (b0 === 0xff && (b1 & 0xe0) === 0xe0) return (b1 & 0x06) === 0 ? 'aac' : 'mp3';
  return undefined;
}

/** Audio that cannot be transcribed, with a reason for its owner; retrying would not help. */
export class InvalidAudioError extends Error {
  override readonly name = 'InvalidAudioError';
  readonly code = 'invalid-audio';
}

export interface AudioProbe {
  durationSec: number;
  codec: string;
  sampleRate: number;
  channels: number;
}

interface FfprobeOutput {
  streams?: Array<{ codec_name?: string; sample_rate?: string; channels?: number }>;
  format?: { duration?: string };
}

/** What ffprobe says of a file's first audio stream; InvalidAudioError for anything without decodable audio. */
export async function probeAudio(file: string, signal?: AbortSignal): Promise<AudioProbe> {
  let stdout = '';
  const args = ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=codec_name,sample_rate,channels:format=duration', '-of', 'json', file];
  const { code, stderr } = await runProcess('ffprobe', args, { signal, onLine: (line) => (stdout += line) });
  if (code !== 0) throw new InvalidAudioError(`the file cannot be read as audio (${lastLine(stderr)})`);
  const output = JSON.parse(stdout || '{}') as FfprobeOutput;
  const stream = output.streams?.[0];
  if (!stream?.codec_name) throw new InvalidAudioError('the file has no audio stream');
  const durationSec = Number(output.format?.duration);
  if (!Number.isFinite(durationSec)) throw new InvalidAudioError('the length of the recording cannot be determined');
  if (durationSec <= 0) throw new InvalidAudioError('the recording is empty (0 seconds)');
  return { durationSec, codec: stream.codec_name, sampleRate: Number(stream.sample_rate ?? 0), channels: stream.channels ?? 0 };
}

/** Whether the engines can read the file as it is: 16 kHz mono 16-bit PCM WAV. */
export const isEngineReady = (audio: Omit<AudioProbe, 'durationSec'>) => audio.codec === 'pcm_s16le' && audio.sampleRate === 16_000 && audio.channels === 1;

/** Converts any audio ffmpeg reads to 16 kHz mono 16-bit PCM WAV; a decoding failure is InvalidAudioError. */
export async function toEngineWav(input: string, output: string, signal?: AbortSignal): Promise<void> {
  const args = ['-nostdin', '-v', 'error', '-y', '-i', input, '-vn', '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', '-f', 'wav', output];
  const { code, stderr } = await runProcess('ffmpeg', args, { signal });
  if (code !== 0) throw new InvalidAudioError(`the audio cannot be decoded (${lastLine(stderr)})`);
}

/** A 16 kHz mono 16-bit PCM WAV of silence (self-tests, and the 0-second file of the fault tests). */
export function silentWav(seconds: number): Buffer {
  const dataBytes = Math.round(seconds * 16_000) * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(16_000, 24);
  header.writeUInt32LE(32_000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([header, Buffer.alloc(dataBytes)]);
}
