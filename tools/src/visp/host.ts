import { spawnSync } from 'node:child_process';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (never a shell) and returns what it said; a program that is missing is exit code 127. */
export function sh(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Ran {
  const result = spawnSync(command, args, { encoding: 'utf8', env: options.env, input: options.input, cwd: options.cwd, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) return { code: 127, stdout: '', stderr: result.error.message };
  return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a program with the terminal attached (logs -f, shell); resolves with its exit code. */
export function attached(command: string, args: readonly string[]): number {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  return result.status ?? 1;
}

/** A failure the operator can act on: what went wrong, and how to fix it. */
export class OperatorError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}
