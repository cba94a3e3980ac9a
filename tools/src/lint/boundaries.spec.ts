// The lint rules that keep the architecture honest must really run: if one silently switched itself off
// (as enforce-module-boundaries does without Nx's project graph), these fail.
import { ruleIds } from './eslint-cli';

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
