// The faster-whisper engine with the real engine and model: kept warm between jobs, it gives the CLI's own
// transcript; an abort, a crash or an engine's death while idle never reaches the next job.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { childProcesses, isRunning, librivoxClips, testWhisper, waitFor } from '@visp/testing';
import type { TranscribeRequest } from './engine';
import { FasterWhisperEngine, type FasterWhisperSettings } from './faster-whisper';
import { EngineGone } from './warm-whisper';

const settings: FasterWhisperSettings = { ...testWhisper(), WHISPER_MODEL: 'tiny.en', WHISPER_BEAM_SIZE: 5, WHISPER_COMPUTE_TYPE: 'int8', WHISPER_THREADS: 0 };

/** A signal nobody aborts. */
const open = () => new AbortController().signal;

/** This process's warm engines (setpriv execs the program: the engine is our child). */
const engines = () => childProcesses(process.pid).filter((p) => p.cmdline.includes('warm_whisper.py')).map((p) => p.pid);

describe('the faster-whisper engine', () => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'visp-engine-'));
  const [first, second] = librivoxClips();
  if (!first || !second) throw new Error('the LibriVox clips are missing');
  const job = (wav: string): TranscribeRequest => ({ wav, durationSec: 5, workDir });
  let engine: FasterWhisperEngine;

  beforeEach(() => {
    engine = new FasterWhisperEngine(settings);
  });

  afterEach(async () => {
    engine.close();
    await waitFor('the engines to end', () => engines().length === 0, 2000, 10);
  });

  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('keeps its engine warm between jobs and gives what the CLI writes for the same clip', async () => {
    await engine.transcribe(job(second.wav), { signal: open() });
    const [pid] = engines();
    // The second job on the same engine: what a warm engine gives must not depend on what it did before.
    const progress: number[] = [];
    const warm = await engine.transcribe(job(first.wav), { signal: open(), onProgress: (p) => progress.push(p) });
    expect(engines()).toEqual([pid]);
    expect(progress.length).toBeGreaterThan(0);

    // The CLI, run once on the first clip with the same options.
    const args = ['--model', 'tiny.en', '--model_directory', settings.WHISPER_MODEL_DIR, '--local_files_only', 'True', '--device', 'cpu', '--compute_type', 'int8', '--beam_size', '5'];
    await promisify(execFile)(settings.WHISPER_CLI, [first.wav, ...args, '--word_timestamps', 'True', '--output_format', 'json', '--output_dir', workDir], { env: { ...process.env, HF_HUB_OFFLINE: '1' } });
    const cli = JSON.parse(readFileSync(path.join(workDir, `${path.basename(first.wav, '.wav')}.json`), 'utf8')) as { text: string; segments: Array<{ start: number; end: number; words: unknown[] }> };
    expect(warm.text).toBe(cli.text);
    expect(warm.segments.map((s) => [s.start, s.end])).toEqual(cli.segments.map((s) => [s.start, s.end]));
    expect(warm.words).toEqual(cli.segments.flatMap((s) => s.words));
  });

  it('kills the engine of an aborted job at once, and the next job gets a new one', async () => {
    await engine.selfTest(AbortSignal.timeout(60_000));
    const [pid = 0] = engines();
    const controller = new AbortController();
    const running = engine.transcribe(job(first.wav), { signal: controller.signal, onProgress: () => controller.abort(new Error('cancelled')) });
    await expect(running).rejects.toThrow('cancelled');
    await waitFor('the aborted engine to end', () => !isRunning(pid), 1000, 10);
    const next = await engine.transcribe(job(second.wav), { signal: open() });
    expect(next.text).not.toBe('');
    expect(engines()).not.toContain(pid);
  });

  it('keeps serving after a job the engine fails, and fails a job whose engine dies as retryable', async () => {
    await engine.selfTest(AbortSignal.timeout(60_000));
    const [pid = 0] = engines();
    const failed = engine.transcribe(job(path.join(workDir, 'missing.wav')), { signal: open() });
    await expect(failed).rejects.toMatchObject({ code: 'engine-failed', retryable: true, message: expect.stringMatching(/No such file/) });
    await expect(engine.transcribe(job(first.wav), { signal: open() })).resolves.toMatchObject({ language: 'en' });
    expect(engines()).toEqual([pid]);

    // Killed once it has begun (a first segment of a recording longer than Whisper's 30 s window, so that the
    // second window is still to come): the job fails as retryable and goes to no other engine.
    const long = path.join(workDir, 'long.wav');
    const clips = librivoxClips().map((clip) => clip.wav);
    const inputs = [...clips, ...clips].flatMap((wav) => ['-i', wav]);
    await promisify(execFile)('ffmpeg', ['-loglevel', 'error', ...inputs, '-filter_complex', `concat=n=${clips.length * 2}:v=0:a=1`, '-ar', '16000', '-ac', '1', long]);
    let killed = false;
    const kill = () => void (killed ||= process.kill(pid, 'SIGKILL'));
    const dying = engine.transcribe({ ...job(long), durationSec: 50 }, { signal: open(), onProgress: kill });
    await expect(dying).rejects.toMatchObject({ code: 'engine-failed', retryable: true, message: expect.stringMatching(/stopped: it exited \(SIGKILL\)/) });
    await expect(dying).rejects.not.toEqual(expect.any(EngineGone));
    expect(engines()).toEqual([]);
  });

  it('gives the job of an engine that died while idle, unseen yet, to a new one, and ends every engine on close', async () => {
    await engine.selfTest(AbortSignal.timeout(60_000));
    const [pid = 0] = engines();
    // Killed, and the job handed over before this process can see the exit (no I/O between the two).
    process.kill(pid, 'SIGKILL');
    await expect(engine.transcribe(job(first.wav), { signal: open() })).resolves.toMatchObject({ language: 'en' });
    const [replacement = 0] = engines();
    expect(replacement).not.toBe(pid);
    engine.close();
    await waitFor('the engines to end on close', () => !isRunning(replacement), 1000, 10);
  });
});
