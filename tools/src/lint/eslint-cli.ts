import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../paths';

/**
 * Lints `code` as if it were `file`, with the real ESLint CLI and the workspace config (eslint.config.mjs), and
 * returns the ids of the rules it broke. The CLI, not ESLint's API: Jest cannot load the ESM config.
 */
export function ruleIds(file: string, code: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      path.join(ROOT, 'node_modules/.bin/eslint'),
      ['--format', 'json', '--stdin', '--stdin-filename', path.join(ROOT, file)],
      { cwd: ROOT },
      (error, stdout) => {
        try {
          const [result] = JSON.parse(stdout) as Array<{ messages: Array<{ ruleId: string | null; message: string }> }>;
          resolve((result?.messages ?? []).map((m) => m.ruleId ?? m.message));
        } catch {
          reject(error ?? new Error(`eslint printed no JSON: ${stdout}`));
        }
      },
    );
    child.stdin?.end(code);
  });
}
