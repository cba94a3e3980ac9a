import * as childProcess from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { containerRunArgs, networkCreateArgs, parseUnit, splitCommand, startContainerStack } from './stack';

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

/** A service's `Network=` on visp-net: its fixed address and the MAC address made of it. */
const SERVICE_ON_VISP_NET = /^visp-net\.network:ip=([\d.]+),mac=([\da-f:]+)$/;

describe('the services network (no name server: fixed addresses and /etc/hosts)', () => {
  const units = readdirSync(QUADLETS)
    .filter((f) => f.endsWith('.container'))
    .map((file) => ({ file, entries: parseUnit(readFileSync(path.join(QUADLETS, file), 'utf8')).get('Container') ?? [] }));
  const values = (entries: Array<[string, string]>, key: string) => entries.filter(([k]) => k === key).map(([, v]) => v);
  const network = networkCreateArgs('visp-net.network', parseUnit(readFileSync(path.join(QUADLETS, 'visp-net.network'), 'utf8')));
  const inRange = (address: string, cidr: string) => {
    const [base = '', bits = '32'] = cidr.split('/');
    const toNumber = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
    const size = 2 ** (32 - Number(bits));
    return Math.floor(toNumber(address) / size) === Math.floor(toNumber(base) / size);
  };
  const flag = (name: string) => network.flags[network.flags.indexOf(name) + 1] as string;
  // Each service's own address: `Network=visp-net.network:ip=…`, by container name.
  const addresses = new Map(
    units.flatMap(({ entries }) => {
      const ip = values(entries, 'Network').map((n) => SERVICE_ON_VISP_NET.exec(n)?.[1]).find(Boolean);
      return ip ? [[values(entries, 'ContainerName')[0] as string, ip] as const] : [];
    }),
  );

  it('is made without DNS, and hands out addresses only from a range no service has', () => {
    expect(network.name).toBe('visp-net');
    expect(network.flags).toContain('--disable-dns');
    for (const [service, ip] of addresses) expect([service, inRange(ip, flag('--subnet')), inRange(ip, flag('--ip-range'))]).toEqual([service, true, false]);
  });

  it('gives every container on it a fixed address of its own, and a MAC address made of it (a restarted service keeps both)', () => {
    const onIt = units.filter(({ entries }) => values(entries, 'Network').some((n) => n.startsWith('visp-net.network')));
    expect(onIt.map(({ file }) => file).sort()).toEqual([...addresses.keys()].map((name) => `${name}.container`).sort());
    expect(new Set(addresses.values()).size).toBe(addresses.size);
    for (const { entries } of onIt) {
      const [, ip = '', mac = ''] = SERVICE_ON_VISP_NET.exec(values(entries, 'Network').find((n) => n.startsWith('visp-net.network')) ?? '') ?? [];
      expect(mac).toBe(`02:00:${ip.split('.').map((octet) => Number(octet).toString(16).padStart(2, '0')).join(':')}`);
    }
  });

  it("lists in each container's /etc/hosts every service it connects to, at that service's address", () => {
    // Where a unit names a service: its URLs, the secrets holding the databases' URLs, the Caddyfile visp install writes.
    const secretHosts: Record<string, string> = { 'visp-redis-url': 'visp-redis', 'visp-mongo-uri': 'visp-mongo' };
    const caddyfileHosts = ['visp-gateway', 'visp-sp'];
    for (const { file, entries } of units.filter(({ file }) => addresses.has(file.replace(/\.container$/, '')))) {
      const named = new Set([
        ...values(entries, 'Environment').flatMap((e) => [...e.matchAll(/\/\/(visp-[a-z-]+):\d+/g)].map((m) => m[1] as string)),
        ...values(entries, 'Secret').flatMap((s) => secretHosts[s.split(',')[0] as string] ?? []),
        ...(file === 'visp-caddy.container' ? caddyfileHosts : []),
      ]);
      const hosts = Object.fromEntries(values(entries, 'AddHost').map((h) => h.split(':') as [string, string]));
      expect([file, Object.keys(hosts).sort()]).toEqual([file, [...named].sort()]);
      for (const [name, ip] of Object.entries(hosts)) expect([file, name, ip]).toEqual([file, name, addresses.get(name)]);
    }
  });

  it('becomes the podman flags quadlet makes of it; an unknown key is refused', () => {
    expect(network.flags).toEqual(['--subnet', '10.89.254.0/24', '--disable-dns', '--ip-range', '10.89.254.0/25']);
    expect(() => networkCreateArgs('x.network', parseUnit('[Network]\nNetworkName=x\nDNS=1.1.1.1\n'))).toThrow(/x\.network: the stack launcher does not know DNS=/);
    const unit = parseUnit('[Container]\nContainerName=c\nImage=i\nNetwork=visp-net.network:ip=10.89.254.206\nNetwork=visp-whisper.network\nAddHost=visp-redis:10.89.254.201\n');
    expect(containerRunArgs('c.container', unit, { secret: (s) => s, volume: (v) => v, envFile: '' }).flags).toEqual([
      '--name', 'c', '--network', 'visp-net:ip=10.89.254.206', '--network', 'visp-whisper', '--add-host', 'visp-redis:10.89.254.201',
    ]);
  });
});

describe("the services' stop timeouts", () => {
  it('give each Node service more than its drain deadline (SHUTDOWN_TIMEOUT_MS, 10 s) before Podman sends SIGKILL', () => {
    for (const service of ['gateway', 'session-manager', 'recovery', 'socket-proxy', 'whisper-worker']) {
      const entries = parseUnit(readFileSync(path.join(QUADLETS, `visp-${service}.container`), 'utf8')).get('Container') ?? [];
      const timeout = Number(entries.find(([key]) => key === 'StopTimeout')?.[1]);
      expect([service, timeout >= 20]).toEqual([service, true]);
    }
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
