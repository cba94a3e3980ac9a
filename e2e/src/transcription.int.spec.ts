// Transcription through the gateway only, with the real offline Whisper engine in a real whisper-worker: the
// LibriVox clips against their reference transcripts, the result formats, progress over the webclient socket,
// cancellation that kills the engine, and every kind of bad upload refused with nothing left behind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FINISHED_TRANSCRIPTION_STATES, type Transcript, type TranscriptionView } from '@visp/contracts';
import { childProcesses, isRunning, librivoxClips, testWhisper, waitFor, wordErrorRate } from '@visp/testing';
import { silentWav } from '@visp/transcription';
import { useGatewayStack, type Auth } from './gateway-stack';
import type { Launched } from './launch';
import { WebclientClient } from './webclient-client';

const GW_PORT = 18580;
const LIMITED_GW_PORT = 18581;
const WORKER_PORT = 18540;
const stack = useGatewayStack({ sessionManager: 18520, gateway: GW_PORT }, 'transcribe');
const clips = librivoxClips();
const scratch = mkdtempSync(path.join(tmpdir(), 'visp-e2e-audio-'));
const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args]);
/** 57 s: the first clip eight times over (1.8 MB), and the same as a small MP3 (about 230 kB). */
const LONG_WAV = path.join(scratch, 'long.wav');
const LONG_MP3 = path.join(scratch, 'long.mp3');
/**
 * 3.8 minutes: the first clip 32 times over (7 MB). A warm engine takes some 25 s, and its first progress (after
 * Whisper's first 30 s window) comes with most of it still to do: a cancel then finds the engine at work.
 */
const LONGER_WAV = path.join(scratch, 'longer.wav');

/** Uploads bytes as the multipart field `file`, with form fields. */
async function upload(auth: Auth, bytes: Buffer, filename: string, fields: Record<string, string> = {}, port = GW_PORT): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  form.set('file', new Blob([bytes]), filename);
  return fetch(`http://127.0.0.1:${port}/api/v1/transcriptions`, { method: 'POST', headers: { origin: `http://127.0.0.1:${port}`, ...auth }, body: form });
}

async function finished(auth: Auth, id: string, timeoutMs = 120_000): Promise<TranscriptionView> {
  return waitFor(
    `transcription ${id} to finish`,
    async () => {
      const view = (await (await stack.api(`/api/v1/transcriptions/${id}`, auth)).json()) as TranscriptionView;
      return FINISHED_TRANSCRIPTION_STATES.includes(view.state) && view;
    },
    timeoutMs,
  );
}

const result = async (auth: Auth, id: string, format: string) => {
  const res = await stack.api(`/api/v1/transcriptions/${id}/result?format=${format}`, auth);
  expect(res.status).toBe(200);
  return res.text();
};

/** Cue times of an SRT or WebVTT document, in seconds, in document order. */
function cueTimes(doc: string): Array<[number, number]> {
  const seconds = (t: string) => t.split(/[:.,]/).map(Number).reduce((acc, part, i) => (i < 3 ? acc * 60 + part : acc + part / 1000), 0);
  return [...doc.matchAll(/^(\d\d:\d\d:\d\d[.,]\d{3}) --> (\d\d:\d\d:\d\d[.,]\d{3})$/gm)].map((m) => [seconds(m[1] as string), seconds(m[2] as string)]);
}

/** The worker's warm engines (apps/whisper-worker/src/engines/warm-whisper.ts), its children. */
function enginesOf(worker: Launched): number[] {
  return childProcesses(worker.child.pid ?? 0)
    .filter((p) => p.cmdline.includes('warm_whisper.py'))
    .map((p) => p.pid);
}

