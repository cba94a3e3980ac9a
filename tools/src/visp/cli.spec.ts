import { spawnSync } from 'node:child_process';
import { Args, helpText, type VispCommand } from './cli';
import { COMMANDS } from './commands';
import { main } from './main';

// Nothing here may run podman: the one command that would (exec) is checked by what it would have run.
jest.mock('node:child_process', () => ({ ...jest.requireActual<object>('node:child_process'), spawnSync: jest.fn() }));

/** Runs `visp <argv>` in process, with what it wrote. */
async function visp(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const capture = (stream: 'stdout' | 'stderr') =>
    jest.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
      out[stream] += chunk.toString();
      return true;
    });
  const spies = [capture('stdout'), capture('stderr')];
  try {
    return { code: await main(argv), ...out };
  } finally {
    spies.forEach((spy) => spy.mockRestore());
  }
}

const allNames = COMMANDS.flatMap((command) => command.names);

describe('the visp command table', () => {
  it('has the seventeen commands, each name once', () => {
    expect([...allNames].sort()).toEqual(['audit', 'backup', 'doctor', 'drift', 'exec', 'install', 'logs', 'network', 'projects', 'restart', 'restore', 'sessions', 'shell', 'start', 'status', 'stop', 'uninstall']);
  });

  it('declares every option its usage line names, with the value it takes', () => {
    const declared = (command: VispCommand) => [...command.usage.matchAll(/(?<![\w-])--?[a-z][\w-]*/g)].map((m) => m[0]);
    for (const command of COMMANDS) {
      for (const flag of declared(command)) {
        const option = command.options.find((o) => o.flag === flag);
        expect([command.names[0], flag, option?.flag]).toEqual([command.names[0], flag, flag]);
        if (option?.value) expect(command.usage).toContain(`${flag} ${option.value}`);
      }
    }
  });
});

describe('visp help', () => {
  it('lists every entry of the table by its usage line', async () => {
    const { code, stdout } = await visp('help');
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('usage: visp <command> [options]   (visp <command> --help for each)');
    for (const command of COMMANDS) expect(stdout).toContain(`\n  ${command.usage}\n`);
    for (const name of allNames) expect(stdout).toMatch(new RegExp(`visp (\\S+\\|)?${name}\\b`));
    expect(await visp('--help')).toEqual({ code: 0, stdout, stderr: '' });
    expect(await visp()).toEqual({ code: 2, stdout, stderr: '' });
  });

  it("answers `visp help CMD`, `visp CMD --help` and `visp CMD -h` with the command's own help, for each of its names", async () => {
    for (const command of COMMANDS) {
      for (const name of command.names) {
        const expected = { code: 0, stdout: `${helpText(command)}\n`, stderr: '' };
        expect(await visp('help', name)).toEqual(expected);
        expect(await visp(name, '--help')).toEqual(expected);
        expect(await visp(name, 'SERVICE', '-h')).toEqual(expected);
      }
    }
    expect((await visp('help', 'backup')).stdout).toBe(
      "visp backup --out DIR [--mongo-uri URI] [--volumes a,b] [--json]\n  The database (every collection, with indexes) and the users' volumes, with a manifest of checksums.\n",
    );
  });

  it('says a command is unknown, with the list, and exits 2', async () => {
    for (const argv of [['frobnicate'], ['frobnicate', '--help'], ['help', 'frobnicate']]) {
      const { code, stdout, stderr } = await visp(...argv);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.split('\n')[0]).toBe(`visp: unknown command frobnicate (known: ${allNames.join(', ')})`);
      for (const command of COMMANDS) expect(stderr).toContain(`  ${command.usage}\n`);
    }
  });
});

describe('visp commands from the table', () => {
  it('answers a missing argument with what is missing and the fix, exit 1, before touching anything', async () => {
    const { MONGO_URI: _uri, ...env } = process.env;
    const saved = process.env;
    process.env = env;
    try {
      expect(await visp('backup')).toEqual({ code: 1, stdout: '', stderr: `visp backup: where to?\n  fix: ${helpText(COMMANDS.find((c) => c.names[0] === 'backup')!)}\n` });
      expect((await visp('backup', '--out', '/nonexistent')).stderr).toMatch(/^visp backup: no database given\n {2}fix: pass --mongo-uri, or set MONGO_URI/);
      expect((await visp('restore', '--mongo-uri', 'mongodb://x')).stderr).toMatch(/^visp restore: from where\?\n/);
      expect((await visp('exec', 'gateway')).stderr).toMatch(/^visp exec: which service, and what command\?\n {2}fix: visp shell SERVICE \| visp exec/);
      expect((await visp('shell')).stderr).toMatch(/^visp shell: which service\?\n/);
      expect((await visp('install', '--auth', 'ldap')).stderr).toBe('visp install: --auth ldap: not shibboleth or dev-key\n');
      expect((await visp('install', '--sessions-cert', 'a.pem')).stderr).toBe('visp install: --sessions-cert and --sessions-key go together\n');
      expect((await visp('sessions', 'stop', '--url', 'http://x', '--token', 't')).stderr).toMatch(/^visp sessions: which session\?\n/);
    } finally {
      process.env = saved;
    }
  });
});

describe('a command that runs another (visp exec)', () => {
  it("passes everything from the command's name on, -h, --help and --json included, and keeps the service", async () => {
    jest.mocked(spawnSync).mockReturnValue({ status: 0 } as never);
    for (const tail of [['redis-cli', '-h'], ['redis-cli', '--help'], ['ls', '--json', '-la', 'gateway']]) {
      expect(await visp('exec', 'gateway', ...tail)).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(spawnSync).toHaveBeenLastCalledWith('podman', ['exec', 'visp-gateway', ...tail], { stdio: 'inherit' });
    }
  });

  it('splits the arguments after its own positional ones; before them, help is still visp\'s', () => {
    const args = new Args(['--json', 'gateway', 'redis-cli', '-h', 'x'], [], 1);
    expect([args.own, args.passed, args.positional(), args.has('-h'), args.has('--json')]).toEqual([['--json', 'gateway'], ['redis-cli', '-h', 'x'], ['gateway'], false, true]);
    expect(new Args(['gateway', '-h'], [], 1)).toMatchObject({ own: ['gateway', '-h'], passed: [] });
    expect(new Args(['a', '-h', 'b'])).toMatchObject({ own: ['a', '-h', 'b'], passed: [] });
  });
});
