import { isEngineReady, silentWav, sniffAudio } from './audio';

const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('sniffAudio', () => {
  it.each([
    ['wav', bytes('RIFF', [0, 0, 0, 0], 'WAVEfmt ')],
    ['aiff', bytes('FORM', [0, 0, 0, 0], 'AIFF')],
    ['ogg', bytes('OggS', [0, 2])],
    ['flac', bytes('fLaC', [0, 0, 0, 34])],
    ['amr', bytes('#!AMR\n')],
    ['mp4', bytes([0, 0, 0, 0x20], 'ftypM4A ')],
    ['webm', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f])],
    ['mp3', bytes('ID3', [4, 0, 0])],
    ['mp3', bytes([0xff, 0xfb, 0x90, 0x64])],
    ['aac', bytes([0xff, 0xf1, 0x50, 0x80])],
  ])('knows %s by its first bytes', (kind, head) => {
    expect(sniffAudio(head)).toBe(kind);
  });

  it.each([
    ['text', bytes('hello, I am a transcript')],
    ['a PNG', bytes([0x89], 'PNG\r\n', [0x1a, 0x0a])],
    ['a ZIP', bytes('PK', [3, 4])],
    ['an AVI (RIFF, not WAVE)', bytes('RIFF', [0, 0, 0, 0], 'AVI LIST')],
    ['nothing', Buffer.alloc(0)],
  ])('refuses %s', (_what, head) => {
    expect(sniffAudio(head)).toBeUndefined();
  });
});

describe('silentWav and isEngineReady', () => {
  it('makes a 16 kHz mono PCM WAV of the asked length, which the engines read as it is', () => {
    const wav = silentWav(1.5);
    expect(wav.length).toBe(44 + 1.5 * 16_000 * 2);
    expect(sniffAudio(wav)).toBe('wav');
    expect(wav.readUInt32LE(40)).toBe(48_000);
    expect(isEngineReady({ codec: 'pcm_s16le', sampleRate: 16_000, channels: 1 })).toBe(true);
    expect(isEngineReady({ codec: 'pcm_s16le', sampleRate: 44_100, channels: 1 })).toBe(false);
    expect(isEngineReady({ codec: 'mp3', sampleRate: 16_000, channels: 1 })).toBe(false);
  });
});
