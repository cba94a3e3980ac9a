import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, STATE_DIR } from '../paths';
import { sh } from './host';
import { GATEWAY_REPOSITORIES_DROP_IN, gatewayRepositoriesDropIn } from '@visp/quadlets';
import { verifyQuadlets } from './quadlet-check';

// Podman 5's quadlet, extracted from Debian trixie's package by tools/setup/podman5-quadlet.sh (npm test runs it).
const QUADLET = path.join(STATE_DIR, 'podman5/quadlet');

describe('the quadlets', () => {
  it('all become systemd units that systemd-analyze verifies without a warning', () => {
    const report = verifyQuadlets(path.join(ROOT, 'quadlets'), QUADLET);
    expect(report.problems).toEqual([]);
    expect(report.units).toEqual(
      expect.arrayContaining(['visp-gateway.service', 'visp-session-manager.service', 'visp-whisper-worker.service', 'visp-recovery.service', 'visp-socket-proxy.service', 'visp-mongo.service', 'visp-redis.service', 'visp-caddy.service', 'visp-whisper-server.service', 'visp-net-network.service']),
    );
  });

  it('catches a key quadlet does not know', () => {
    const report = verifyQuadlets(path.join(__dirname, 'fixtures/broken-key'), QUADLET);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/unsupported key 'Imagee'.*visp-broken\.container/);
  });

  it('catches a bad [Service] setting that only systemd notices', () => {
    const report = verifyQuadlets(path.join(__dirname, 'fixtures/broken-service'), QUADLET);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/restart specifier.*allways/);
  });
});

describe("the gateway's repositories drop-in (visp install --project-repositories)", () => {
  it('mounts the directory at the same path in the gateway only, and verifies like the rest', () => {
    const units = mkdtempSync(path.join(tmpdir(), 'visp-quadlets-dropin-'));
    try {
      cpSync(path.join(ROOT, 'quadlets'), units, { recursive: true });
      const dropIn = path.join(units, GATEWAY_REPOSITORIES_DROP_IN);
      mkdirSync(path.dirname(dropIn), { recursive: true });
      writeFileSync(dropIn, gatewayRepositoriesDropIn('/srv/visp/repositories'));
      expect(verifyQuadlets(units, QUADLET).problems).toEqual([]);
      const generated = sh(QUADLET, ['-dryrun', '-user'], { env: { ...process.env, QUADLET_UNIT_DIRS: units } }).stdout;
      // The dry run prints each unit after a `---<name>---` line.
      const parts = generated.split(/^---(?=[\w.@-]+---$)/m);
      const mounting = parts.filter((part) => part.includes('/srv/visp/repositories'));
      expect(mounting.map((part) => part.split('---', 1)[0])).toEqual(['visp-gateway.service']);
      expect(mounting[0]).toMatch(/^ExecStart=.* -v \/srv\/visp\/repositories:\/srv\/visp\/repositories /m);
    } finally {
      rmSync(units, { recursive: true, force: true });
    }
  });
});

describe('secrets in the quadlets', () => {
  it('reach services only as Podman secrets mounted as files: no unit sets a secret in its environment', () => {
    const dir = path.join(ROOT, 'quadlets');
    const secretish = /^Environment=(SERVICE_TOKEN|COOKIE_SECRET|TEST_USER_LOGIN_KEY|OPENAI_API_KEY|MONGO_URI|REDIS_URL|[A-Z_]*PASSWORD)=/;
    const offending = readdirSync(dir).flatMap((file) =>
      readFileSync(path.join(dir, file), 'utf8')
        .split('\n')
        .filter((line) => secretish.test(line) || /^Secret=[^,]+,type=env/.test(line))
        .map((line) => `${file}: ${line}`),
    );
    expect(offending).toEqual([]);
    const mounted = readFileSync(path.join(dir, 'visp-gateway.container'), 'utf8');
    expect(mounted).toMatch(/^Secret=visp-service-token,type=mount,target=\/etc\/visp\/secrets\/service-token,mode=0400,uid=1000$/m);
    expect(mounted).toMatch(/^Environment=SERVICE_TOKEN_FILE=\/etc\/visp\/secrets\/service-token$/m);
  });
});
