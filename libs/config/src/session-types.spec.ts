import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BUILTIN_SESSION_TYPES, ConfigError, expandLaunch, expandTemplate, loadSessionTypes } from './index';

const file = (content: string) => {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'visp-types-')), 'types.json');
  writeFileSync(f, content);
  return f;
};
const valid = { image: 'localhost/x:1', port: 8080, readinessPath: '/', baseUrlAware: false, limits: { default: { memoryMiB: 64, cpus: 1, pids: 64 }, max: { memoryMiB: 128, cpus: 2, pids: 128 } } };

describe('session types', () => {
  it('has jupyter (base-URL aware) and rstudio (prefix stripped) built in, with defaults filled', () => {
    expect(Object.keys(BUILTIN_SESSION_TYPES).sort()).toEqual(['jupyter', 'rstudio', 'vscode']);
    expect(BUILTIN_SESSION_TYPES.jupyter).toMatchObject({ baseUrlAware: true, activity: 'jupyter', user: '1000:1000', readinessPath: '{baseUrl}api/status' });
    expect(BUILTIN_SESSION_TYPES.rstudio).toMatchObject({ baseUrlAware: false, port: 8787, homeDir: '/home/visp' });
    expect(BUILTIN_SESSION_TYPES.vscode).toMatchObject({ baseUrlAware: false, port: 8080, readinessPath: '/healthz', command: expect.arrayContaining(['--auth=none', '/home/visp']) });
  });

  it('uses the built-ins without a file, and a file instead of them', () => {
    expect(loadSessionTypes(undefined)).toBe(BUILTIN_SESSION_TYPES);
    expect(Object.keys(loadSessionTypes(file(JSON.stringify({ shiny: valid }))))).toEqual(['shiny']);
  });

  it('names the file and the bad field in one line', () => {
    const cases: Array<[string, RegExp]> = [
      ['{not json', /is not valid JSON$/],
      [JSON.stringify({}), /: \(top level\): must define at least one session type$/],
      [JSON.stringify({ Bad: valid }), /: Bad: a session type is a lowercase name$/],
      [JSON.stringify({ x: { ...valid, user: '0:0' } }), /: x\.user: must be uid:gid, and not root$/],
      [JSON.stringify({ x: { ...valid, readinessPath: 'api' } }), /: x\.readinessPath: must start with \/ or \{baseUrl\}$/],
      [JSON.stringify({ x: { ...valid, limits: { default: valid.limits.max, max: valid.limits.default } } }), /: x\.limits: default limits must not exceed the maximum$/],
      [JSON.stringify({ x: { ...valid, privileged: true } }), /: x: Unrecognized key: "privileged"$/],
      [JSON.stringify({ x: { ...valid, port: 8007 } }), /: x\.port: 8007 is the session guard's port$/],
    ];
    for (const [content, expected] of cases) {
      const f = file(content);
      expect(() => loadSessionTypes(f)).toThrow(ConfigError);
      expect(() => loadSessionTypes(f)).toThrow(expected);
    }
    expect(() => loadSessionTypes('/nonexistent/types.json')).toThrow('SESSION_TYPES_FILE /nonexistent/types.json cannot be read (ENOENT)');
  });
});

describe('templates', () => {
  const values = { baseUrl: '/s/abc/', token: 'T', user: 'alice' };

  it('expands only the known placeholders', () => {
    expect(expandTemplate('{baseUrl}api/status?x={token}&u={user}&k={other}', values)).toBe('/s/abc/api/status?x=T&u=alice&k={other}');
  });

  it('fills in a whole launch: command, environment and readiness probe', () => {
    const launch = expandLaunch(BUILTIN_SESSION_TYPES.jupyter, values);
    expect(launch.command).toContain('--ServerApp.base_url=/s/abc/');
    expect(launch).toMatchObject({ env: { JUPYTER_TOKEN: 'T' }, readinessPath: '/s/abc/api/status', readinessHeaders: { Authorization: 'token T' } });
  });
});
