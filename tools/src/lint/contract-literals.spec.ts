// `visp/contract-literals` (contract-literals.cjs): label names and the lists libs/contracts exports are written
// there once. The rule alone, on samples; then the workspace config, to show it is wired where it should be.
import * as tsParser from '@typescript-eslint/parser';
import { RuleTester } from 'eslint';
import rule from './contract-literals.cjs';
import { ruleIds } from './eslint-cli';

const tester = new RuleTester({ languageOptions: { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' } });

tester.run('contract-literals', rule, {
  valid: [
    "import { LABEL } from '@visp/contracts';\nconst ours = (labels: Record<string, string>) => labels[LABEL.managed] === 'true';",
    'const filter = `label=${LABEL.managed}=true`;',
    // Host names under reserved names and the two files named visp.*, not labels.
    "const hosts = ['visp.example.org', 'https://visp.example', 'app.visp.test', '*.visp.example.org', 'evilvisp.example'];",
    'const site = `visp.localhost:${port}`;',
    "const files = [path.join(config, 'visp.env'), 'dist/tools/visp.js'];",
    "const image = 'localhost/visp-testbox:1';",
    // A transition's own states, not a list libs/contracts names.
    "await sessions.transition(sid, ['starting'], 'ready');",
    "const one = ['ready'];",
  ],
  invalid: [
    { code: "const ours = labels['visp.managed'] === 'true';", errors: [{ messageId: 'label', data: { name: 'visp.managed' } }] },
    { code: "const labels = { 'visp.instance': instance, 'visp.session.owner': owner };", errors: [{ messageId: 'label' }, { messageId: 'label' }] },
    { code: "run('podman', ['ps', '--filter', 'label=visp.managed=true']);", errors: [{ messageId: 'label', data: { name: 'visp.managed' } }] },
    { code: 'const reason = `visp.session.id: ${message}`;', errors: [{ messageId: 'label', data: { name: 'visp.session.id' } }] },
    // A label that libs/contracts does not know yet is reported too: it belongs there first.
    { code: "const hash = 'visp.build-hash';", errors: [{ messageId: 'label' }] },
    { code: "const LIVE = ['pending', 'starting', 'ready', 'stopping'];", errors: [{ messageId: 'list', data: { names: 'ACTIVE_SESSION_STATES' } }] },
    { code: "const FINAL = new Set(['failed', 'stopped']);", errors: [{ messageId: 'list', data: { names: 'FINAL_SESSION_STATES' } }] },
    { code: "await sessions.transition(sid, ['pending', 'starting'], 'failed');", errors: [{ messageId: 'list', data: { names: 'STARTING_SESSION_STATES' } }] },
    { code: "const STEPS = ['queued', 'preflight', 'creating', 'scheduled', 'pulling', 'starting', 'waiting-ready', 'ready'];", errors: [{ messageId: 'list', data: { names: 'PROGRESS_STEPS' } }] },
    { code: "const all = ['pending', 'starting', 'ready', 'stopping', 'stopped', 'failed'];", errors: [{ messageId: 'list', data: { names: 'SESSION_STATES' } }] },
    { code: "const backend = oneOf(['openai', 'faster-whisper'], 'faster-whisper');", errors: [{ messageId: 'list', data: { names: 'TRANSCRIPTION_BACKENDS' } }] },
  ],
});

describe('contract-literals in the workspace config', () => {
  jest.setTimeout(30_000);

  it('reports a label literal and a copied state list in an app, a lib, a tool and a test', async () => {
    const code = "export const ours = (l: Record<string, string>) => l['visp.managed'] === 'true';\nexport const LIVE = ['pending', 'starting', 'ready', 'stopping'];\n";
    const files = ['apps/recovery/src/probe.ts', 'libs/podman-proxy/src/probe.ts', 'tools/src/probe.ts', 'e2e/src/probe.int.spec.ts', 'apps/recovery/src/probe.spec.ts'];
    const found = await Promise.all(files.map(async (file) => (await ruleIds(file, code)).filter((id) => id === 'visp/contract-literals').length));
    expect(found).toEqual(files.map(() => 2));
  });

  it('leaves libs/contracts, where they are defined, alone', async () => {
    expect(await ruleIds('libs/contracts/src/v1/probe.ts', "export const LABEL = { managed: 'visp.managed' } as const;\n")).toEqual([]);
  });
});
