// The gateway's public routes fuzzed from its own OpenAPI document by schemathesis (tools/fuzz, .visp/fuzz-venv),
// as a signed-in user who is an admin too (so that the admin routes are reached), with an API token: every check
// schemathesis has (all are on unless tools/fuzz/schemathesis.toml says otherwise, and it says why). No 5xx, every response as the document says (status, content type, headers, schema), bad
// input refused and good input accepted, undeclared methods answered 405, no request unanswered within its
// timeout. A fixed seed and a bounded number of examples per operation: the same run every time.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { useGatewayStack } from './gateway-stack';
import { launch, untilReady, type Launched } from './launch';

const ROOT = path.resolve(__dirname, '../..');
const ST = path.join(ROOT, '.visp/fuzz-venv/bin/st');
const RECOVERY_PORT = 19130;
// Recovery answers the admin's reconcile (a real pass over this stack's instance).
const stack = useGatewayStack({ sessionManager: 19120, gateway: 19180 }, 'fuzz', { ADMIN_USERS: 'fuzz-admin', RECOVERY_URL: `http://127.0.0.1:${RECOVERY_PORT}` });
let recovery: Launched | undefined;

beforeAll(async () => {
  recovery = launch('recovery', { ...stack.env(), PORT: String(RECOVERY_PORT), RECOVERY_INTERVAL: '3600' });
  await untilReady(recovery, RECOVERY_PORT, 20_000);
});
afterAll(async () => {
  recovery?.child.kill('SIGTERM');
  await recovery?.exited;
});

/**
 * Runs `st` over the operations `filter` picks, as the holder of `token`, each request given `timeoutSeconds`;
 * its exit code and everything it printed.
 */
function schemathesis(token: string, filter: string[], timeoutSeconds = 10): Promise<{ code: number | null; output: string }> {
  const args = [
    '--config-file', path.join(ROOT, 'tools/fuzz/schemathesis.toml'),
    'run', `${stack.url}/api/v1/openapi.json`,
    ...filter,
    '--phases', 'examples,coverage,fuzzing',
    '--max-examples', '10',
    '--seed', '20261205',
    '--workers', '1',
    '--request-timeout', String(timeoutSeconds),
    '--report-dir', path.join(ROOT, '.visp/fuzz-reports'),
    '--no-color',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(ST, args, { env: { ...process.env, VISP_FUZZ_TOKEN: token, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** A fresh API token of the fuzzing admin. */
async function token(name: string): Promise<string> {
  const created = await stack.api('/api/v1/tokens', await stack.signIn('fuzz-admin'), { method: 'POST', body: { name } });
  expect(created.status).toBe(201);
  return ((await created.json()) as { token: string }).token;
}

// The operations that end the run's own credential (schemathesis finds its token's id in GET /api/v1/tokens):
// fuzzed on their own, with a token of their own, so that they cannot cut the main run short. And the event
// stream, which stays open for a live session (schemathesis reuses the ids POST /api/v1/sessions answers): each
// such request lasts its whole timeout, so it gets a short one, on its own.
const SELF_ENDING = '^/api/v1/tokens/\\{id\\}$|^/auth/logout$';
const STREAM = '^/api/v1/sessions/\\{sid\\}/events$';

describe("the gateway's OpenAPI routes, fuzzed", () => {
  it('answer every generated request as documented: no 5xx, no schema break, bad input refused, no hang', async () => {
    const run = await schemathesis(await token('fuzz'), ['--exclude-path-regex', `${SELF_ENDING}|${STREAM}`]);
    expect([run.code, run.code === 0 ? '' : run.output.slice(-12_000)]).toEqual([0, '']);
    expect(run.output).toMatch(/Tested: 27\b/);
  }, 300_000);

  it('and so do the operations that end their own credential, and the event stream', async () => {
    const ending = await schemathesis(await token('fuzz-self-ending'), ['--include-path-regex', SELF_ENDING]);
    expect([ending.code, ending.code === 0 ? '' : ending.output.slice(-12_000)]).toEqual([0, '']);
    expect(ending.output).toMatch(/Tested: 2\b/);
    const stream = await schemathesis(await token('fuzz-stream'), ['--include-path-regex', STREAM], 1);
    expect([stream.code, stream.code === 0 ? '' : stream.output.slice(-12_000)]).toEqual([0, '']);
    expect(stream.output).toMatch(/Tested: 1\b/);
  }, 300_000);
});
