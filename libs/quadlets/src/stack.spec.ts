import * as childProcess from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseUnit, splitCommand, startContainerStack } from './stack';

jest.mock('node:child_process');
const mockedChildProcess = jest.mocked(childProcess);
const QUADLETS = path.resolve(__dirname, '../../../quadlets');

describe('reading quadlets', () => {
  it('keeps repeated keys in order, per section, without comments', () => {
    const unit = parseUnit('# a comment\n[Unit]\nDescription=x\n\n[Container]\nNetwork=a.network\n; another\nNetwork=b.network\nEnvironment=A=b=c\n');
    expect(unit.get('Unit')).toEqual([['Description', 'x']]);
    expect(unit.get('Container')).toEqual([
      ['Network', 'a.network'],
      ['Network', 'b.network'],
      ['Environment', 'A=b=c'],
    ]);
  });

  it('splits Exec= and PodmanArgs= as systemd does, quotes kept together', () => {
    expect(splitCommand(`sh -c 'exec redis-server --requirepass "$(cat /run/secrets/p)"'`)).toEqual(['sh', '-c', 'exec redis-server --requirepass "$(cat /run/secrets/p)"']);
    expect(splitCommand('--cpus=1 --memory=512m')).toEqual(['--cpus=1', '--memory=512m']);
  });
});

describe('starting the container stack (podman stubbed)', () => {
  const calls: string[] = [];
  let failing: string | undefined;
  beforeEach(() => {
    calls.length = 0;
    failing = undefined;
    mockedChildProcess.execFileSync.mockImplementation(((_command: string, args: string[]) => {
      const line = args.join(' ');
      calls.push(line);
      if (failing && line.includes(failing)) throw new Error(`podman ${failing} failed`);
      return ['ps', 'volume', 'network'].includes(args[0] as string) && args.includes('--filter') ? 'left-over\n' : '';
    }) as never);
    mockedChildProcess.spawnSync.mockImplementation(((_command: string, args: string[]) => {
      calls.push(args.join(' '));
      return { status: 0, stdout: args[1] === 'inspect' ? 'running\n' : '', stderr: '' };
    }) as never);
    jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response('ok'));
  });

  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const start = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'visp-stack-spec-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'podman.sock'), '');
    return startContainerStack({ quadlets: QUADLETS, instance: 'spec', podmanSocket: path.join(dir, 'podman.sock'), gatewayPort: 18999, podmanEnv: {} });
  };
  const first = (prefix: string) => calls.findIndex((c) => c.startsWith(prefix));

  it('makes the networks, then the secrets, clears left-overs, starts each service healthy in order, then waits for the gateway', async () => {
    const stack = await start();
    expect(first('network create')).toBeLessThan(first('secret create'));
    expect(first('secret create')).toBeLessThan(first('rm --force --time 2 visp-redis'));
    const runs = calls.filter((c) => c.startsWith('run -d')).map((c) => /--name (\S+)/.exec(c)?.[1]);
    expect(runs).toEqual(['visp-redis', 'visp-mongo', 'visp-socket-proxy', 'visp-session-manager', 'visp-recovery', 'visp-whisper-worker', 'visp-gateway']);
    // A killed run's containers all go once, before any volume is emptied and any service starts.
    const starting = calls.slice(0, first('container inspect visp-gateway'));
    const removals = starting.filter((c) => /^rm /.test(c));
    expect(removals).toEqual(runs.map((name) => `rm --force --time 2 ${name}`));
    expect(calls.findLastIndex((c) => /^rm /.test(c))).toBeLessThan(Math.min(first('volume rm'), first('run -d')));
    for (const name of runs) {
      const run = calls.findIndex((c) => c.startsWith('run -d') && c.includes(`--name ${name} `));
      expect(calls[run + 1]).toMatch(new RegExp(`^container inspect ${name} `));
    }
    expect(stack.commands.gateway).toEqual(expect.arrayContaining(['-p', '127.0.0.1:18999:8080', 'localhost/visp-gateway:1']));
    expect(stack.commands.redis).toContain('localhost/visp-test-redis:1');
    expect(fetch).toHaveBeenCalledWith('http://127.0.0.1:18999/readyz');
    await stack.stop();
  });

  it('tears everything down when a step fails, and rethrows', async () => {
    failing = '--name visp-session-manager';
    await expect(start()).rejects.toThrow('podman --name visp-session-manager failed');
    const failedAt = calls.findIndex((c) => c.includes('--name visp-session-manager'));
    const after = calls.slice(failedAt + 1);
    expect(after.filter((c) => c.startsWith('run -d'))).toEqual([]);
    const suffix = /^secret create visp-service-token-(\w+) /.exec(calls.find((c) => c.startsWith('secret create visp-service-token-')) ?? '')?.[1];
    expect(after).toEqual(expect.arrayContaining(['rm --force --time 5 left-over', 'volume rm --force left-over', 'network rm --force left-over', `secret rm visp-service-token-${suffix}`]));
  });
});
