// tools/bench/transcribe: the five LibriVox clips through the gateway, the queue and the whisper-worker, against
// the engine alone: whisper-ctranslate2 run once over all the clips (the model loaded once, one thread), as a
// researcher would run it by hand.
//
//   engine once      the CLI over the five clips in one process, timed around the process; each clip's own
//                    time read from when the CLI starts it and the next (its `File:` lines)
//   through the API  the same clips uploaded one after another, each waited for, with the worker up and its
//                    engine warm: from the first upload to the last `completed` event. Its ratio to the engine
//                    once is the issue's measure; per job, 202 → completed minus that clip's engine time is the
//                    system's overhead
//   ingest           the upload itself (multipart, content sniffing, ffprobe), before the job exists
//   throughput       ten jobs queued at once, worker concurrency 1 and then 2 (each engine on one thread),
//                    timed from the first start to the last finish in the database
//   ceiling          the CLI alone over the same ten clips, two processes at once against one: what two engines
//                    side by side get on this machine, which no queue can beat
// Rounds alternate the engine once and the API; medians count. The real-time factor is engine time over audio.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { closeRedis, createRedis, EventBus } from '@visp/bus';
import type { TranscriptionView } from '@visp/contracts';
import { openStore } from '@visp/store';
import { librivoxClips, waitFor } from '@visp/testing';
import { probeAudio } from '@visp/transcription';
import { whisperEnv } from '../src/paths';
import { log, withBench } from './harness';
import { ISSUE_25, type BenchResult } from './results';

export interface TranscribeBenchOptions {
  rounds: number;
}

