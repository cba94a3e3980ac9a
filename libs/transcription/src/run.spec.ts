import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { transformFileSync } from '@swc/core';
import { isRunning, waitFor } from '@visp/testing';
import { PassThrough } from 'node:stream';
import { eachLine, runProcess } from './run';

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
    await waitFor('the grandchild to end', () => !isRunning(grandchild), 5000, 20);
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
      await waitFor('the program to end', () => !isRunning(program), 1000, 20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('eachLine', () => {
  it('hands on lines split across chunks, several in one chunk, and the last one without a newline', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    eachLine(stream, (line) => lines.push(line));
    const long = 'x'.repeat(200_000);
    for (const chunk of ['a\nb', 'c\n\nd', long.slice(0, 70_000), long.slice(70_000), '\né', 'nd']) stream.write(chunk);
    stream.end();
    await new Promise((resolve) => stream.once('end', resolve));
    expect(lines).toEqual(['a', 'bc', '', `d${long}`, 'énd']);
  });
});

function waitForPid(file: string): Promise<number> {
  return waitFor(
    `a pid in ${file}`,
    () => {
      try {
        const pid = Number(readFileSync(file, 'utf8').trim());
        return pid > 0 ? pid : undefined;
      } catch {
        return undefined;
      }
    },
    5000,
    20,
  );
}
