import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { buildSync } from 'esbuild';

/** Whether `pid` is a live process (a zombie is not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('spawnLogged', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visp-processes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves nothing running when the process that started it is killed without stopping it', async () => {
    // A real parent process that starts a server-like child through spawnLogged, then dies by SIGKILL.
    const bundle = path.join(dir, 'processes.js');
    buildSync({ entryPoints: [path.join(__dirname, 'processes.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent' });
    const script = `const c = require(${JSON.stringify(bundle)}).spawnLogged('sleeper', 'sleep', ['300'], { logFile: ${JSON.stringify(path.join(dir, 'sleeper.log'))} }); c.process.once('spawn', () => console.log(c.process.pid));`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = Number(await new Promise<string>((resolve) => createInterface({ input: parent.stdout }).once('line', resolve)));
    expect(running(pid)).toBe(true);

    parent.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (running(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const leftOver = running(pid);
    if (leftOver) process.kill(pid, 'SIGKILL');
    expect(leftOver).toBe(false);
  });
});
