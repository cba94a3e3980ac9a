import type { Transcript } from '@visp/contracts';
import { normalizeTranscript, renderTranscript } from './formats';

const transcript: Transcript = {
  text: ' Hello there. Mr. <b>Bold</b> --> arrow & co.',
  language: 'en',
  duration: 3725.5,
  segments: [
    { start: 0, end: 1.5, text: ' Hello there.' },
    { start: 3661.001, end: 3662.25, text: ' Mr. <b>Bold</b> --> arrow & co.' },
  ],
};

describe('transcript formats', () => {
  it('writes SRT with numbered cues and comma milliseconds, past the first hour', () => {
    expect(renderTranscript(transcript, 'srt')).toBe('1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:01:01,001 --> 01:01:02,250\nMr. <b>Bold</b> --> arrow & co.\n');
  });

  it('writes WebVTT with its header and the cue text escaped', () => {
    expect(renderTranscript(transcript, 'vtt')).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n01:01:01.001 --> 01:01:02.250\nMr. &lt;b&gt;Bold&lt;/b&gt; --&gt; arrow &amp; co.\n',
    );
  });

  it('writes plain text one segment a line, and JSON as stored', () => {
    expect(renderTranscript(transcript, 'txt')).toBe('Hello there.\nMr. <b>Bold</b> --> arrow & co.\n');
    expect(JSON.parse(renderTranscript(transcript, 'json'))).toEqual(transcript);
  });

  it('puts a backend answer in order: sorted, nothing ending before it starts or after the recording, no empty cues', () => {
    const messy: Transcript = {
      text: ' b a ',
      language: 'en',
      duration: 10,
      segments: [
        { start: 5, end: 4, text: ' b ' },
        { start: 1, end: 2, text: 'a' },
        { start: 2, end: 3, text: '   ' },
        { start: 9, end: 12, text: 'c' },
      ],
      words: [
        { word: ' b', start: 5, end: 5.5 },
        { word: ' a', start: -1, end: 1.5, probability: 0.9 },
      ],
    };
    expect(normalizeTranscript(messy)).toEqual({
      text: 'b a',
      language: 'en',
      duration: 10,
      segments: [
        { start: 1, end: 2, text: 'a' },
        { start: 5, end: 5, text: 'b' },
        { start: 9, end: 10, text: 'c' },
      ],
      words: [
        { word: 'a', start: 0, end: 1.5, probability: 0.9 },
        { word: 'b', start: 5, end: 5.5 },
      ],
    });
  });
});
