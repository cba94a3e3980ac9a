import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@visp/config';
import { loadPolicyFile } from './policy-file';

const dir = mkdtempSync(path.join(tmpdir(), 'visp-policy-'));
const file = (name: string, content: unknown) => {
  const at = path.join(dir, name);
  writeFileSync(at, typeof content === 'string' ? content : JSON.stringify(content));
  return at;
};

describe('loadPolicyFile', () => {
  it('reads clients with their operations, image patterns and allowances', () => {
    const policies = loadPolicyFile(file('ok.json', { clients: { monitor: { operations: ['ping', 'container.list'] }, builder: { operations: ['container.create'], images: ['^localhost/'], capAdd: ['NET_BIND_SERVICE'], bindRoots: ['/srv/data'], sessionGuard: '/srv/bin/visp-session-guard', projectRepositories: '/srv/repositories' } } }));
    expect([...(policies.monitor?.operations ?? [])]).toEqual(['ping', 'container.list']);
    expect(policies.builder?.images[0]?.test('localhost/x')).toBe(true);
    expect(policies.builder?.bindRoots).toEqual(['/srv/data']);
    expect(policies.builder?.sessionGuard).toBe('/srv/bin/visp-session-guard');
    expect(policies.monitor?.sessionGuard).toBeUndefined();
    expect(policies.builder?.projectRepositories).toBe('/srv/repositories');
    expect(policies.monitor?.projectRepositories).toBeUndefined();
  });

  it('leaves out what is not said on the safe side: no volumes, non-root, all capabilities dropped, owner homes only', () => {
    const policies = loadPolicyFile(file('safe.json', { clients: { a: { operations: ['container.create'] }, b: { operations: [], volumes: ['^data-'], nonRoot: false } } }));
    expect(policies.a).toMatchObject({ volumes: [], nonRoot: true, capDropAll: true, ownerHome: true });
    expect(policies.b?.volumes[0]?.test('data-1')).toBe(true);
    expect(policies.b?.nonRoot).toBe(false);
  });

  it.each([
    ['an unknown operation', { clients: { a: { operations: ['system.reset'] } } }, /clients\.a\.operations\.0/],
    ['an unknown field', { clients: { a: { operations: [], privileged: true } } }, /privileged/],
    ['a relative bind root', { clients: { a: { operations: [], bindRoots: ['data'] } } }, /absolute path/],
    ['a relative session guard', { clients: { a: { operations: [], sessionGuard: 'bin/visp-session-guard' } } }, /sessionGuard: an absolute path/],
    ['a projects directory with a .. part', { clients: { a: { operations: [], projectRepositories: '/srv/x/../etc' } } }, /projectRepositories: an absolute directory/],
    ['a projects directory with a trailing /', { clients: { a: { operations: [], projectRepositories: '/srv/repositories/' } } }, /projectRepositories: an absolute directory/],
    ['a broken image pattern', { clients: { a: { operations: [], images: ['(unclosed'] } } }, /image pattern .* is not a regular expression/],
    ['a broken volume pattern', { clients: { a: { operations: [], volumes: ['[x'] } } }, /volume pattern .* is not a regular expression/],
    ['not JSON', '{clients:', /JSON|Unexpected|Expected/],
  ])('refuses %s at start, with where and why', (_what, content, message) => {
    const at = file(`bad-${Math.random()}.json`, content);
    expect(() => loadPolicyFile(at)).toThrow(ConfigError);
    expect(() => loadPolicyFile(at)).toThrow(message);
  });
});