const SECRETS = { SERVICE_TOKEN: 'bench-service-token-0123456789ab', COOKIE_SECRET: 'bench-cookie-secret-0123456789abcdef01', TEST_USER_LOGIN_KEY: 'bench-login-key-0123456' };
const ENGINE = { WHISPER_MODEL: 'tiny.en', WHISPER_BEAM_SIZE: '5', WHISPER_COMPUTE_TYPE: 'int8', WHISPER_THREADS: '1' };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export function benchTranscribe(options: TranscribeBenchOptions): Promise<BenchResult> {
  return withBench(async ({ stateDir, infra, service }) => {
    const whisper = whisperEnv();
    const clips = librivoxClips();
    const audioSec = await Promise.all(clips.map(async (c) => (await probeAudio(c.wav)).durationSec));
    const common = { ...SECRETS, ...whisper, ...ENGINE, TRANSCRIPTION_DATA_DIR: path.join(stateDir, 'transcriptions') };
    // As the image has it: the gateway checks the disk space there before it takes an upload.
    mkdirSync(common.TRANSCRIPTION_DATA_DIR, { recursive: true });
    // The gateway's /readyz wants a session-manager; this bench needs none, so /healthz says it is up.
    const gateway = await service('gateway', { ...common, TRANSCRIPTION_MAX_PENDING: '100' }, '/healthz');
    const base = `http://127.0.0.1:${gateway.port}`;
    const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base }, body: JSON.stringify({ username: 'bench', key: SECRETS.TEST_USER_LOGIN_KEY }) });
    const auth = { cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '', origin: base };

    const redis = createRedis(infra.env.REDIS_URL, { name: 'bench' });
    const events = new EventBus(redis);
    const completedAt = new Map<string, number>();
    await events.subscribe((e) => {
      if (e.type === 'transcription.state' && e.state === 'completed') completedAt.set(e.id, performance.now());
    });
    const store = await openStore(infra.env.MONGO_URI);

    const upload = async (file: string): Promise<{ id: string; acceptedAt: number; ingestMs: number }> => {
      const form = new FormData();
      form.set('file', new Blob([readFileSync(file)]), path.basename(file));
      const started = performance.now();
      const res = await fetch(`${base}/api/v1/transcriptions`, { method: 'POST', headers: auth, body: form });
      const acceptedAt = performance.now();
      if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
      return { id: ((await res.json()) as TranscriptionView).id, acceptedAt, ingestMs: acceptedAt - started };
    };
    /** The CLI once over `files` (every clip by default): the whole run, and each clip's time from its `File:` line to the next. */
    const engineOnce = async (files = clips.map((c) => c.wav), outputDir = 'direct'): Promise<{ totalMs: number; clipMs: number[] }> => {
      const args = [...files, '--model', ENGINE.WHISPER_MODEL, '--model_directory', whisper.WHISPER_MODEL_DIR, '--local_files_only', 'True', '--device', 'cpu', '--compute_type', 'int8', '--beam_size', '5', '--threads', '1', '--word_timestamps', 'True', '--output_format', 'json', '--output_dir', path.join(stateDir, outputDir), '--verbose', 'True'];
      const started = performance.now();
      const fileAt: number[] = [];
      const child = spawn(whisper.WHISPER_CLI, args, { env: { ...process.env, HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.startsWith('File: ')) fileAt.push(performance.now());
      });
      const [code] = (await once(child, 'close')) as [number | null];
      const ended = performance.now();
      if (code !== 0 || fileAt.length !== files.length) throw new Error(`the CLI exited with ${code}, having started ${fileAt.length} of ${files.length} clips`);
      return { totalMs: ended - started, clipMs: fileAt.map((at, i) => (fileAt[i + 1] ?? ended) - at) };
    };
    /** The clips through the API one after another: from the first upload to the last completion, and per job. */
    const throughApi = async (): Promise<{ totalMs: number; jobMs: number[]; ingestMs: number[] }> => {
      const started = performance.now();
      const jobMs: number[] = [];
      const ingest: number[] = [];
      for (const clip of clips) {
        const job = await upload(clip.wav);
        await waitFor(`job ${job.id}`, () => completedAt.has(job.id), 60_000, 5);
        jobMs.push((completedAt.get(job.id) as number) - job.acceptedAt);
        ingest.push(job.ingestMs);
      }
      return { totalMs: performance.now() - started, jobMs, ingestMs: ingest };
    };

    log('the clips one after another: the engine once over them, then through the API, rounds alternating');
    let worker = await service('whisper-worker', { ...common, WORKER_CONCURRENCY: '1' });
    const onceMs: number[] = [];
    const apiMs: number[] = [];
    const engineMs: number[] = [];
    const overheadMs: number[] = [];
    const ingestMs: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const alone = await engineOnce();
      const api = await throughApi();
      onceMs.push(alone.totalMs);
      apiMs.push(api.totalMs);
      engineMs.push(...alone.clipMs);
      ingestMs.push(...api.ingestMs);
      overheadMs.push(...api.jobMs.map((ms, i) => ms - (alone.clipMs[i] as number)));
    }
    await worker.child.stop(15_000);

    const throughput = async (concurrency: number) => {
      const ids: string[] = [];
      for (const clip of [...clips, ...clips]) ids.push((await upload(clip.wav)).id);
      worker = await service('whisper-worker', { ...common, WORKER_CONCURRENCY: String(concurrency) });
      await waitFor('the batch', () => ids.every((id) => completedAt.has(id)), 300_000);
      await worker.child.stop(15_000);
      const records = await Promise.all(ids.map((id) => store.transcriptions.get('bench', id)));
      const first = Math.min(...records.map((r) => r?.startedAt?.getTime() ?? Infinity));
      const last = Math.max(...records.map((r) => r?.finishedAt?.getTime() ?? 0));
      return (2 * audioSec.reduce((a, b) => a + b, 0)) / ((last - first) / 1000);
    };
    log('throughput: ten jobs queued at once, concurrency 1 then 2');
    const [one, two] = [await throughput(1), await throughput(2)];
    // The machine's own ceiling for two workers: the engine alone over the same ten clips, two processes at once
    // (five clips each) against one process over all ten. No queue can do better than the engine does beside itself.
    log('the ceiling: the engine alone, two processes at once against one');
    const wavs = clips.map((c) => c.wav);
    const soloMs = (await engineOnce([...wavs, ...wavs], 'ceiling-1')).totalMs;
    const pairStarted = performance.now();
    await Promise.all([engineOnce(wavs, 'ceiling-2a'), engineOnce(wavs, 'ceiling-2b')]);
    const pairMs = performance.now() - pairStarted;
    const tenClipsAudio = 2 * audioSec.reduce((a, b) => a + b, 0);
    const [soloRate, pairRate] = [tenClipsAudio / (soloMs / 1000), tenClipsAudio / (pairMs / 1000)];
    const ceiling = pairRate / soloRate;

    await events.close();
    await closeRedis(redis);
    await store.close();

    const totalAudio = audioSec.reduce((a, b) => a + b, 0);
    const ratio = median(apiMs) / median(onceMs);
    console.log(`\n| ${clips.length} LibriVox clips (${totalAudio.toFixed(1)} s of audio), ${options.rounds} rounds, one engine thread | median |`);
    console.log('| --- | --- |');
    console.log(`| the engine once over the clips (one CLI process) | ${(median(onceMs) / 1000).toFixed(2)} s |`);
    console.log(`| through the API, one after another (first upload → last completed) | ${(median(apiMs) / 1000).toFixed(2)} s |`);
    console.log(`| ratio, API / engine once | ${ratio.toFixed(2)} |`);
    console.log(`| engine per clip (within the CLI's run) | ${median(engineMs).toFixed(0)} ms |`);
    console.log(`| overhead per job (202 → completed, minus that clip's engine time) | ${median(overheadMs).toFixed(1)} ms |`);
    console.log(`| ingest (upload, sniffing, ffprobe) | ${median(ingestMs).toFixed(1)} ms |`);
    console.log(`| real-time factor, engine (1 thread) | ${median(engineMs.map((ms, i) => ms / 1000 / (audioSec[i % clips.length] as number))).toFixed(3)} |`);
    console.log(`\n| throughput (audio seconds per second) | concurrency 1 | concurrency 2 | ratio |`);
    console.log('| --- | --- | --- | --- |');
    console.log(`| ten jobs, one engine thread each | ${one.toFixed(2)} | ${two.toFixed(2)} | ${(two / one).toFixed(2)} |`);
    console.log(`| the engine alone (CLI), one process over the ten clips against two at once over five each | | | ${ceiling.toFixed(2)} (the machine's ceiling) |`);
    console.log(`\ntargets: API / engine once ≤ 1.1 → ${ratio.toFixed(2)}; overhead ≤ 20 ms median → ${median(overheadMs).toFixed(1)} ms; concurrency 2 ≥ 1.8× → ${(two / one).toFixed(2)}×`);
    console.log(`overhead per job, every run (ms): ${overheadMs.map((x) => x.toFixed(0)).join(' ')}`);
    return {
      measures: [
        { name: `the ${clips.length} LibriVox clips through the API one after another (median of ${options.rounds} round${options.rounds > 1 ? 's' : ''})`, unit: 's', visp: median(apiMs) / 1000, reference: { name: 'the CLI once over them', value: median(onceMs) / 1000 }, target: ISSUE_25.transcribeVsEngine },
        { name: 'overhead per job (202 → completed, minus the engine)', unit: 'ms', visp: median(overheadMs), target: ISSUE_25.transcribeOverhead },
        { name: 'throughput, ten jobs at worker concurrency 2', unit: 'audio s/s', visp: two, reference: { name: 'concurrency 1', value: one }, target: ISSUE_25.transcribeConcurrency },
        // No target: what the machine allows the line above, measured beside it.
        { name: "the engine alone (no queue), two processes at once over the ten clips: the machine's ceiling for the line above", unit: 'audio s/s', visp: pairRate, reference: { name: 'one process', value: soloRate } },
      ],
    };
  });
}
