import type { Owner } from '@visp/contracts';
import { AppError } from '@visp/service-kit';
import type { DirectoryUsers } from './directory-users';

/**
 * VISP's access list (ACCESS_LIST_ENABLED): only users whose directory record says `loginAllowed` may use the
 * site. Consulted wherever something is started or asked for — every session launch (SessionLauncher, whichever
 * door), every transcription, every VISP command but the handshake — so no door is left open beside VISP's
 * socket. Fails closed: no record, no field, or a directory error denies.
 */
export class AccessList {
  constructor(
    private readonly users: DirectoryUsers,
    private readonly enabled: boolean,
  ) {}

  async allows(username: Owner): Promise<boolean> {
    if (!this.enabled) return true;
    return this.users.of(username).then(
      (user) => user?.loginAllowed === true,
      () => false,
    );
  }

  /**
   * Whether the directory, read successfully, no longer allows `username` (no record, or not `loginAllowed`): what
   * ends their running sessions. A read that fails revokes nothing; it throws.
   */
  async revokes(username: Owner): Promise<boolean> {
    if (!this.enabled) return false;
    return (await this.users.of(username))?.loginAllowed !== true;
  }

  async require(username: Owner): Promise<void> {
    if (!(await this.allows(username))) throw new AppError('forbidden', 'you are not on this site’s access list; ask its administrators');
  }
}
