// tools/bench/transcribe: the five LibriVox clips through the gateway, the queue and the whisper-worker, against
// the engine alone (the same whisper-ctranslate2 run the worker makes, one process per clip, one thread).
//
//   engine alone     the CLI on each clip, timed around the process
//   through queue    from the upload's 202 to the `completed` event (the job's whole life in the system) minus
//                    the engine alone on the same clip, run just before it: the system's overhead per job
//   ingest           the upload itself (multipart, content sniffing, ffprobe), before the job exists
//   throughput       ten jobs queued at once, worker concurrency 1 and then 2 (each engine on one thread),
//                    timed from the first start to the last finish in the database
// The real-time factor is engine time over audio time.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { closeRedis, createRedis, EventBus } from '@visp/bus';
import type { TranscriptionView } from '@visp/contracts';
import { openStore } from '@visp/store';
import { librivoxClips, waitFor } from '@visp/testing';
import { probeAudio } from '@visp/transcription';
import { whisperEnv } from '../src/paths';
import { log, withBench } from './harness';

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

export function benchTranscribe(options: TranscribeBenchOptions): Promise<number> {
  return withBench(async ({ stateDir, infra, service }) => {
    const whisper = whisperEnv();
    const clips = librivoxClips();
    const audioSec = await Promise.all(clips.map(async (c) => (await probeAudio(c.wav)).durationSec));
    const common = { ...SECRETS, ...whisper, ...ENGINE, TRANSCRIPTION_DATA_DIR: path.join(stateDir, 'transcriptions') };
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
    const engineAlone = async (wav: string) => {
      const started = performance.now();
      const args = [wav, '--model', ENGINE.WHISPER_MODEL, '--model_directory', whisper.WHISPER_MODEL_DIR, '--local_files_only', 'True', '--device', 'cpu', '--compute_type', 'int8', '--beam_size', '5', '--threads', '1', '--word_timestamps', 'True', '--output_format', 'json', '--output_dir', path.join(stateDir, 'direct'), '--verbose', 'True'];
      await promisify(execFile)(whisper.WHISPER_CLI, args, { env: { ...process.env, HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1' } });
      return performance.now() - started;
    };

    log('one job at a time: engine alone, then the same clip through the system');
    let worker = await service('whisper-worker', { ...common, WORKER_CONCURRENCY: '1' });
    const engineMs: number[] = [];
    const overheadMs: number[] = [];
    const ingestMs: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      for (const clip of clips) {
        const alone = await engineAlone(clip.wav);
        const job = await upload(clip.wav);
        await waitFor(`job ${job.id}`, () => completedAt.has(job.id), 60_000);
        engineMs.push(alone);
        ingestMs.push(job.ingestMs);
        overheadMs.push((completedAt.get(job.id) as number) - job.acceptedAt - alone);
      }
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

    await events.close();
    await closeRedis(redis);
    await store.close();

    const totalAudio = audioSec.reduce((a, b) => a + b, 0);
    const medianEngine = median(engineMs);
    console.log(`\n| ${clips.length} LibriVox clips (${totalAudio.toFixed(1)} s of audio), ${options.rounds} rounds | median |`);
    console.log('| --- | --- |');
    console.log(`| engine alone, per clip | ${medianEngine.toFixed(0)} ms |`);
    console.log(`| through the queue, overhead per job (202 → completed, minus the engine alone) | ${median(overheadMs).toFixed(1)} ms |`);
    console.log(`| ingest (upload, sniffing, ffprobe) | ${median(ingestMs).toFixed(1)} ms |`);
    console.log(`| real-time factor, engine alone (1 thread) | ${(median(engineMs.map((ms, i) => ms / 1000 / (audioSec[i % clips.length] as number)))).toFixed(3)} |`);
    console.log(`\n| throughput (audio seconds per second) | concurrency 1 | concurrency 2 | ratio |`);
    console.log('| --- | --- | --- | --- |');
    console.log(`| ten jobs, one engine thread each | ${one.toFixed(2)} | ${two.toFixed(2)} | ${(two / one).toFixed(2)} |`);
    console.log(`\ntargets: overhead ≤ 20 ms median → ${median(overheadMs).toFixed(1)} ms; concurrency 2 ≥ 1.6× → ${(two / one).toFixed(2)}×`);
    console.log(`overhead per job, every run (ms): ${overheadMs.map((x) => x.toFixed(0)).join(' ')}`);
    return 0;
  });
}
