// Projects in the product's own store, put there as an operator does: `visp projects` with an administrator's API
// token against the gateway's URL.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loopbackRequest } from './loopback-http';

export interface ProjectSeed {
  id: string;
  name: string;
  /** eppn → role (`analyzer`, `member`, …). */
  members: Record<string, string>;
}

/** Creates each project with its members through `visp projects`, and puts `allowed` on the access list. */
export async function seedProjects(port: number, site: string, adminCookie: string, projects: ProjectSeed[], allowed: string[]): Promise<(...args: string[]) => string> {
  const minted = await loopbackRequest(`http://${site}/api/v1/tokens`, { port, method: 'POST', headers: [['Cookie', adminCookie], ['Origin', `http://${site}`], ['Content-Type', 'application/json']], body: JSON.stringify({ name: 'visp projects' }) });
  expect(minted.status).toBe(201);
  const env = { ...process.env, VISP_URL: `http://127.0.0.1:${port}`, VISP_TOKEN: (JSON.parse(minted.body) as { token: string }).token };
  const visp = (...args: string[]) => {
    const ran = spawnSync(process.execPath, [path.resolve(__dirname, '../../dist/tools/visp.js'), 'projects', ...args], { encoding: 'utf8', env });
    expect([args.join(' '), ran.status, ran.stderr]).toEqual([args.join(' '), 0, '']);
    return ran.stdout;
  };
  for (const project of projects) {
    visp('create', project.id, project.name);
    for (const [eppn, role] of Object.entries(project.members)) visp('member', project.id, eppn, role);
  }
  for (const eppn of allowed) visp('allow', eppn);
  return visp;
}
