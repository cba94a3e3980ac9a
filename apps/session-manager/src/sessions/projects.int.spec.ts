// A session of a project (VISP's launchContainerSession): the project's repository on the host,
// <PROJECT_REPOSITORIES_DIR>/<project>, mounted read-write at <home>/project, through the harness's own socket
// proxy on real Podman; a project without a repository fails the start, and nothing makes one.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LABEL, STOP_REASONS } from '@visp/contracts';
import { SESSION_GUARD_PATH } from '@visp/podman-client';
import { requestSession, startHarness, waitForState, type Harness } from '../testing/harness';

const root = mkdtempSync(path.join(tmpdir(), 'visp-repositories-'));
let h: Harness;

beforeAll(async () => {
  // The operator's part (README): the session's user may write the repository as the host sees that user. Here
  // world-writable stands in for it, whether this Podman maps uid 1000 to itself (rootful) or to a sub-uid.
  mkdirSync(path.join(root, 'p1'));
  chmodSync(path.join(root, 'p1'), 0o777);
  writeFileSync(path.join(root, 'p1', 'README.md'), 'project one\n');
  mkdirSync(path.join(root, 'p2'));
  writeFileSync(path.join(root, 'p2', 'secret.txt'), 'project two\n');
  h = await startHarness({ PROJECT_REPOSITORIES_DIR: root });
});
afterAll(async () => {
  await h.close();
  rmSync(root, { recursive: true, force: true });
});

describe('a session with a project', () => {
  it("has its project's repository read-write at <home>/project, and nothing else of the host", async () => {
    const view = await requestSession(h, 'ann@uni.se', 'box', { project: 'p1' });
    await waitForState(h, view.sid, 'ready');
    const [name] = await h.containersOf(view.sid);
    const details = await h.podman.inspectContainer(name!);
    expect(details.labels[LABEL.project]).toBe('p1');

    expect(await h.podman.exec(details.id, ['cat', '/home/visp/project/README.md'])).toMatchObject({ exitCode: 0, stdout: 'project one\n' });
    expect((await h.podman.exec(details.id, ['sh', '-c', 'echo from-the-session > /home/visp/project/notes.txt'])).exitCode).toBe(0);
    expect(readFileSync(path.join(root, 'p1', 'notes.txt'), 'utf8')).toBe('from-the-session\n');
    expect((await h.podman.exec(details.id, ['ls', '-a', '/home/visp/project'])).stdout.split('\n').filter(Boolean).sort()).toEqual(['.', '..', 'README.md', 'notes.txt']);

    // As Podman shows it: that one directory, read-write, besides the guard's binary (read-only).
    const { Mounts: mounts } = (await h.podman.docker.getContainer(details.id).inspect()) as { Mounts: Array<{ Type: string; Source: string; Destination: string; RW: boolean }> };
    expect(mounts.filter((m) => m.Type === 'bind').map(({ Source, Destination, RW }) => ({ Source, Destination, RW }))).toEqual(
      expect.arrayContaining([{ Source: path.join(root, 'p1'), Destination: '/home/visp/project', RW: true }]),
    );
    expect(mounts.filter((m) => m.Type === 'bind' && m.Destination !== SESSION_GUARD_PATH)).toHaveLength(1);

    // Made through libpod's create, it is the same session as any other: non-root, no capabilities, its limits,
    // /tmp with its mode, the guard alone on the published port.
    expect(details.user).toBe('1000:1000');
    expect(details.hostConfig).toMatchObject({ Memory: 64 * 2 ** 20, NanoCpus: 5e8, PidsLimit: 64 });
    expect(details.hostConfig.SecurityOpt).toContain('no-new-privileges');
    const status = await h.podman.exec(details.id, ['sh', '-c', 'grep -E "^(CapEff|Uid)" /proc/self/status; stat -c %a /tmp']);
    expect(status.stdout).toMatch(/CapEff:\s+0{16}/);
    expect(status.stdout).toMatch(/Uid:\s+1000\s/);
    expect(status.stdout).toMatch(/^1777$/m);
    const route = (await h.routes.get(view.sid))!;
    expect(route.target).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${route.target}/`, { headers: { authorization: `token ${route.token}` } })).status).toBe(200);
    expect((await fetch(`${route.target}/`)).status).toBe(403);

    // Stopped because its owner may no longer work in the project (the gateway says so); a reason off the list is
    // refused and stops nothing.
    expect((await h.api('DELETE', `/api/v1/sessions/${view.sid}?reason=${encodeURIComponent('your files were deleted')}`)).status).toBe(400);
    expect(await h.containersOf(view.sid)).toHaveLength(1);
    const stopped = await h.api('DELETE', `/api/v1/sessions/${view.sid}?reason=access-revoked`);
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ state: 'stopped', reason: STOP_REASONS['access-revoked'] });
    expect(await h.containersOf(view.sid)).toEqual([]);
    // The repository is the project's: it stays as the session left it.
    expect(readFileSync(path.join(root, 'p1', 'notes.txt'), 'utf8')).toBe('from-the-session\n');
  }, 120_000);

  it('fails with "mount path not found" when the project has no repository, and makes none', async () => {
    const view = await requestSession(h, 'bob@uni.se', 'box', { project: 'p3' });
    const failed = await waitForState(h, view.sid, 'failed');
    expect(failed.reason).toBe('project p3 has no repository on this host: mount path not found');
    expect(existsSync(path.join(root, 'p3'))).toBe(false);
    expect(await h.containersOf(view.sid)).toEqual([]);
  }, 120_000);

  it('refuses a project id that is not one path segment before anything starts', async () => {
    for (const project of ['..', '.', '.git', '../p2', 'p1/..', '.p1']) {
      const res = await h.api('POST', '/api/v1/sessions', { owner: 'eve@uni.se', type: 'box', project });
      expect([project, res.status, ((await res.json()) as { error?: { message?: string } }).error?.message]).toEqual([project, 400, expect.stringMatching(/^body\.project: /)]);
    }
    expect(await h.store.sessions.list('eve@uni.se')).toEqual([]);
  });
});
