import type { Owner, PublicCreateSessionRequest, SessionView } from '@visp/contracts';
import type { Logger } from '@visp/config';
import type { AccessList } from '../projects/access-list';
import type { ProjectAccess } from '../projects/project-access';
import type { SessionManagerClient } from './manager-client';

/**
 * The one way the gateway starts a session, whichever door the user came through (REST, our socket, VISP's): the
 * access list first (when it is on), and a session in a project mounts that project's files, so only the
 * project's working members may start one there.
 * The session-manager trusts the gateway (service token) and does not check this again.
 */
export class SessionLauncher {
  constructor(
    private readonly manager: SessionManagerClient,
    private readonly access: ProjectAccess,
    private readonly accessList: AccessList,
    private readonly logger: Logger,
  ) {}

  /**
   * The user signed in or opened the start page: the session-manager prepares what they may launch next (the warm
   * pool, when it is on), for those the access list lets launch. Returns at once and never throws: a page view
   * must not fail for it.
   */
  prepare(owner: Owner): void {
    void this.accessList
      .require(owner)
      .then(
        () => this.manager.prepare(owner),
        () => undefined,
      )
      .catch((err: unknown) => this.logger.warn({ err, owner }, 'could not ask for sessions to be prepared'));
  }

  async launch(owner: Owner, request: PublicCreateSessionRequest): Promise<SessionView> {
    await this.accessList.require(owner);
    if (request.project === undefined) return this.manager.create(owner, request);
    // The id as the directory has it: the one checked is the one labelled and mounted.
    const project = await this.access.workingProject(owner, request.project);
    return this.manager.create(owner, { ...request, project: project.id });
  }
}
