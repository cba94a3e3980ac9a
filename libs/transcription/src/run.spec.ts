import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { transformFileSync } from '@swc/core';
import { isRunning } from '@visp/testing';
import { runProcess } from './run';

describe('runProcess', () => {
  it('passes arguments as they are, lines as they come, and the exit code', async () => {
    const lines: string[] = [];
    const result = await runProcess('sh', ['-c', 'printf "%s\\n" "$1" "$2"; echo oops >&2; exit 3', 'sh', 'a b; echo no', '$HOME'], { onLine: (l) => lines.push(l) });
    expect(lines).toEqual(['a b; echo no', '$HOME']);
    expect(result).toEqual({ code: 3, stderr: 'oops\n' });
  });

  it('rejects a program that cannot be started', async () => {
    await expect(runProcess('/nonexistent/engine', [])).rejects.toThrow(/nonexistent\/engine/);
  });

  it('kills the whole process group on abort', async () => {
    const controller = new AbortController();
    const pidFile = `/tmp/visp-run-spec-${process.pid}`;
    const running = runProcess('sh', ['-c', `sleep 30 & echo $! > ${pidFile}; wait`], { signal: controller.signal });
    const grandchild = await waitForPid(pidFile);
    controller.abort(new Error('cancelled'));
    await expect(running).rejects.toThrow('cancelled');
    await waitUntil(() => !isRunning(grandchild));
  });

  it('takes the program with it when this process dies, even by SIGKILL', async () => {
    // A parent of its own (this module compiled to plain JS) runs a program that writes nothing, then is killed
    // with -9: nothing but the kernel's parent-death signal can end the program.
    const dir = mkdtempSync(path.join(tmpdir(), 'visp-run-spec-'));
    try {
      const compiled = transformFileSync(path.join(__dirname, 'run.ts'), { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } });
      writeFileSync(path.join(dir, 'run.js'), compiled.code);
      const pidFile = path.join(dir, 'pid');
      const script = `require('./run.js').runProcess('sh', ['-c', 'echo $$ > ${pidFile}; exec sleep 30'])`;
      const parent = spawn(process.execPath, ['-e', script], { cwd: dir, stdio: 'ignore' });
      const program = await waitForPid(pidFile);
      parent.kill('SIGKILL');
      await waitUntil(() => !isRunning(program), 1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function waitForPid(file: string): Promise<number> {
  let pid = 0;
  await waitUntil(() => {
    try {
      pid = Number(readFileSync(file, 'utf8').trim());
    } catch {
      return false;
    }
    return pid > 0;
  });
  return pid;
}

async function waitUntil(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
