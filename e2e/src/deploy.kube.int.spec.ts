// deploy/kubernetes/services.yaml against the real test cluster's API server (tools/kube): every object it holds
// checked by a server-side dry run (schema, defaults and admission, Pod Security included; nothing kept), and the
// services' pods labelled and signed in as the sessions' NetworkPolicies and Roles expect. The services are not run
// in the cluster here: the tests run them on the host (docs/kubernetes.md says what that leaves untested).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { kubeTestCluster } from './kube';

const { admin } = kubeTestCluster;
const DEPLOY = path.join(__dirname, '../../deploy/kubernetes');

const ObjectSchema = z.object({ apiVersion: z.string(), kind: z.string(), metadata: z.object({ name: z.string(), namespace: z.string() }) }).passthrough();
type Manifest = z.infer<typeof ObjectSchema>;
const manifests = (file: string): Manifest[] => parseAllDocuments(readFileSync(path.join(DEPLOY, file), 'utf8')).map((doc) => ObjectSchema.parse(doc.toJS()));

/** The collection an object is created in: core kinds under /api/v1, the rest under /apis/<group>/<version>. */
const collection = ({ apiVersion, kind, metadata }: Manifest) => `/${apiVersion.includes('/') ? 'apis' : 'api'}/${apiVersion}/namespaces/${metadata.namespace}/${kind.toLowerCase()}s`.replace(/ys$/, 'ies');

const TemplateSchema = z.object({
  spec: z.object({ template: z.object({ metadata: z.object({ labels: z.record(z.string(), z.string()) }), spec: z.object({ serviceAccountName: z.string().optional() }).passthrough() }) }),
});

it("every object of services.yaml is accepted by the API server as it is, and every service's pod by the services' namespace's restricted Pod Security level", async () => {
  const services = manifests('services.yaml');
  const dryRun = (object: object, at: string) => admin.create(at, object, z.unknown(), { dryRun: 'All' }).then(() => 'accepted', (err: { status?: number; message?: string }) => `${err.status}: ${err.message}`);
  const answers: Record<string, string> = {};
  for (const object of services) answers[`${object.kind}/${object.metadata.name}`] = await dryRun(object, collection(object));
  // A Deployment is admitted whatever its pods; Pod Security is enforced on the pods it would make.
  for (const deployment of services.filter((o) => o.kind === 'Deployment')) {
    const { template } = TemplateSchema.parse(deployment).spec;
    answers[`Pod of ${deployment.metadata.name}`] = await dryRun({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${deployment.metadata.name}-dry`, labels: template.metadata.labels }, spec: template.spec }, `/api/v1/namespaces/${deployment.metadata.namespace}/pods`);
  }
  expect(Object.values(answers).every((answer) => answer === 'accepted') ? 'all accepted' : answers).toBe('all accepted');
  expect(Object.keys(answers)).toHaveLength(services.length + 4);
});

it('the services that reach sessions carry the labels each session\'s NetworkPolicy lets in; the runtime users act as the ServiceAccounts the Roles bind', () => {
  const deployments = Object.fromEntries(manifests('services.yaml').filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, TemplateSchema.parse(o).spec.template]));
  const admitted = ['visp-gateway', 'visp-session-manager', 'visp-recovery'];
  expect(admitted.map((name) => deployments[name]?.metadata.labels['app.kubernetes.io/name'])).toEqual(admitted);
  const bound = manifests('rbac.yaml').filter((o) => o.kind === 'RoleBinding').map((o) => z.object({ subjects: z.array(z.object({ name: z.string() })) }).parse(o).subjects[0]?.name);
  expect({ sessionManager: deployments['visp-session-manager']?.spec.serviceAccountName, recovery: deployments['visp-recovery']?.spec.serviceAccountName }).toEqual({ sessionManager: 'visp-session-manager', recovery: 'visp-recovery' });
  expect(bound.sort()).toEqual(['visp-recovery', 'visp-session-manager']);
});
