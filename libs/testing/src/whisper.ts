import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The offline engine the test runner set up (tools/setup/python-venv.sh). */
export function testWhisper(): { WHISPER_CLI: string; WHISPER_MODEL_DIR: string } {
  const { WHISPER_CLI, WHISPER_MODEL_DIR } = process.env;
  if (!WHISPER_CLI || !WHISPER_MODEL_DIR) throw new Error('WHISPER_CLI and WHISPER_MODEL_DIR are not set: run the tests with `npm test`');
  return { WHISPER_CLI, WHISPER_MODEL_DIR };
}

/** Debian's pocketsphinx-testdata: five LibriVox clips (16 kHz mono WAV) with reference transcripts. */
export const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';

export interface Clip {
  id: string;
  wav: string;
  reference: string;
}

/** The clips, from the package's `transcription` file: `<s> words </s> (clip-id)` per line. */
export function librivoxClips(): Clip[] {
  return readFileSync(path.join(LIBRIVOX, 'transcription'), 'utf8')
    .split('\n')
    .flatMap((line) => {
      const match = /^(.*)\(([^)]+)\)\s*$/.exec(line.trim());
      return match ? [{ id: match[2] as string, wav: path.join(LIBRIVOX, `${match[2]}.wav`), reference: match[1] as string }] : [];
    });
}

/**
 * The normalization both sides get before words are compared (stated so results can be reproduced): lower case;
 * the `<s>`/`</s>` markers dropped; hyphens become spaces; punctuation other than a word-internal apostrophe
 * removed; `mr` becomes `mister` (the references spell it out).
 */
export function normalizeForWer(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/<\/?s>/g, ' ')
    .replace(/-/g, ' ')
    .replace(/[^\p{L}\p{N}'\s]/gu, ' ')
    .replace(/(^|\s)'|'(?=\s|$)/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => (word === 'mr' ? 'mister' : word));
}

/** Word edit distance (substitutions, insertions, deletions). */
function editDistance(reference: readonly string[], hypothesis: readonly string[]): number {
  let previous = Array.from({ length: hypothesis.length + 1 }, (_, j) => j);
  for (let i = 1; i <= reference.length; i++) {
    const current = [i];
    for (let j = 1; j <= hypothesis.length; j++) {
      const substitution = (previous[j - 1] as number) + (reference[i - 1] === hypothesis[j - 1] ? 0 : 1);
      current[j] = Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1);
    }
    previous = current;
  }
  return previous[hypothesis.length] as number;
}

/** Corpus word error rate: all edits over all reference words, each pair normalized by {@link normalizeForWer}. */
export function wordErrorRate(pairs: ReadonlyArray<{ reference: string; hypothesis: string }>): number {
  let edits = 0;
  let words = 0;
  for (const { reference, hypothesis } of pairs) {
    const ref = normalizeForWer(reference);
    edits += editDistance(ref, normalizeForWer(hypothesis));
    words += ref.length;
  }
  return words === 0 ? 0 : edits / words;
}
