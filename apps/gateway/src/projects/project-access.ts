import { VISP_WORKING_ROLES, type Owner, type VispEarlierTranscript, type VispProject, type VispUser } from '@visp/contracts';
import { DirectoryRecordError, roleIn, type ProjectDirectory } from '@visp/store';
import type { Logger } from '@visp/config';
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
    private readonly logger: Logger,
  ) {}

  /**
   * The project, when `owner` may run sessions in it; else not_found (no such project) or forbidden. A record the
   * directory cannot make sense of (the project's, or two for the user) is a conflict: refused, with a word for the
   * administrators, but no verdict on running sessions (AccessWatch stops on not_found and forbidden only).
   */
  async workingProject(owner: Owner, projectId: string): Promise<VispProject> {
    try {
      return await this.checkWorking(owner, projectId);
    } catch (err) {
      if (!(err instanceof DirectoryRecordError)) throw err;
      throw new AppError('conflict', `${err.message}: ask the site's administrators to mend it`, { cause: err });
    }
  }

  private async checkWorking(owner: Owner, projectId: string): Promise<VispProject> {
    const project = await this.directory.project(projectId);
    if (!project) throw new AppError('not_found', `there is no project ${projectId}`);
    const user = await this.users.of(owner);
    const role = user && roleIn(project, user.username);
    if (!role || !VISP_WORKING_ROLES.includes(role)) throw new AppError('forbidden', `only members of project ${project.id} with the role ${VISP_WORKING_ROLES.join(' or ')} may work in it`);
    return project;
  }

  /** The projects `owner` is a member of (none when the directory does not know them, or cannot tell who they are). */
  async projectsOf(owner: Owner): Promise<VispProject[]> {
    const user = await this.users.known(owner);
    return user ? this.directory.projectsOf(user.username) : [];
  }

  /**
   * The project's bundles (or one bundle's) transcribed before the site switched to this product: VISP's own
   * queue, else none. One that cannot be read is none, logged: the queue here still answers.
   */
  async earlierTranscripts(project: VispProject, only?: { session: string; bundle: string }): Promise<VispEarlierTranscript[]> {
    return (
      (await this.directory.earlierTranscripts?.(project.id, only).catch((err: unknown) => {
        this.logger.warn({ err, project: project.id }, "could not read VISP's own transcription queue; its earlier transcripts are not shown");
        return [];
      })) ?? []
    );
  }

  /** The directory's records of these projects' members. */
  membersOf(projects: readonly VispProject[]): Promise<VispUser[]> {
    return this.directory.users([...new Set(projects.flatMap((p) => p.members.map((m) => m.username)))]);
  }
}
