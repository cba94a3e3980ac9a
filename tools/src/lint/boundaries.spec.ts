// The lint rules that keep the architecture honest must really run: if one silently switched itself off
// (as enforce-module-boundaries does without Nx's project graph), these fail.
import { execFile } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

/** Lints `code` as if it were `file`, with the real ESLint CLI and the workspace config. */
function ruleIds(file: string, code: string): Promise<string[]> {
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

describe('architecture lint rules', () => {
  jest.setTimeout(30_000);

  it('forbids a lib importing an app', async () => {
    expect(await ruleIds('libs/bus/src/probe.ts', "import '../../../apps/gateway/src/main';\n")).toContain('@nx/enforce-module-boundaries');
  });

  it('forbids an app importing another app', async () => {
    expect(await ruleIds('apps/gateway/src/probe.ts', "import '../../session-manager/src/main';\n")).toContain('@nx/enforce-module-boundaries');
  });

  it('forbids deep imports into a lib', async () => {
    expect(await ruleIds('apps/gateway/src/probe.ts', "import { keys } from '@visp/bus/src/keys';\nexport const k = keys;\n")).toContain('no-restricted-imports');
  });

  it('forbids reading process.env outside libs/config', async () => {
    expect(await ruleIds('apps/gateway/src/probe.ts', 'export const port = process.env.PORT;\n')).toContain('no-restricted-properties');
    expect(await ruleIds('libs/config/src/probe.ts', 'export const port = process.env.PORT;\n')).toEqual([]);
  });

  it('forbids any', async () => {
    expect(await ruleIds('libs/bus/src/probe.ts', 'export const x: any = 1;\n')).toContain('@typescript-eslint/no-explicit-any');
  });
});
