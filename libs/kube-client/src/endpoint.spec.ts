import { kubeEndpoint, KubeConfigError } from './endpoint';

const files = (entries: Record<string, string>) => (file: string) => {
  const text = entries[file];
  if (text === undefined) throw new Error(`ENOENT ${file}`);
  return text;
};

const KUBECONFIG = `
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:16443/", certificate-authority: pki/ca.crt}
- name: other
  cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: ${Buffer.from('OTHER CA').toString('base64')}}
users:
- name: admin
  user: {client-certificate: /abs/admin.crt, client-key-data: ${Buffer.from('ADMIN KEY').toString('base64')}}
- name: robot
  user: {tokenFile: robot.token}
- name: sso
  user: {exec: {command: kubelogin}}
contexts:
- name: local
  context: {cluster: local, user: admin}
- name: robot
  context: {cluster: other, user: robot, namespace: visp-sessions}
- name: sso
  context: {cluster: local, user: sso}
current-context: local
`;

describe('kubeEndpoint from a kubeconfig', () => {
  const read = (current: string, token = 'tok-1') =>
    files({ '/etc/k/config': KUBECONFIG.replace('current-context: local', `current-context: ${current}`), '/etc/k/pki/ca.crt': 'LOCAL CA', '/abs/admin.crt': 'ADMIN CERT', '/etc/k/robot.token': `${token}\n` });

  it("takes the current context's cluster and user, files relative to the kubeconfig and inline data decoded", () => {
    expect(kubeEndpoint({ KUBECONFIG: '/etc/k/config' }, read('local'))).toEqual({ server: 'https://127.0.0.1:16443', ca: 'LOCAL CA', cert: 'ADMIN CERT', key: 'ADMIN KEY', token: undefined, namespace: undefined });
  });

  it("reads a token file again after a minute (a service account's rotates), keeps the last one if a read fails, and keeps the context's namespace", () => {
    jest.useFakeTimers({ now: new Date('2026-12-06T10:00:00Z') });
    try {
      let token: string | undefined = 'tok-1';
      const endpoint = kubeEndpoint({ KUBECONFIG: '/etc/k/config' }, (file) => (file.endsWith('robot.token') && token === undefined ? files({})(file) : read('robot', token)(file)));
      expect(endpoint).toMatchObject({ server: 'https://10.0.0.1:6443', ca: 'OTHER CA', namespace: 'visp-sessions' });
      expect(endpoint.token?.()).toBe('tok-1');
      token = 'tok-2';
      expect(endpoint.token?.()).toBe('tok-1');
      jest.advanceTimersByTime(61_000);
      expect(endpoint.token?.()).toBe('tok-2');
      token = undefined;
      jest.advanceTimersByTime(61_000);
      expect(endpoint.token?.()).toBe('tok-2');
    } finally {
      jest.useRealTimers();
    }
  });

  it('refuses a user that signs in through a plugin, a missing context, and a file that is not a kubeconfig, saying which', () => {
    expect(() => kubeEndpoint({ KUBECONFIG: '/etc/k/config' }, read('sso'))).toThrow(new KubeConfigError('/etc/k/config: user sso signs in through a plugin (exec or auth-provider), which this client does not run; use a certificate or a token'));
    expect(() => kubeEndpoint({ KUBECONFIG: '/etc/k/config' }, read('nowhere'))).toThrow('no context nowhere');
    expect(() => kubeEndpoint({ KUBECONFIG: '/x' }, files({ '/x': 'clusters: 3' }))).toThrow(/\/x: clusters/);
    expect(() => kubeEndpoint({ KUBECONFIG: '/x' }, files({ '/x': 'clusters: [' }))).toThrow(KubeConfigError);
    expect(() => kubeEndpoint({ KUBECONFIG: '/missing' }, files({}))).toThrow(new KubeConfigError('cannot read /missing: ENOENT /missing'));
    expect(() => kubeEndpoint({ KUBECONFIG: '/a:/b' }, files({}))).toThrow('KUBECONFIG names several files (/a:/b): name one');
  });

  it('refuses a server that is not https: a token or a key would go out in clear', () => {
    const plain = KUBECONFIG.replace('"https://127.0.0.1:16443/"', '"http://127.0.0.1:8080"');
    expect(() => kubeEndpoint({ KUBECONFIG: '/etc/k/config' }, files({ '/etc/k/config': plain, '/etc/k/pki/ca.crt': '', '/abs/admin.crt': '' }))).toThrow(/clusters\.0\.cluster\.server/);
  });
});

describe('kubeEndpoint in the cluster', () => {
  it("uses the pod's service account: its CA, its namespace, its token read again on every call", () => {
    const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
    const endpoint = kubeEndpoint({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, files({ [`${dir}/ca.crt`]: 'SA CA', [`${dir}/token`]: 'sa-token\n', [`${dir}/namespace`]: 'visp\n' }));
    expect(endpoint).toMatchObject({ server: 'https://10.96.0.1:443', ca: 'SA CA', namespace: 'visp' });
    expect(endpoint.token?.()).toBe('sa-token');
    expect(kubeEndpoint({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, files({ [`${dir}/ca.crt`]: '', [`${dir}/token`]: '', [`${dir}/namespace`]: '' })).server).toBe('https://[fd00::1]:443');
  });

  it('says what is missing outside a cluster without a kubeconfig', () => {
    expect(() => kubeEndpoint({})).toThrow('no KUBECONFIG, and not in a cluster');
  });
});
