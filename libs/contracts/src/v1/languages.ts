import { z } from 'zod';

/** Whisper's languages, code → name (as whisper-ctranslate2 and OpenAI's Whisper name them). */
export const WHISPER_LANGUAGES: Readonly<Record<string, string>> = {
  en: 'english', zh: 'chinese', de: 'german', es: 'spanish', ru: 'russian', ko: 'korean', fr: 'french',
  ja: 'japanese', pt: 'portuguese', tr: 'turkish', pl: 'polish', ca: 'catalan', nl: 'dutch', ar: 'arabic',
  sv: 'swedish', it: 'italian', id: 'indonesian', hi: 'hindi', fi: 'finnish', vi: 'vietnamese', he: 'hebrew',
  uk: 'ukrainian', el: 'greek', ms: 'malay', cs: 'czech', ro: 'romanian', da: 'danish', hu: 'hungarian', ta: 'tamil',
  no: 'norwegian', th: 'thai', ur: 'urdu', hr: 'croatian', bg: 'bulgarian', lt: 'lithuanian', la: 'latin',
  mi: 'maori', ml: 'malayalam', cy: 'welsh', sk: 'slovak', te: 'telugu', fa: 'persian', lv: 'latvian', bn: 'bengali',
  sr: 'serbian', az: 'azerbaijani', sl: 'slovenian', kn: 'kannada', et: 'estonian', mk: 'macedonian', br: 'breton',
  eu: 'basque', is: 'icelandic', hy: 'armenian', ne: 'nepali', mn: 'mongolian', bs: 'bosnian', kk: 'kazakh',
  sq: 'albanian', sw: 'swahili', gl: 'galician', mr: 'marathi', pa: 'punjabi', si: 'sinhala', km: 'khmer',
  sn: 'shona', yo: 'yoruba', so: 'somali', af: 'afrikaans', oc: 'occitan', ka: 'georgian', be: 'belarusian',
  tg: 'tajik', sd: 'sindhi', gu: 'gujarati', am: 'amharic', yi: 'yiddish', lo: 'lao', uz: 'uzbek', fo: 'faroese',
  ht: 'haitian creole', ps: 'pashto', tk: 'turkmen', nn: 'nynorsk', mt: 'maltese', sa: 'sanskrit',
  lb: 'luxembourgish', my: 'myanmar', bo: 'tibetan', tl: 'tagalog', mg: 'malagasy', as: 'assamese', tt: 'tatar',
  haw: 'hawaiian', ln: 'lingala', ha: 'hausa', ba: 'bashkir', jw: 'javanese', su: 'sundanese', yue: 'cantonese',
};

/** Other names Whisper accepts for some of them. */
const ALIASES: Readonly<Record<string, string>> = {
  burmese: 'my', valencian: 'ca', flemish: 'nl', haitian: 'ht', letzeburgesch: 'lb', pushto: 'ps', panjabi: 'pa',
  moldavian: 'ro', moldovan: 'ro', sinhalese: 'si', castilian: 'es', mandarin: 'zh',
};

const CODE_BY_NAME = new Map<string, string>([...Object.entries(WHISPER_LANGUAGES).map(([code, name]) => [name, code] as [string, string]), ...Object.entries(ALIASES)]);

/** The Whisper code for a code or a name in any case (VISP's webclient sends "English"); undefined when unknown. */
export function languageCode(given: string): string | undefined {
  const key = given.trim().toLowerCase();
  // Own keys only: `in` also finds what every object inherits, so "constructor" passed as a language code.
  return Object.hasOwn(WHISPER_LANGUAGES, key) ? key : CODE_BY_NAME.get(key);
}

/** A language by code or name, as its code; "auto" (or nothing) lets the engine detect it. */
export const LanguageSchema = z
  .string()
  .max(32)
  .transform((given, ctx) => {
    if (given.trim().toLowerCase() === 'auto') return undefined;
    const code = languageCode(given);
    if (!code) ctx.addIssue({ code: 'custom', message: `unknown language "${given.slice(0, 32)}": give a Whisper language code (en, sv, …) or its name` });
    return code;
  });
