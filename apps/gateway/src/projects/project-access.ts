import { VISP_WORKING_ROLES, type Owner, type VispProject, type VispUser } from '@visp/contracts';
import { roleIn, type ProjectDirectory } from '@visp/store';
import { AppError } from '@visp/service-kit';
import type { DirectoryUsers } from './directory-users';

/**
 * Projects as a user sees them, and who may work in one: its members with the role admin or analyzer (VISP's
 * rule), where a user is known by the directory's username (VISP's differs from the sign-in name, the eppn).
 */
export class ProjectAccess {
  constructor(
    private readonly directory: ProjectDirectory,
    readonly users: DirectoryUsers,
  ) {}

  /** The project, when `owner` may run sessions in it; else not_found (no such project) or forbidden. */
  async workingProject(owner: Owner, projectId: string): Promise<VispProject> {
    const project = await this.directory.project(projectId);
    if (!project) throw new AppError('not_found', `there is no project ${projectId}`);
    const user = await this.users.of(owner);
    const role = user && roleIn(project, user.username);
    if (!role || !VISP_WORKING_ROLES.includes(role)) throw new AppError('forbidden', `only members of project ${project.id} with the role ${VISP_WORKING_ROLES.join(' or ')} may work in it`);
    return project;
  }

  /** The projects `owner` is a member of (none when the directory does not know them). */
  async projectsOf(owner: Owner): Promise<VispProject[]> {
    const user = await this.users.of(owner);
    return user ? this.directory.projectsOf(user.username) : [];
  }

  /** The directory's records of these projects' members. */
  membersOf(projects: readonly VispProject[]): Promise<VispUser[]> {
    return this.directory.users([...new Set(projects.flatMap((p) => p.members.map((m) => m.username)))]);
  }
}
