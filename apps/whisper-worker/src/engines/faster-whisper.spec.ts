import { segmentEnd } from './faster-whisper';

describe('segmentEnd', () => {
  it('reads the end time of the CLI verbose segment lines, with or without hours', () => {
    expect(segmentEnd('[00:00.000 --> 00:07.020]  Mr. John Dashwood had then leisure')).toBeCloseTo(7.02);
    expect(segmentEnd('[59:58.500 --> 01:00:02.250]  across the hour')).toBeCloseTo(3602.25);
    expect(segmentEnd('Detected language \'English\' with probability 1.000000')).toBeUndefined();
    expect(segmentEnd('')).toBeUndefined();
  });
});
