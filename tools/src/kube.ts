import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './paths';
import { run } from './processes';

const KUBE = path.join(ROOT, 'tools/kube');
/** As tools/kube/env.sh has them. */
const KUBE_STATE = process.env.VISP_KUBE_STATE ?? '/tmp/visp-kube';
const KUBE_BIN = process.env.VISP_KUBE_BIN ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'visp/kube-v1.37.2/bin');

/** The session images the Kubernetes specs run, loaded from Podman into the cluster's containerd. */
const KUBE_TEST_IMAGES = ['localhost/visp-testbox:1', 'localhost/visp-session-jupyter:1', 'localhost/visp-session-rstudio-standin:1'];

export interface Kube {
  /** The cluster admin's kubeconfig. */
  kubeconfig: string;
  stop(): Promise<void>;
}

const script = (name: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env) => run('bash', [path.join(KUBE, name), ...args], { env, quiet: true });

/**
 * A real single-node Kubernetes for the *.kube.int.spec.ts specs (tools/kube): its packages, its binaries (built
 * once per machine, ≈ 10–12 min the first time), the cluster from a clean state, the session images, and the
 * product's own namespaces and Roles (deploy/kubernetes) with the tests' home volumes.
 */
export async function startKube(log: (line: string) => void): Promise<Kube> {
  await script('prereqs.sh');
  if (!existsSync(path.join(KUBE_BIN, 'kube-apiserver'))) log(`building Kubernetes into ${KUBE_BIN} (once per machine; about 12 minutes)`);
  const began = Date.now();
  await script('build.sh');
  // A cluster left by a run that was killed: its state goes too, so that every run starts from the same place.
  await script('down.sh', [], { ...process.env, FAST: '1', WIPE: '1' });
  await script('up.sh');
  // The test home volumes' directories (tools/kube/test-storage.yaml), open to the sessions' users: a hostPath
  // volume is not given to the pod's fsGroup as a provisioned one is.
  for (let i = 1; i <= 8; i++) mkdirSync(path.join(KUBE_STATE, 'homes', String(i)), { recursive: true, mode: 0o1777 });
  for (let i = 1; i <= 8; i++) chmodSync(path.join(KUBE_STATE, 'homes', String(i)), 0o1777);
  await script('images.sh', KUBE_TEST_IMAGES);
  const kubeconfig = path.join(KUBE_STATE, 'etc/admin.kubeconfig');
  const kubectl = (...args: string[]) => run(path.join(KUBE_BIN, 'kubectl'), [`--kubeconfig=${kubeconfig}`, ...args], { quiet: true });
  await kubectl('apply', '-f', path.join(ROOT, 'deploy/kubernetes/namespaces.yaml'), '-f', path.join(ROOT, 'deploy/kubernetes/rbac.yaml'), '-f', path.join(KUBE, 'test-storage.yaml'));
  log(`Kubernetes up in ${Math.round((Date.now() - began) / 1000)} s`);
  return {
    kubeconfig,
    stop: async () => {
      await script('down.sh', [], { ...process.env, FAST: '1', WIPE: '1' });
    },
  };
}
