import { CreateTranscriptionFieldsSchema } from './transcriptions';
import { languageCode, LanguageSchema } from './languages';

describe('languages', () => {
  it('takes a Whisper code or a name in any case, as VISP sends it', () => {
    expect(['en', 'English', 'ENGLISH', ' swedish ', 'sv', 'Mandarin', 'yue'].map(languageCode)).toEqual(['en', 'en', 'en', 'sv', 'sv', 'zh', 'yue']);
    expect(languageCode('klingon')).toBeUndefined();
    // What every object inherits is not a language.
    expect(['constructor', 'toString', '__proto__', 'hasOwnProperty'].map(languageCode)).toEqual([undefined, undefined, undefined, undefined]);
    expect(LanguageSchema.parse('auto')).toBeUndefined();
    expect(LanguageSchema.safeParse('klingon').error?.issues[0]?.message).toMatch(/unknown language "klingon"/);
  });

  it('reads the upload form: VISP\'s model "whisper" means the default, other names are hints', () => {
    expect(CreateTranscriptionFieldsSchema.parse({ language: 'English', model: 'whisper' })).toEqual({ language: 'en', model: undefined });
    expect(CreateTranscriptionFieldsSchema.parse({ model: 'large-v3', backend: 'openai' })).toEqual({ model: 'large-v3', backend: 'openai' });
    expect(CreateTranscriptionFieldsSchema.safeParse({ model: '../etc' }).success).toBe(false);
    expect(CreateTranscriptionFieldsSchema.safeParse({ path: '/etc/passwd' }).success).toBe(false);
  });
});
