// What the *.kube.int.spec.ts end-to-end specs share: the test cluster `npm test` started (VISP_TEST_KUBECONFIG,
// cluster admin), the sessions' namespace, the settings that put the services on the Kubernetes runtime, and
// kubeconfigs that sign in as deploy/kubernetes's ServiceAccounts, so that the specs show their Roles suffice.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LABEL } from '@visp/contracts';
import { KubeClient, kubeEndpoint } from '@visp/kube-client';
import { z } from 'zod';

const NAMESPACE = 'visp-sessions';
const ADMIN_KUBECONFIG = process.env.VISP_TEST_KUBECONFIG ?? '';
const admin = new KubeClient(kubeEndpoint({ KUBECONFIG: ADMIN_KUBECONFIG }));

export const kubeTestCluster = {
  admin,
  NAMESPACE,
  /** The services' settings for the Kubernetes runtime on the test cluster (its home volumes: tools/kube/test-storage.yaml). */
  KUBE: { SESSION_RUNTIME: 'kubernetes', KUBE_NAMESPACE: NAMESPACE, KUBE_IMAGE_PULL_POLICY: 'Never', KUBE_HOME_SIZE: '64Mi', KUBE_HOME_STORAGE_CLASS: 'visp-test-local' },
};

let configs: string | undefined;

/** A kubeconfig that signs in as one of deploy/kubernetes's ServiceAccounts, with an hour's token (TokenRequest). */
export async function kubeconfigAs(serviceAccount: string): Promise<string> {
  const { status } = await admin.create(`/api/v1/namespaces/visp/serviceaccounts/${serviceAccount}/token`, { spec: { expirationSeconds: 3600 } }, z.object({ status: z.object({ token: z.string() }) }));
  const { server, ca = '' } = kubeEndpoint({ KUBECONFIG: ADMIN_KUBECONFIG });
  configs ??= mkdtempSync(path.join(tmpdir(), 'visp-kube-e2e-'));
  const file = path.join(configs, `${serviceAccount}.kubeconfig`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
      users: [{ name: serviceAccount, user: { token: status.token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: serviceAccount, namespace: NAMESPACE } }],
      'current-context': 'test',
    }),
  );
  return file;
}

/** Removes an instance's pods, Secrets and NetworkPolicies (sessions outlive the services by design; a spec's go with it). */
export async function removeInstance(instance: string): Promise<void> {
  for (const kind of [`api/v1/namespaces/${NAMESPACE}/pods`, `api/v1/namespaces/${NAMESPACE}/secrets`, `apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`]) {
    const list = await admin.get(`/${kind}`, z.object({ items: z.array(z.object({ metadata: z.object({ name: z.string() }) })) }), { labelSelector: `${LABEL.instance}=${instance}` });
    for (const item of list.items) await admin.delete(`/${kind}/${item.metadata.name}`, { gracePeriodSeconds: 0 });
  }
}
