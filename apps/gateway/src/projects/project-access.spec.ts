// Who may work in a project, over a directory in memory: the verdicts AccessWatch acts on (not_found, forbidden)
// and the one it must not (a record the directory cannot make sense of).
import type { VispProject, VispUser } from '@visp/contracts';
import { createLogger } from '@visp/config';
import { AppError } from '@visp/service-kit';
import { DirectoryRecordError, type ProjectDirectory } from '@visp/store';
import { DirectoryUsers } from './directory-users';
import { ProjectAccess } from './project-access';

const USERS: Record<string, VispUser> = { 'ann@uni.se': { username: 'ann' }, 'bo@uni.se': { username: 'bo' } };
const PROJECTS: Record<string, VispProject> = {
  p1: { id: 'p1', name: 'One', members: [{ username: 'ann', role: 'analyzer' }, { username: 'bo', role: 'member' }] },
};

function access(broken: { users?: string[]; projects?: string[] } = {}) {
  const directory: ProjectDirectory = {
    user: async (name) => {
      if (broken.users?.includes(name)) throw new DirectoryRecordError("VISP's database has two records for one sign-in name");
      return USERS[name];
    },
    users: async () => [],
    projectsOf: async (username) => Object.values(PROJECTS).filter((p) => p.members.some((m) => m.username === username)),
    project: async (id) => {
      if (broken.projects?.includes(id)) throw new DirectoryRecordError("a project record in VISP's database does not fit");
      return PROJECTS[id];
    },
  };
  return new ProjectAccess(directory, new DirectoryUsers(directory), createLogger({ component: 'test', level: 'silent' }));
}

const codeOf = (promise: Promise<unknown>) => promise.then(() => 'allowed', (err: unknown) => (err instanceof AppError ? err.code : String(err)));

it('lets an analyzer work; a plain member, a stranger or a missing project is refused with the verdict', async () => {
  const projects = access();
  expect(await codeOf(projects.workingProject('ann@uni.se', 'p1'))).toBe('allowed');
  expect(await codeOf(projects.workingProject('bo@uni.se', 'p1'))).toBe('forbidden');
  expect(await codeOf(projects.workingProject('cy@uni.se', 'p1'))).toBe('forbidden');
  expect(await codeOf(projects.workingProject('ann@uni.se', 'p9'))).toBe('not_found');
});

it('refuses as a conflict, never a verdict, when the directory cannot make sense of the user or the project', async () => {
  const projects = access({ users: ['ann@uni.se'], projects: ['p2'] });
  await expect(projects.workingProject('ann@uni.se', 'p1')).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('ask the site') });
  expect(await codeOf(projects.workingProject('bo@uni.se', 'p2'))).toBe('conflict');
  // Her projects: none, as for a user the directory does not know.
  expect(await projects.projectsOf('ann@uni.se')).toEqual([]);
});
