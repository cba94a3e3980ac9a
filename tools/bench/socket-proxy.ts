// tools/bench/socket-proxy: what the socket proxy adds to Podman calls, against the raw socket, for the calls the
// session-manager makes: create+start+remove of a session-like container, inspect and list. Rounds alternate
// between the two so that drift on the machine hits both alike; medians are compared.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { encodeSessionLabels, PodmanClient, type ContainerSpec } from '@visp/podman-client';
import { clientSocketPath } from '@visp/podman-proxy';
import { TESTBOX_IMAGE } from '../src/images';
import { withBench } from './harness';
import type { BenchResult, Measure } from './results';

export interface SocketProxyBenchOptions {
  runs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export function benchSocketProxy(options: SocketProxyBenchOptions): Promise<BenchResult> {
  return withBench(async ({ instance, stateDir, infra, service }) => {
    const socketDir = path.join(stateDir, 'proxy');
    await service('socket-proxy', { SOCKET_PROXY_DIR: socketDir });
    const clients = {
      raw: new PodmanClient({ socketPath: infra.env.CONTAINER_HOST.replace(/^unix:\/\//, '') }),
      proxy: new PodmanClient({ socketPath: clientSocketPath(socketDir, 'session-manager') }),
    };
    const spec = (): ContainerSpec => {
      const sid = randomBytes(6).toString('hex');
      return {
        name: `visp-bench-${sid}`,
        image: TESTBOX_IMAGE,
        labels: encodeSessionLabels({ instance, id: 'benchbenchbb', type: 'box', owner: 'bench', created: new Date().toISOString() }),
        user: '1000:1000',
        cmd: ['sleep', '600'],
        limits: { memoryBytes: 64 * 2 ** 20, nanoCpus: 5e8, pids: 64 },
        tmpfs: [{ target: '/tmp', sizeBytes: 2 ** 24, mode: 0o1777 }],
      };
    };
    const standing = await clients.raw.createContainer(spec());
    const calls = {
      'create+start+remove': async (client: PodmanClient) => {
        const id = await client.createContainer(spec());
        await client.startContainer(id);
        await client.removeContainer(id, { force: true });
      },
      inspect: (client: PodmanClient) => client.inspectContainer(standing),
      list: (client: PodmanClient) => client.listManaged(instance),
    };
    console.log(`\n| call (median of ${options.runs}) | raw socket | through the proxy | ratio |`);
    console.log('| --- | --- | --- | --- |');
    let createRatio = Number.NaN;
    const measures: Measure[] = [];
    for (const [name, call] of Object.entries(calls)) {
      await call(clients.raw); // warm-up
      await call(clients.proxy);
      const times = { raw: [] as number[], proxy: [] as number[] };
      for (let run = 0; run < options.runs; run++) {
        times.raw.push(await timed(() => call(clients.raw)));
        times.proxy.push(await timed(() => call(clients.proxy)));
      }
      const [raw, proxied] = [median(times.raw), median(times.proxy)];
      if (name === 'create+start+remove') createRatio = proxied / raw;
      measures.push({ name: `${name} through the socket proxy (median of ${options.runs})`, unit: 'ms', visp: proxied, reference: { name: 'raw socket', value: raw } });
      console.log(`| ${name} | ${raw.toFixed(1)} ms | ${proxied.toFixed(1)} ms | ${(proxied / raw).toFixed(2)} |`);
    }
    console.log(`\ntarget: create+start+remove ≤ 1.10 → ${createRatio.toFixed(2)}`);
    return { measures };
  });
}