describe('transcription through the gateway', () => {
  let alice: Auth;
  let bob: Auth;
  let worker: Launched;

  beforeAll(async () => {
    ffmpeg('-stream_loop', '7', '-i', clips[0]!.wav, '-c', 'copy', LONG_WAV);
    ffmpeg('-i', LONG_WAV, '-b:a', '32k', LONG_MP3);
    ffmpeg('-stream_loop', '31', '-i', clips[0]!.wav, '-c', 'copy', LONGER_WAV);
    worker = await stack.startWorker(WORKER_PORT, { WORKER_CONCURRENCY: '1' });
    alice = await stack.signIn('alice');
    bob = await stack.signIn('bob');
  }, 90_000);

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('transcribes the five LibriVox clips with the word error rate of the engine run directly, at most 10 %', async () => {
    // Progress of one job, over the webclient socket, to its owner only.
    const socket = await WebclientClient.open(GW_PORT, alice);
    const bystander = await WebclientClient.open(GW_PORT, bob);
    const views: TranscriptionView[] = [];
    for (const clip of clips) {
      const res = await upload(alice, readFileSync(clip.wav), `${clip.id}.wav`, { language: 'English', model: 'whisper' });
      expect(res.status).toBe(202);
      views.push((await res.json()) as TranscriptionView);
    }
    expect(views.map((v) => v.state)).toEqual(clips.map(() => 'queued'));
    expect(views[0]).toMatchObject({ language: 'en', backend: 'faster-whisper', durationSec: expect.closeTo(7.1, 1) });
    const last = views.at(-1)!;
    socket.send({ cmd: 'followTranscription', requestId: 'f1', data: { id: last.id } });
    expect(await socket.final('f1', 120_000)).toMatchObject({ progress: 'end', result: true, message: 'completed' });
    expect(socket.eventsAbout(last.id).map((e) => e.state)).toContain('completed');
    expect(bystander.eventsAbout(last.id)).toEqual([]);
    socket.close();
    bystander.close();

    const hypotheses: string[] = [];
    for (const view of views) {
      const done = await finished(alice, view.id);
      expect(done).toMatchObject({ state: 'completed', progress: 1, attempts: 1 });
      const json = JSON.parse(await result(alice, view.id, 'json')) as Transcript;
      expect(json.segments.length).toBeGreaterThan(0);
      expect(json.words?.length).toBeGreaterThan(3);
      hypotheses.push(json.text);

      for (const format of ['srt', 'vtt'] as const) {
        const doc = await result(alice, view.id, format);
        const times = cueTimes(doc);
        expect(times.length).toBe(json.segments.length);
        // Every cue runs forward, and each starts no earlier than the one before.
        times.forEach(([start, end], i) => {
          expect(end).toBeGreaterThanOrEqual(start);
          if (i > 0) expect(start).toBeGreaterThanOrEqual(times[i - 1]![0]);
        });
        if (format === 'vtt') expect(doc.startsWith('WEBVTT\n\n')).toBe(true);
        else expect(doc).toMatch(/^1\n\d\d:\d\d:\d\d,\d{3} --> /);
      }
      expect((await result(alice, view.id, 'txt')).trim()).toBe(json.segments.map((s) => s.text).join('\n'));
    }

    // The engine on its own, with the worker's settings, on the same files.
    const { WHISPER_CLI, WHISPER_MODEL_DIR } = testWhisper();
    const out = path.join(scratch, 'direct');
    execFileSync(
      WHISPER_CLI,
      [...clips.map((c) => c.wav), '--model', 'tiny.en', '--model_directory', WHISPER_MODEL_DIR, '--local_files_only', 'True', '--device', 'cpu', '--compute_type', 'int8', '--beam_size', '5', '--language', 'en', '--word_timestamps', 'True', '--output_format', 'json', '--output_dir', out],
      { env: { ...process.env, HF_HUB_OFFLINE: '1' }, stdio: 'ignore' },
    );
    const direct = clips.map((c) => (JSON.parse(readFileSync(path.join(out, `${c.id}.json`), 'utf8')) as { text: string }).text);

    const throughGateway = wordErrorRate(clips.map((c, i) => ({ reference: c.reference, hypothesis: hypotheses[i]! })));
    const engineAlone = wordErrorRate(clips.map((c, i) => ({ reference: c.reference, hypothesis: direct[i]! })));
    // The measurement itself is worth seeing in the test output, not only that it passed.
    // eslint-disable-next-line no-console
    console.log(`word error rate on the LibriVox clips: ${(throughGateway * 100).toFixed(1)} % through the gateway, ${(engineAlone * 100).toFixed(1)} % engine alone`);
    expect(throughGateway).toBeLessThanOrEqual(0.1);
    expect(throughGateway).toBe(engineAlone);
  }, 300_000);

  it('converts audio the engine cannot read as it is (MP3) and lists only the owner’s jobs', async () => {
    const mp3 = path.join(scratch, 'clip.mp3');
    ffmpeg('-i', clips[1]!.wav, '-ar', '44100', '-ac', '2', mp3);
    // The name says WAV; the content decides.
    const res = await upload(bob, readFileSync(mp3), 'recording.wav');
    expect(res.status).toBe(202);
    const view = (await res.json()) as TranscriptionView;
    expect(await finished(bob, view.id)).toMatchObject({ state: 'completed', language: 'en' });
    expect(await result(bob, view.id, 'txt')).toMatch(/young man/i);

    const listed = (await (await stack.api('/api/v1/transcriptions', bob)).json()) as { transcriptions: TranscriptionView[] };
    expect(listed.transcriptions.map((t) => t.id)).toEqual([view.id]);
    // Someone else's job is not there for alice: 404 everywhere, and nothing changes.
    for (const [method, suffix] of [['GET', ''], ['GET', '/result'], ['DELETE', '']] as const) {
      expect((await stack.api(`/api/v1/transcriptions/${view.id}${suffix}`, alice, { method })).status).toBe(404);
    }
    expect(await finished(bob, view.id)).toMatchObject({ state: 'completed' });
  }, 120_000);

  it('cancels a running job: the engine process is gone within a second and the job never completes', async () => {
    const view = (await (await upload(alice, readFileSync(LONGER_WAV), 'longer.wav')).json()) as TranscriptionView;
    // The engine is on the job once it reports progress; with one job at a time, it is the worker's only engine.
    await waitFor('the engine to report progress', async () => ((await (await stack.api(`/api/v1/transcriptions/${view.id}`, alice)).json()) as TranscriptionView).progress > 0, 30_000);
    const [engine = 0, ...others] = enginesOf(worker);
    expect(others).toEqual([]);

    const res = await stack.api(`/api/v1/transcriptions/${view.id}`, alice, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'cancelled' });
    await waitFor('the engine to be gone', () => !isRunning(engine), 1000);

    // Cancelling again is a conflict; the job stays cancelled and has no result.
    expect((await stack.api(`/api/v1/transcriptions/${view.id}`, alice, { method: 'DELETE' })).status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await finished(alice, view.id)).toMatchObject({ state: 'cancelled' });
    expect((await stack.api(`/api/v1/transcriptions/${view.id}/result`, alice)).status).toBe(409);

    // The worker goes on with the next job.
    const next = (await (await upload(alice, readFileSync(clips[4]!.wav), 'next.wav')).json()) as TranscriptionView;
    expect(await finished(alice, next.id)).toMatchObject({ state: 'completed' });
  }, 120_000);

  it('refuses every bad upload with a clear 4xx and keeps nothing of it', async () => {
    await stack.startGateway(LIMITED_GW_PORT, { TRANSCRIPTION_MAX_MIB: '1', TRANSCRIPTION_MAX_SECONDS: '20', TRANSCRIPTION_MAX_PENDING: '1', LOGIN_RATE_LIMIT: '1000' });
    const carol = await stack.signIn('carol');
    const before = readdirSync(stack.dataDir).length;
    const wav = readFileSync(clips[0]!.wav);
    const corrupt = Buffer.concat([wav.subarray(0, 12), Buffer.from('fmt \u0010\u0000\u0000\u0000garbage-garbage-garbage'), Buffer.alloc(4096, 0x5a)]);
    const cases: Array<[string, () => Promise<Response>, number, RegExp]> = [
      ['an empty file', () => upload(carol, Buffer.alloc(0), 'empty.wav'), 422, /empty/],
      ['a 0-second WAV', () => upload(carol, silentWav(0), 'zero.wav'), 422, /0 seconds|no audio|cannot/],
      ['text named .wav', () => upload(carol, Buffer.from('hello, I am not audio at all\n'.repeat(50)), 'speech.wav'), 415, /not audio/],
      ['a PNG named .mp3', () => upload(carol, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(256)]), 'speech.mp3'), 415, /not audio/],
      ['a corrupt WAV', () => upload(carol, corrupt, 'broken.wav'), 422, /cannot|no audio|length/],
      ['an unknown language', () => upload(carol, wav, 'a.wav', { language: 'klingon' }), 400, /unknown language/],
      ['an unknown backend', () => upload(carol, wav, 'a.wav', { backend: 'pocketsphinx' }), 400, /backend/],
      ['an unknown field', () => upload(carol, wav, 'a.wav', { path: '../../etc/passwd' }), 400, /path/],
      ['no file', () => fetch(`http://127.0.0.1:${GW_PORT}/api/v1/transcriptions`, { method: 'POST', headers: { ...stack.origin, ...carol }, body: new FormData() }), 400, /no file/],
      ['JSON instead of a form', () => stack.api('/api/v1/transcriptions', carol, { method: 'POST', body: { file: 'x' } }), 415, /multipart/],
      ['a file over the size limit', () => upload(carol, Buffer.concat([wav, Buffer.alloc(1024 * 1024)]), 'big.wav', {}, LIMITED_GW_PORT), 413, /larger than 1 MiB/],
      ['a recording over the length limit', () => upload(carol, readFileSync(LONG_MP3), 'long.mp3', {}, LIMITED_GW_PORT), 422, /at most 20 s/],
    ];
    for (const [what, send, status, message] of cases) {
      const res = await send();
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect([what, res.status, body.error.message]).toEqual([what, status, expect.stringMatching(message)]);
    }
    // Not signed in, or cross-origin: refused before anything is read.
    const form = new FormData();
    form.set('file', new Blob([wav]), 'a.wav');
    expect((await fetch(`http://127.0.0.1:${GW_PORT}/api/v1/transcriptions`, { method: 'POST', body: form })).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${GW_PORT}/api/v1/transcriptions`, { method: 'POST', headers: { ...carol, origin: 'https://evil.example' }, body: form })).status).toBe(403);
    // Malformed ids name nothing.
    for (const id of ['nope', '../../etc', 'A'.repeat(24)]) expect((await stack.api(`/api/v1/transcriptions/${encodeURIComponent(id)}`, carol)).status).toBe(404);
    expect((await stack.api(`/api/v1/transcriptions/${'0'.repeat(24)}/result?format=docx`, carol)).status).toBe(400);

    expect(((await (await stack.api('/api/v1/transcriptions', carol)).json()) as { transcriptions: unknown[] }).transcriptions).toEqual([]);
    expect(readdirSync(stack.dataDir).length).toBe(before);

    // One pending job at most on the limited gateway: the second waits its turn as a 429 with the reason.
    const fifteen = path.join(scratch, 'fifteen.wav');
    ffmpeg('-i', LONG_WAV, '-t', '15', fifteen);
    const first = await upload(carol, readFileSync(fifteen), 'first.wav', {}, LIMITED_GW_PORT);
    expect(first.status).toBe(202);
    const second = await upload(carol, wav, 'second.wav', {}, LIMITED_GW_PORT);
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { message: string } }).error.message).toMatch(/at most 1 at once/);
    expect(await finished(carol, ((await first.json()) as TranscriptionView).id)).toMatchObject({ state: 'completed' });
  }, 180_000);
});
