import { toCreateOptions } from '@visp/podman-client';
import { checkCreate, defaultPolicies, parseRequest } from './policy';

const policy = defaultPolicies([/^localhost\/visp-/])['session-manager']!;

describe('parseRequest', () => {
  it.each([
    ['GET', '/containers/json?all=1', { api: 'compat', operation: 'container.list' }],
    ['GET', '/v1.41/containers/abc/json', { api: 'compat', operation: 'container.inspect', subject: 'abc' }],
    ['GET', '/v4.3.1/libpod/containers/abc/json', { api: 'libpod', operation: 'container.inspect', subject: 'abc' }],
    ['POST', '/libpod/containers/create', { api: 'libpod', operation: 'container.create' }],
    ['DELETE', '/containers/abc?force=true', { api: 'compat', operation: 'container.remove', subject: 'abc' }],
    ['POST', '/exec/e1/start', { api: 'compat', operation: 'exec.start', subject: 'e1' }],
    ['GET', '/images/localhost/visp-testbox:1/json', { api: 'compat', operation: 'image.inspect', subject: 'localhost/visp-testbox:1' }],
    ['GET', '/libpod/images/localhost%2Fvisp-testbox:1/exists', { refused: expect.stringMatching(/path tricks/) }],
    ['POST', '/v4.3.1/libpod/images/pull', { api: 'libpod', operation: 'image.pull' }],
  ])('%s %s', (method, url, expected) => {
    expect(parseRequest(method, url)).toEqual(expected);
  });

  it.each([
    ['POST', '/libpod/system/reset'],
    ['POST', '/system/prune'],
    ['POST', '/containers/prune'],
    ['GET', '/containers/abc/../def/json'],
    ['GET', '/containers/abc%2F..%2Fdef/json'],
    ['GET', '/containers//json'],
    ['GET', '/containers/%zz/json'],
    ['DELETE', '/v1.41/containers/abc/..'],
    ['PUT', '/containers/abc/archive'],
  ])('refuses %s %s', (method, url) => {
    expect(parseRequest(method, url)).toHaveProperty('refused');
  });
});

describe('checkCreate', () => {
  const session = toCreateOptions({
    name: 'visp-session-box-aaaaaaaaaaaa',
    image: 'localhost/visp-testbox:1',
    labels: { 'visp.managed': 'true', 'visp.instance': 'prod' },
    user: '1000:1000',
    limits: { memoryBytes: 2 ** 26, nanoCpus: 5e8, pids: 64 },
    tmpfs: [{ target: '/tmp', sizeBytes: 2 ** 24, mode: 0o1777 }],
    volumes: [{ name: 'visp-home-ann-1234', target: '/home/visp' }],
    publish: { containerPort: 8080 },
  });

  it("passes the session-manager's own containers, labels enforced", () => {
    const checked = checkCreate('compat', { ...session, Labels: {} }, policy, 'prod');
    expect(checked).toEqual({ body: expect.objectContaining({ Labels: { 'visp.managed': 'true', 'visp.instance': 'prod' } }) });
  });

  it.each([
    ['an unlisted image', { Image: 'docker.io/library/alpine' }, /image "docker.io\/library\/alpine" is not allowed/],
    ['privileged', { HostConfig: { Privileged: true } }, /privileged/],
    ['host network', { HostConfig: { NetworkMode: 'host' } }, /network namespace/],
    ["another container's pid namespace", { HostConfig: { PidMode: 'container:abc' } }, /pid namespace/],
    ['host user namespace', { HostConfig: { UsernsMode: 'host' } }, /user namespace/],
    ['a device', { HostConfig: { Devices: [{ PathOnHost: '/dev/kvm' }] } }, /devices/],
    ['CapAdd SYS_ADMIN', { HostConfig: { CapAdd: ['SYS_ADMIN'] } }, /capability SYS_ADMIN/],
    ['a / bind mount', { HostConfig: { Binds: ['/:/host'] } }, /bind mount of "\/"/],
    ['a bind Mount', { HostConfig: { Mounts: [{ Type: 'bind', Source: '/etc', Target: '/x' }] } }, /bind mount of "\/etc"/],
    ['sysctls', { HostConfig: { Sysctls: { 'net.ipv4.ip_forward': '1' } } }, /sysctls/],
    ['seccomp=unconfined', { HostConfig: { SecurityOpt: ['seccomp=unconfined'] } }, /seccomp=unconfined/],
    ['label=disable', { HostConfig: { SecurityOpt: ['label=disable'] } }, /label=disable/],
    ["another instance's labels", { Labels: { 'visp.instance': 'other' } }, /instance other/],
  ])('refuses %s', (_what, change, reason) => {
    const body = { ...session, ...change, HostConfig: { ...session.HostConfig, ...(change as { HostConfig?: object }).HostConfig } };
    expect(checkCreate('compat', body, policy, 'prod')).toEqual({ refused: expect.stringMatching(reason) });
  });

  it.each([
    ['privileged', { privileged: true }, /privileged/],
    ['host network', { netns: { nsmode: 'host' } }, /network namespace/],
    ['CapAdd', { cap_add: ['CAP_SYS_ADMIN'] }, /capability CAP_SYS_ADMIN/],
    ['a bind mount', { mounts: [{ type: 'bind', source: '/', destination: '/host' }] }, /bind mount of "\/"/],
    ['apparmor=unconfined', { apparmor_profile: 'unconfined' }, /unconfined/],
  ])('refuses a libpod create with %s', (_what, change, reason) => {
    expect(checkCreate('libpod', { image: 'localhost/visp-testbox:1', ...change }, policy, 'prod')).toEqual({ refused: expect.stringMatching(reason) });
  });
});
