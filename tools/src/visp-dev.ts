// The developer's entry point behind `npm start` and `npm test` (after tools/setup/bootstrap.sh).
import path from 'node:path';
import { benchAll } from '../bench/all';
import { benchProxy, PARTS } from '../bench/proxy';
import { benchRecovery } from '../bench/recovery';
import { exitCode } from '../bench/results';
import { benchScale } from '../bench/scale';
import { benchSocketProxy } from '../bench/socket-proxy';
import { benchSpawn } from '../bench/spawn';
import { benchTranscribe } from '../bench/transcribe';
import { benchWsHold } from '../bench/ws-hold';
import { startBareProxy, startNetPipe, startUpstream } from '../bench/upstream';
import { ensureImages } from './images';
import { ensureServiceImages } from './service-images';
import { soak } from './soak';
import { runTests } from './test-runner';
import { startContainerMode, startStack } from './stack';
import { lockPythonWheels } from './wheels';

const USAGE = `usage: visp-dev <command>
  start [--containers]  run the local stack (Podman service, Redis, database, every service) until Ctrl-C;
                        --containers runs every service as a container from quadlets/ instead
  images [--services]   build the local images that are missing or out of date; --services also the services'
                        own images (containerfiles/services), from the bundles in dist/
  test [--only P] [-- jest args]
                        lint, typecheck and every test with real Redis, database and Podman;
                        --only runs one Jest project (e.g. bus or bus:int) without the static checks;
                        arguments after -- go to Jest as they are (e.g. -t 'culls')
  lock-wheels <file.in> resolves the Python packages an image wants (one per line) and writes requirements.txt
                        beside it: every package pinned with its wheel's hash, for the images' Python
  soak [--runs N]       the whole suite N times (default 10), each on a clean clone of HEAD as CI runs it; prints
                        runs N, green N, failures by test and each run's duration (tools/src/soak.ts)
  bench all             every benchmark below once, with short settings (a few minutes in all), then their figures
                        as a table in docs/benchmarks.md: date, machine, each against its reference, issue 25's
                        targets; exits 1 if any benchmark failed (tools/bench/all.ts)
  bench spawn [--runs N] [--burst N]
                        session start time through the platform against bare Podman (tools/bench/spawn.ts)
  bench proxy [--seconds N] [--rounds N] [--latency-rounds N] [--workers N] [--rate N] [--only http|ws|latency]
                        the session proxy against a direct connection, a plain TCP pipe in Node.js (the
                        floor of any Node.js proxy) and configurable-http-proxy
                        (tools/bench/proxy.ts); --workers sets GATEWAY_WORKERS (default: one per core; the
                        latency part also measures one worker, the production default)
  bench recovery [--containers N]
                        one recovery pass re-adopting N session containers (default 100) against
                        inspecting each (tools/bench/recovery.ts)
  bench scale [--sessions N]
                        the control plane at N sessions (default 10,000) beside 1,000: recovery re-adopting all and
                        with nothing to do, the route table read, Redis memory per route, against a stand-in for the
                        engine's API (tools/bench/scale.ts)
  bench socket-proxy [--runs N]
                        Podman calls through the socket proxy against the raw socket (tools/bench/socket-proxy.ts)
  bench ws-hold [--sockets N] [--minutes N] [--interval S]
                        the gateway's memory holding N webclient and N proxied WebSockets (default 1,000 each) for
                        N minutes (default 10), beside configurable-http-proxy holding N (tools/bench/ws-hold.ts)
  bench transcribe [--rounds N]
                        the LibriVox clips through the gateway, queue and worker against the engine alone, and
                        throughput with worker concurrency 1 and 2 (tools/bench/transcribe.ts)`;

