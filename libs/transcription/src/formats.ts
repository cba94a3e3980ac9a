import type { Transcript, TranscriptFormat } from '@visp/contracts';

/** `HH:MM:SS<sep>mmm`, as SRT (`,`) and WebVTT (`.`) write times. */
function timestamp(seconds: number, separator: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`;
}

/** Cue text on one line; WebVTT also needs its markup characters escaped and no cue arrow inside. */
const cueText = (text: string) => text.trim().replace(/\s*\n\s*/g, ' ');
const vttText = (text: string) => cueText(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const RENDERERS: Record<Exclude<TranscriptFormat, 'json'>, (t: Transcript) => string> = {
  txt: (t) => `${t.segments.map((s) => cueText(s.text)).join('\n')}\n`,
  srt: (t) => t.segments.map((s, i) => `${i + 1}\n${timestamp(s.start, ',')} --> ${timestamp(s.end, ',')}\n${cueText(s.text)}\n`).join('\n'),
  vtt: (t) => `WEBVTT\n\n${t.segments.map((s) => `${timestamp(s.start, '.')} --> ${timestamp(s.end, '.')}\n${vttText(s.text)}\n`).join('\n')}`,
};

export const CONTENT_TYPES: Record<TranscriptFormat, string> = {
  json: 'application/json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
};

export function renderTranscript(transcript: Transcript, format: TranscriptFormat): string {
  return format === 'json' ? JSON.stringify(transcript) : RENDERERS[format](transcript);
}

/**
 * Puts a backend's answer in order: segments and words sorted by start, no end before its start, no time past
 * the recording, text trimmed, empty segments dropped. Subtitles then always run forward.
 */
export function normalizeTranscript(t: Transcript): Transcript {
  const clamp = (x: number) => Math.min(Math.max(0, x), t.duration > 0 ? t.duration : Number.POSITIVE_INFINITY);
  const timed = <T extends { start: number; end: number }>(items: T[]) =>
    items.map((item) => ({ ...item, start: clamp(item.start), end: clamp(Math.max(item.start, item.end)) })).sort((a, b) => a.start - b.start);
  const segments = timed(t.segments.map((s) => ({ ...s, text: s.text.trim() })).filter((s) => s.text !== ''));
  return {
    text: t.text.trim(),
    language: t.language,
    duration: t.duration,
    segments,
    ...(t.words ? { words: timed(t.words.map((w) => ({ ...w, word: w.word.trim() })).filter((w) => w.word !== '')) } : {}),
  };
}
