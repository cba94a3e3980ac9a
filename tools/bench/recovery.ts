// tools/bench/recovery: one recovery pass re-adopting many running session containers that have neither records
// nor routes (the session-manager's database and the route table lost), against the floor for the same
// containers: inspecting each once through the same Podman socket, as adoption must.
//
// The recovery bundle runs as in production. It starts before the containers exist (its first pass finds
// nothing), then POST /admin/reconcile times a pass over all of them. Should a pass of its own (one the engine's
// events start) have adopted some first, their records and routes go again and the pass is timed anew.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRedis, closeRedis, keys } from '@visp/bus';
import type { ReconcileReport } from '@visp/contracts';
import { discoverPodman, encodeSessionLabels, PodmanClient } from '@visp/podman-client';
import { behindGuard, containerName, newSessionId, newSessionToken, TOKEN_ENV } from '@visp/sessions';
import { openStore } from '@visp/store';
import { TESTBOX_IMAGE } from '../src/images';
import { log, withBench } from './harness';
import type { BenchResult } from './results';

export interface RecoveryBenchOptions {
  containers: number;
}

const TYPE = 'box';
const BOX = {
  image: TESTBOX_IMAGE,
  port: 8080,
  command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
  readinessPath: '/',
  baseUrlAware: false,
  tmpfsMiB: 16,
  limits: { default: { memoryMiB: 64, cpus: 0.5, pids: 64 }, max: { memoryMiB: 64, cpus: 0.5, pids: 64 } },
};

/** Runs `work` over `items`, `concurrency` at a time. */
async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

export function benchRecovery(options: RecoveryBenchOptions): Promise<BenchResult> {
  return withBench(async ({ instance, stateDir, infra, service }) => {
    const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: infra.env.CONTAINER_HOST }));
    const token = randomBytes(24).toString('base64url');
    const typesFile = path.join(stateDir, 'session-types.json');
    writeFileSync(typesFile, JSON.stringify({ [TYPE]: BOX }));
    const { port } = await service('recovery', { SERVICE_TOKEN: token, SESSION_TYPES_FILE: typesFile, RECOVERY_INTERVAL: '3600' });
    const reconcile = async () => (await fetch(`http://127.0.0.1:${port}/admin/reconcile`, { method: 'POST', headers: { 'x-service-token': token } })).json() as Promise<ReconcileReport>;
    // Its passes at start are over before the containers come: the one at start, and the one that follows once it
    // watches the engine's events (no sooner than 2 s after the last), which would otherwise adopt some of them.
    await reconcile();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await reconcile();

    log(`starting ${options.containers} session containers with labels only (no records, no routes)`);
    const created = Date.now();
    const image = await podman.imageCommand(BOX.image);
    await inParallel(Array.from({ length: options.containers }, () => newSessionId()), 4, async (sid) => {
      // Behind the session guard, as the session-manager starts them in local mode: recovery reads its port.
      const id = await podman.createContainer(behindGuard({
        name: containerName(TYPE, sid),
        image: BOX.image,
        labels: encodeSessionLabels({ instance, id: sid, type: TYPE, owner: `user-${sid.slice(0, 4)}`, created: new Date().toISOString() }),
        user: '1000:1000',
        cmd: BOX.command,
        env: { [TOKEN_ENV]: newSessionToken() },
        limits: { memoryBytes: 64 * 2 ** 20, nanoCpus: 0.5e9, pids: 64 },
        tmpfs: [{ target: '/tmp', sizeBytes: 16 * 2 ** 20, mode: 0o1777 }],
        publish: { containerPort: BOX.port },
      }, BOX.port, image, infra.env.SESSION_GUARD_BINARY));
      await podman.startContainer(id);
    });
    log(`started in ${((Date.now() - created) / 1000).toFixed(1)} s`);
    const containers = await podman.listManaged(instance);

    const floorStarted = performance.now();
    await inParallel(containers, 8, (c) => podman.inspectContainer(c.id));
    const floorMs = performance.now() - floorStarted;

    const redis = createRedis(infra.env.REDIS_URL, { name: 'bench' });
    const store = await openStore(infra.env.MONGO_URI);
    const adoptedIn = (r: ReconcileReport) => r.outcomes.filter((o) => o.kind === 'adopt' && o.result === 'done').length;
    let report = await reconcile();
    for (let attempt = 2; adoptedIn(report) < containers.length && report.outcomes.length < containers.length && attempt <= 3; attempt++) {
      log(`the timed pass adopted ${adoptedIn(report)}: a pass before it had adopted the others; records and routes removed, attempt ${attempt}`);
      await Promise.all([redis.del(keys.routes), store.connection.collection('sessions').deleteMany({}), store.connection.collection('session_transitions').deleteMany({})]);
      report = await reconcile();
    }
    const adopted = adoptedIn(report);
    const others = report.outcomes.filter((o) => !(o.kind === 'adopt' && o.result === 'done'));
    if (others.length) log(`not adopted: ${JSON.stringify(others.slice(0, 5))}`);
    const routes = await redis.hlen(keys.routes);
    await closeRedis(redis);
    await store.close();

    console.log(`\n| ${containers.length} containers | recovery pass | inspect each (the floor) | ratio |`);
    console.log('| --- | --- | --- | --- |');
    console.log(`| total | ${report.ms} ms | ${floorMs.toFixed(0)} ms | ${(report.ms / floorMs).toFixed(2)} |`);
    console.log(`| per container | ${(report.ms / containers.length).toFixed(1)} ms | ${(floorMs / containers.length).toFixed(1)} ms | |`);
    console.log(`\nadopted ${adopted} of ${containers.length}; routes published: ${routes}`);
    console.log(`target: the whole pass ≤ 5 s for 100 → ${(report.ms / 1000).toFixed(2)} s for ${containers.length}`);
    return {
      measures: [{ name: `one recovery pass re-adopting ${containers.length} containers (no records, no routes)`, unit: 'ms', visp: report.ms, reference: { name: 'inspecting each', value: floorMs } }],
      failed: adopted === containers.length ? undefined : `adopted ${adopted} of ${containers.length}`,
    };
  });
}
