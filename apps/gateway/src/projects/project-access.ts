import { VISP_WORKING_ROLES, type Owner, type VispProject } from '@visp/contracts';
import { roleIn, type ProjectDirectory } from '@visp/store';
import { AppError } from '@visp/service-kit';

/**
 * Who may work in a project: its members with the role admin or analyzer (VISP's rule), found through the project
 * directory, where a user is known by the directory's username (VISP's differs from the sign-in name, the eppn).
 */
export class ProjectAccess {
  constructor(readonly directory: ProjectDirectory) {}

  /** The project, when `owner` may run sessions in it; else not_found (no such project) or forbidden. */
  async workingProject(owner: Owner, projectId: string): Promise<VispProject> {
    const project = await this.directory.project(projectId);
    if (!project) throw new AppError('not_found', `there is no project ${projectId}`);
    const user = await this.directory.user(owner);
    const role = user && roleIn(project, user.username);
    if (!role || !VISP_WORKING_ROLES.includes(role)) throw new AppError('forbidden', `only members of project ${project.id} with the role ${VISP_WORKING_ROLES.join(' or ')} may work in it`);
    return project;
  }
}
