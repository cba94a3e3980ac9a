import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ConfigError, createLogger, gatewayConfig, loadEnvSource, redactConfig, sessionManagerConfig } from './index';

const TOKEN = 's3cret-service-token-0123456789';
const dir = () => mkdtempSync(path.join(tmpdir(), 'visp-config-'));

function parseError(env: Record<string, string>): string {
  try {
    sessionManagerConfig.parse(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadEnvSource', () => {
  it('layers .env, .env.secrets and the environment, later winning', () => {
    const cwd = dir();
    writeFileSync(path.join(cwd, '.env'), 'A=from-env-file\nB=from-env-file\nC=from-env-file\n');
    writeFileSync(path.join(cwd, '.env.secrets'), 'B=from-secrets\nC=from-secrets\n');
    const source = loadEnvSource({ cwd, env: { C: 'from-process' } });
    expect([source.A, source.B, source.C]).toEqual(['from-env-file', 'from-secrets', 'from-process']);
  });

});

describe('NAME_FILE settings', () => {
  it('reads NAME_FILE into NAME, trimming one trailing newline', () => {
    const cwd = dir();
    writeFileSync(path.join(cwd, 'token'), `${TOKEN}\n`);
    expect(sessionManagerConfig.parse({ SERVICE_TOKEN_FILE: path.join(cwd, 'token') }).SERVICE_TOKEN).toBe(TOKEN);
  });

  it('refuses NAME and NAME_FILE together, and unreadable files, naming the setting', () => {
    const cwd = dir();
    expect(() => sessionManagerConfig.parse({ SERVICE_TOKEN: TOKEN, SERVICE_TOKEN_FILE: '/etc/hostname' })).toThrow('SERVICE_TOKEN and SERVICE_TOKEN_FILE are both set');
    expect(() => sessionManagerConfig.parse({ SERVICE_TOKEN_FILE: path.join(cwd, 'missing') })).toThrow(/SERVICE_TOKEN_FILE points to .* cannot be read \(ENOENT\)/);
  });

  it('leaves other programs\' *_FILE variables alone', () => {
    expect(sessionManagerConfig.parse({ SERVICE_TOKEN: TOKEN, TF_CLI_CONFIG_FILE: '/nonexistent/.terraformrc' }).SERVICE_TOKEN).toBe(TOKEN);
  });
});

describe('service config', () => {
  it('applies defaults and freezes the result', () => {
    const config = sessionManagerConfig.parse({ SERVICE_TOKEN: TOKEN });
    expect(config).toMatchObject({ PORT: 8020, REDIS_URL: 'redis://127.0.0.1:6379', INSTANCE_ID: 'dev', logLevel: 'info', component: 'session-manager' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names the setting and what is expected, in one line, without echoing the value', () => {
    expect(parseError({})).toBe('SERVICE_TOKEN must be set (a secret of at least 24 characters; use NAME_FILE for a mounted secret)');
    expect(parseError({ SERVICE_TOKEN: 'short-secret-value' })).toBe('SERVICE_TOKEN must be at least 24 characters long');
    expect(parseError({ SERVICE_TOKEN: TOKEN, PORT: '70000' })).toBe('PORT must be an integer between 1 and 65535');
    expect(parseError({ SERVICE_TOKEN: TOKEN, PORT: 'http' })).toBe('PORT must be an integer between 1 and 65535');
    expect(parseError({ SERVICE_TOKEN: TOKEN, REDIS_URL: 'localhost:6379' })).toBe('REDIS_URL must be a URL starting with redis:// or rediss://');
    expect(parseError({ SERVICE_TOKEN: TOKEN, SESSION_MANAGER_LOG_LEVEL: 'loud' })).toMatch(/^SESSION_MANAGER_LOG_LEVEL must be one of fatal/);
    expect(parseError({ SERVICE_TOKEN: TOKEN, INSTANCE_ID: 'Prod 1' })).toBe('INSTANCE_ID must be lowercase letters, digits and -');
  });

  it('takes PROJECT_REPOSITORIES_DIR only as a directory written one way, which a project id is joined to as text', () => {
    expect(sessionManagerConfig.parse({ SERVICE_TOKEN: TOKEN }).PROJECT_REPOSITORIES_DIR).toBeUndefined();
    expect(sessionManagerConfig.parse({ SERVICE_TOKEN: TOKEN, PROJECT_REPOSITORIES_DIR: '/srv/visp/mounts/repositories' }).PROJECT_REPOSITORIES_DIR).toBe('/srv/visp/mounts/repositories');
    for (const bad of ['repositories', '/', '/srv/repos/', '/srv//repos', '/srv/./repos', '/srv/x/../repos', '/srv/a,b', '/srv/a:b', '/srv/a\nb']) {
      expect([bad, parseError({ SERVICE_TOKEN: TOKEN, PROJECT_REPOSITORIES_DIR: bad })]).toEqual([bad, expect.stringMatching(/^PROJECT_REPOSITORIES_DIR must be an absolute directory/)]);
    }
  });

  it("gives the gateway the repositories and VISP's kb-whisper model and backend, each checked", () => {
    const gateway = { SERVICE_TOKEN: TOKEN, COOKIE_SECRET: 'c'.repeat(32) };
    const parsed = gatewayConfig.parse({ ...gateway, PROJECT_REPOSITORIES_DIR: '/srv/r', VISP_KB_WHISPER_MODEL: 'KBLab/kb-whisper-large', VISP_KB_WHISPER_BACKEND: 'openai' });
    expect([parsed.PROJECT_REPOSITORIES_DIR, parsed.VISP_KB_WHISPER_MODEL, parsed.VISP_KB_WHISPER_BACKEND]).toEqual(['/srv/r', 'KBLab/kb-whisper-large', 'openai']);
    const unset = gatewayConfig.parse({ ...gateway, VISP_KB_WHISPER_BACKEND: '' });
    expect([unset.PROJECT_REPOSITORIES_DIR, unset.VISP_KB_WHISPER_MODEL, unset.VISP_KB_WHISPER_BACKEND]).toEqual([undefined, undefined, undefined]);
    expect(() => gatewayConfig.parse({ ...gateway, VISP_KB_WHISPER_BACKEND: 'kb' })).toThrow(/VISP_KB_WHISPER_BACKEND must be faster-whisper or openai/);
    for (const bad of ['../x', 'a/b/c', '/abs', 'a b']) expect(() => gatewayConfig.parse({ ...gateway, VISP_KB_WHISPER_MODEL: bad })).toThrow(/VISP_KB_WHISPER_MODEL must be a model name/);
  });

  it('prefers <COMPONENT>_LOG_LEVEL over LOG_LEVEL', () => {
    expect(sessionManagerConfig.parse({ SERVICE_TOKEN: TOKEN, LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
    expect(sessionManagerConfig.parse({ SERVICE_TOKEN: TOKEN, LOG_LEVEL: 'warn', SESSION_MANAGER_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
  });

  it('masks secrets when the config is shown', () => {
    const shown = redactConfig(sessionManagerConfig, sessionManagerConfig.parse({ SERVICE_TOKEN: TOKEN }));
    expect(shown.SERVICE_TOKEN).toBe('[redacted]');
    expect(JSON.stringify(shown)).not.toContain(TOKEN);
  });
});

describe('createLogger', () => {
  function capture(level: 'info' | 'warn') {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
    return { lines, logger: createLogger({ component: 'test', level, destination }) };
  }

  it('writes JSON lines tagged with the component, at the configured level', () => {
    const { lines, logger } = capture('warn');
    logger.info('dropped');
    logger.warn({ sid: 'abc' }, 'kept');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ component: 'test', msg: 'kept', sid: 'abc', level: 40 });
  });

  it('never writes credentials', () => {
    const { lines, logger } = capture('info');
    logger.info({ req: { headers: { authorization: `Bearer ${TOKEN}`, cookie: `visp=${TOKEN}` } }, route: { token: TOKEN }, password: TOKEN }, 'request');
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
  });
});
