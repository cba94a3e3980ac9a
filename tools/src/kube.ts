import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './paths';
import { RUN_MARK } from './leftovers';
import { run } from './processes';
import { STAND_INS } from '@visp/quadlets';
import { ensureServiceImages, ensureStandInImages, serviceImage } from './service-images';

const KUBE = path.join(ROOT, 'tools/kube');
/** As tools/kube/env.sh has them. */
const KUBE_STATE = process.env.VISP_KUBE_STATE ?? '/tmp/visp-kube';
const KUBE_BIN = process.env.VISP_KUBE_BIN ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'visp/kube-v1.37.2/bin');

/** As many as tools/kube/test-storage.yaml has home volumes; it has one for transcriptions too. */
const TEST_HOMES = 8;
/** The services e2e/src/services.kube.int.spec.ts runs in the cluster (not the whisper-worker: it is the largest, and needs no cluster). */
const IN_CLUSTER_SERVICES = ['gateway', 'session-manager', 'recovery'] as const;
/** The images the Kubernetes specs run, loaded from Podman into the cluster's containerd: sessions', services', datastores'. */
const KUBE_TEST_IMAGES = [
  'localhost/visp-testbox:1',
  'localhost/visp-session-jupyter:1',
  'localhost/visp-session-rstudio-standin:1',
  ...IN_CLUSTER_SERVICES.map(serviceImage),
  ...Object.values(STAND_INS),
];

export interface Kube {
  /** The cluster admin's kubeconfig. */
  kubeconfig: string;
  stop(): Promise<void>;
}

/**
 * The cluster's processes are not the run's: without its mark (RUN_MARK) the next run does not kill them blindly,
 * which would orphan the pods under a dead containerd; `down.sh` takes the cluster down properly instead.
 */
const clusterEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => Object.fromEntries(Object.entries({ ...process.env, ...extra }).filter(([name]) => name !== RUN_MARK));
const script = (name: string, args: string[] = [], extra: NodeJS.ProcessEnv = {}) => run('bash', [path.join(KUBE, name), ...args], { env: clusterEnv(extra), quiet: true });
const down = async () => void (await script('down.sh', [], { FAST: '1', WIPE: '1' }));

/**
 * A real single-node Kubernetes for the *.kube.int.spec.ts specs (tools/kube): its packages, its binaries (built
 * once per machine, 7–12 min the first time), the cluster from a clean state, the session images, and the
 * product's own namespaces and Roles (deploy/kubernetes) with the tests' home volumes.
 */
export async function startKube(log: (line: string) => void): Promise<Kube> {
  await script('prereqs.sh');
  if (!existsSync(path.join(KUBE_BIN, 'kube-apiserver'))) log(`building Kubernetes into ${KUBE_BIN} (once per machine; 7 to 12 minutes)`);
  const began = Date.now();
  await script('build.sh');
  // A cluster left by a run that was killed: its state goes too, so that every run starts from the same place.
  await down();
  const kubeconfig = path.join(KUBE_STATE, 'etc/admin.kubeconfig');
  try {
    await script('up.sh');
    // The test home volumes' directories (tools/kube/test-storage.yaml), empty and open to the sessions' users: a
    // hostPath volume is not given to the pod's fsGroup as a provisioned one is.
    const homes = path.join(KUBE_STATE, 'homes');
    rmSync(homes, { recursive: true, force: true });
    for (const dir of [...Array.from({ length: TEST_HOMES }, (_, i) => String(i + 1)), 'transcriptions']) {
      mkdirSync(path.join(homes, dir), { recursive: true });
      chmodSync(path.join(homes, dir), 0o1777);
    }
    const storage = path.join(KUBE_STATE, 'test-storage.yaml');
    writeFileSync(storage, readFileSync(path.join(KUBE, 'test-storage.yaml'), 'utf8').replaceAll('$HOMES', homes));
    // Built earlier in a whole run (the container stack's); a run of the Kubernetes specs alone builds them here.
    await ensureServiceImages(log, IN_CLUSTER_SERVICES);
    await ensureStandInImages(log);
    await script('images.sh', KUBE_TEST_IMAGES);
    await run(path.join(KUBE_BIN, 'kubectl'), [`--kubeconfig=${kubeconfig}`, 'apply', '-f', path.join(ROOT, 'deploy/kubernetes/namespaces.yaml'), '-f', path.join(ROOT, 'deploy/kubernetes/rbac.yaml'), '-f', storage], { env: clusterEnv(), quiet: true });
  } catch (err) {
    // Half up is taken down: nothing of it outlives the run.
    await down().catch(() => undefined);
    throw err;
  }
  log(`Kubernetes up in ${Math.round((Date.now() - began) / 1000)} s`);
  return {
    kubeconfig,
    stop: down,
  };
}