/** The flags each `bench` takes. */
const BENCH_FLAGS: Record<string, string[] | undefined> = {
  all: [],
  spawn: ['--runs', '--burst'],
  proxy: ['--seconds', '--rounds', '--latency-rounds', '--workers', '--rate', '--only'],
  recovery: ['--containers'],
  scale: ['--sessions'],
  'socket-proxy': ['--runs'],
  transcribe: ['--rounds'],
  'ws-hold': ['--sockets', '--minutes', '--interval'],
  upstream: ['--port'],
  'bare-proxy': ['--port', '--target'],
  'net-pipe': ['--port', '--target'],
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return rest.includes('--containers') ? startContainerMode() : startStack();
    case 'images': {
      const log = (line: string) => console.log(`[images] ${line}`);
      await ensureImages(log);
      if (rest.includes('--services')) await ensureServiceImages(log);
      return 0;
    }
    case 'bench': {
      // An unknown flag (`--help` too) shows the usage rather than starting a long run without it.
      if (rest.some((arg) => arg.startsWith('--') && !BENCH_FLAGS[rest[0] ?? '']?.includes(arg))) break;
      const number = (flag: string, fallback: number) => (rest.includes(flag) ? Number(rest[rest.indexOf(flag) + 1]) : fallback);
      if (rest[0] === 'all' && rest.length === 1) return benchAll();
      if (rest[0] === 'spawn') {
        const [runs, burst] = [number('--runs', 7), number('--burst', 10)];
        if (!(runs >= 1) || !(burst >= 1)) break;
        return benchSpawn({ runs, burst }).then(exitCode);
      }
      if (rest[0] === 'proxy') {
        const [seconds, rounds, latencyRounds, workers, rate] = [number('--seconds', 3), number('--rounds', 3), number('--latency-rounds', 11), number('--workers', 0), number('--rate', 1000)];
        const only = rest.includes('--only') ? rest[rest.indexOf('--only') + 1] : undefined;
        const parts = new Set(PARTS.filter((part) => only === undefined || part === only));
        if (!(seconds >= 1) || !(rounds >= 1) || !(latencyRounds >= 1) || !(workers >= 0) || !(rate >= 10) || parts.size === 0) break;
        return benchProxy({ seconds, rounds, latencyRounds, workers, rate, parts }).then(exitCode);
      }
      if (rest[0] === 'recovery') {
        const containers = number('--containers', 100);
        if (!(containers >= 1)) break;
        return benchRecovery({ containers }).then(exitCode);
      }
      if (rest[0] === 'scale') {
        const sessions = number('--sessions', 10_000);
        if (!(sessions >= 1)) break;
        return benchScale({ sessions }).then(exitCode);
      }
      if (rest[0] === 'socket-proxy') {
        const runs = number('--runs', 15);
        if (!(runs >= 1)) break;
        return benchSocketProxy({ runs }).then(exitCode);
      }
      if (rest[0] === 'ws-hold') {
        const [sockets, minutes, interval] = [number('--sockets', 1000), number('--minutes', 10), number('--interval', 10)];
        if (!(sockets >= 1) || !(minutes >= 1) || !(interval >= 1)) break;
        return benchWsHold({ sockets, minutes, interval }).then(exitCode);
      }
      if (rest[0] === 'transcribe') {
        const rounds = number('--rounds', 3);
        if (!(rounds >= 1)) break;
        return benchTranscribe({ rounds }).then(exitCode);
      }
      // Internal: the upstream, the bare proxy and the net pipe of the proxy bench, each in a process of its own.
      if (rest[0] === 'upstream' || rest[0] === 'bare-proxy' || rest[0] === 'net-pipe') {
        if (rest[0] === 'upstream') startUpstream(number('--port', 0));
        else (rest[0] === 'bare-proxy' ? startBareProxy : startNetPipe)(number('--port', 0), rest[rest.indexOf('--target') + 1] ?? '');
        return new Promise<number>(() => undefined);
      }
      break;
    }
    case 'lock-wheels': {
      if (rest.length !== 1 || !rest[0]?.endsWith('.in')) break;
      await lockPythonWheels(rest[0], path.join(path.dirname(rest[0]), 'requirements.txt'));
      return 0;
    }
    case 'soak': {
      const runs = rest[0] === '--runs' && rest.length === 2 ? Number(rest[1]) : rest.length === 0 ? 10 : Number.NaN;
      if (!(Number.isInteger(runs) && runs >= 1)) break;
      return soak({ runs });
    }
    case 'test': {
      const separator = rest.includes('--') ? rest.indexOf('--') : rest.length;
      const [own, jestArgs] = [rest.slice(0, separator), rest.slice(separator + 1)];
      const onlyAt = own.indexOf('--only');
      const only = onlyAt >= 0 ? own[onlyAt + 1] : undefined;
      if (onlyAt >= 0 && !only) break;
      return runTests({ only, staticChecks: only === undefined && jestArgs.length === 0, jestArgs });
    }
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`visp-dev: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
