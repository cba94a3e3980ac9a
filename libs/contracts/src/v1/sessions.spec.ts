import { BusEventSchema, OwnerSchema, ProjectIdSchema, RouteSchema, SessionIdSchema, SessionLabelsSchema } from '../index';

describe('session contracts', () => {
  it('accepts only 12-character base32 session ids', () => {
    expect(SessionIdSchema.safeParse('abcdefghij23').success).toBe(true);
    for (const bad of ['ABCDEFGHIJ23', 'abcdefghij1', 'abcdefghij018', 'abcdefghij2!', '../../etc/pa']) {
      expect(SessionIdSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('rejects owners that could escape a name or a path', () => {
    expect(OwnerSchema.safeParse('alice@uni.se').success).toBe(true);
    for (const bad of ['', '-rf', '../bob', 'a b', 'a/b', 'x'.repeat(129)]) {
      expect(OwnerSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('takes a project id only as one path segment, never a way out of the repositories directory', () => {
    for (const good of ['p1', '5f1a2b3c4d5e6f7a8b9c0d1e', '42', 'Speech-2024_v1.2', 'a..b', 'x'.repeat(128), '-V1StGXR8_Z5jdHi6B-myT', '_x']) {
      expect([good, ProjectIdSchema.safeParse(good).success]).toEqual([good, true]);
    }
    const bad = ['', '.', '..', '.git', '..%2fetc', '.-rf', '../etc', 'a/b', 'a/../..', '/etc', 'a\\b', '%2e%2e', 'a b', 'a\u0000', 'p1\n', 'ａ', 'x'.repeat(129)];
    for (const id of bad) expect([id, ProjectIdSchema.safeParse(id).success]).toEqual([id, false]);
  });

  it('requires an ISO creation time and a known shape in labels', () => {
    const ok = { instance: 'dev', id: 'abcdefghij23', type: 'jupyter', owner: 'alice', created: '2026-01-01T00:00:00.000Z' };
    expect(SessionLabelsSchema.parse(ok)).toEqual(ok);
    expect(SessionLabelsSchema.safeParse({ ...ok, created: 'yesterday' }).success).toBe(false);
  });

  it('routes only to http(s) targets', () => {
    const route = { sid: 'abcdefghij23', owner: 'alice', target: 'http://127.0.0.1:4000', token: 'x'.repeat(32), stripPrefix: false, updatedAt: new Date().toISOString() };
    expect(RouteSchema.safeParse(route).success).toBe(true);
    expect(RouteSchema.safeParse({ ...route, target: 'file:///etc/passwd' }).success).toBe(false);
  });

  it('tells bus events apart by type', () => {
    const at = new Date().toISOString();
    const parsed = BusEventSchema.parse({ type: 'session.state', owner: 'alice', sid: 'abcdefghij23', state: 'ready', at });
    expect(parsed.type).toBe('session.state');
    expect(BusEventSchema.safeParse({ type: 'session.unknown', owner: 'alice', sid: 'abcdefghij23', at }).success).toBe(false);
  });
});
