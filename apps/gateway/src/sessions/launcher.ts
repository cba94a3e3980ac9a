import type { Owner, PublicCreateSessionRequest, SessionView } from '@visp/contracts';
import type { ProjectAccess } from '../projects/project-access';
import type { SessionManagerClient } from './manager-client';

/**
 * The one way the gateway starts a session, whichever door the user came through (REST, our socket, VISP's): a
 * session in a project mounts that project's files, so only the project's working members may start one there.
 * The session-manager trusts the gateway (service token) and does not check this again.
 */
export class SessionLauncher {
  constructor(
    private readonly manager: SessionManagerClient,
    private readonly access: ProjectAccess,
  ) {}

  async launch(owner: Owner, request: PublicCreateSessionRequest): Promise<SessionView> {
    if (request.project !== undefined) await this.access.workingProject(owner, request.project);
    return this.manager.create(owner, request);
  }
}
