import { ModelNameSchema } from './transcriptions';
import { TranscriptionOriginSchema, VispTranscribeFieldsSchema } from './visp-transcriptions';

describe("VISP's transcription queue shapes", () => {
  it('reads transcribe as its client sends it, a numeric project id as a string', () => {
    expect(VispTranscribeFieldsSchema.parse({ project: 7, session: 'Session 1', bundle: 'talk.wav', language: 'Automatic Detection', model: 'kb-whisper' })).toEqual({ project: '7', session: 'Session 1', bundle: 'talk.wav', language: 'Automatic Detection', model: 'kb-whisper' });
    expect(VispTranscribeFieldsSchema.safeParse({ project: 'p1', session: '', bundle: 'talk.wav' }).success).toBe(false);
  });

  it('stores an origin only with a project id that is one path segment', () => {
    expect(TranscriptionOriginSchema.safeParse({ project: 'p1', session: 'S', bundle: 'b.wav' }).success).toBe(true);
    expect(TranscriptionOriginSchema.safeParse({ project: '../p1', session: 'S', bundle: 'b.wav' }).success).toBe(false);
  });

  it('takes model names as engines spell them, and a Hugging Face owner/name, never a path', () => {
    for (const good of ['tiny.en', 'large-v3', 'whisper-1', 'KBLab/kb-whisper-large', 'Systran/faster-whisper-small']) expect([good, ModelNameSchema.safeParse(good).success]).toEqual([good, true]);
    for (const bad of ['', '../x', '/abs', 'a/', 'a/b/c', 'a/../b', '.hidden', 'a b', 'x'.repeat(65)]) expect([bad, ModelNameSchema.safeParse(bad).success]).toEqual([bad, false]);
  });
});
