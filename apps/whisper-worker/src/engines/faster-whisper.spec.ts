import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isRunning, waitFor } from '@visp/testing';
import { FasterWhisperEngine, segmentEnd } from './faster-whisper';

describe('segmentEnd', () => {
  it('reads the end time of the CLI verbose segment lines, with or without hours', () => {
    expect(segmentEnd('[00:00.000 --> 00:07.020]  Mr. John Dashwood had then leisure')).toBeCloseTo(7.02);
    expect(segmentEnd('[59:58.500 --> 01:00:02.250]  across the hour')).toBeCloseTo(3602.25);
    expect(segmentEnd('Detected language \'English\' with probability 1.000000')).toBeUndefined();
    expect(segmentEnd('')).toBeUndefined();
  });
});

/**
 * The pool with a stand-in for the engine's Python: a Node program that speaks warm_whisper.py's protocol, takes
 * `grow` in a job's file name as "hold 150 MB more from now on" and `garble` as "answer in an unknown form".
 * What only the pool decides is tested here; the real engine is faster-whisper.int.spec.ts's.
 */
describe('the engine pool, with a stand-in engine', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visp-pool-'));
  const STAND_IN = `
const held = [];
const say = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
say({ visp: 'ready' });
let partial = '';
process.stdin.setEncoding('utf8').on('data', (chunk) => {
  const lines = (partial + chunk).split('\\n');
  partial = lines.pop();
  for (const line of lines) {
    const { wav } = JSON.parse(line);
    say({ visp: 'started' });
    if (wav.includes('garble')) { process.stdout.write('{"visp": "done", "result": \\n'); continue; }
    if (wav.includes('grow')) held.push(Buffer.alloc(150 * 1024 * 1024, 1));
    say({ visp: 'done', result: { text: String(process.pid), language: 'en', segments: [] } });
  }
});`;
  const settings = { WHISPER_CLI: path.join(dir, 'whisper-ctranslate2'), WHISPER_MODEL_DIR: dir, WHISPER_MODEL: 'tiny.en', WHISPER_BEAM_SIZE: 5, WHISPER_COMPUTE_TYPE: 'int8', WHISPER_THREADS: 0 };
  const job = (wav: string) => ({ wav: path.join(dir, wav), durationSec: 1, workDir: dir });
  const signal = () => new AbortController().signal;
  let engine: FasterWhisperEngine;

  beforeAll(() => {
    writeFileSync(settings.WHISPER_CLI, '#!/bin/sh\n', { mode: 0o755 });
    // Started as `python3 warm_whisper.py <args>`: the stand-in runs its own code and ignores the rest.
    writeFileSync(path.join(dir, 'stand-in.js'), STAND_IN);
    writeFileSync(path.join(dir, 'python3'), `#!/bin/sh\nexec '${process.execPath}' '${path.join(dir, 'stand-in.js')}'\n`, { mode: 0o755 });
  });

  beforeEach(() => {
    engine = new FasterWhisperEngine(settings);
  });

  afterEach(() => engine.close());

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps an engine between jobs, and ends one that has grown past twice its size when ready', async () => {
    const first = (await engine.transcribe(job('a.wav'), { signal: signal() })).text;
    expect((await engine.transcribe(job('b.wav'), { signal: signal() })).text).toBe(first);
    expect((await engine.transcribe(job('grow.wav'), { signal: signal() })).text).toBe(first);
    await waitFor(`engine ${first} ended`, () => !isRunning(Number(first)), 2000, 10);
    expect((await engine.transcribe(job('c.wav'), { signal: signal() })).text).not.toBe(first);
  });

  it('fails a job answered in an unknown form, as retryable, and ends that engine', async () => {
    const first = (await engine.transcribe(job('a.wav'), { signal: signal() })).text;
    await expect(engine.transcribe(job('garble.wav'), { signal: signal() })).rejects.toMatchObject({ code: 'engine-failed', retryable: true, message: 'the Whisper engine answered in an unknown form' });
    await waitFor(`engine ${first} ended`, () => !isRunning(Number(first)), 2000, 10);
    expect((await engine.transcribe(job('b.wav'), { signal: signal() })).text).not.toBe(first);
  });
});
