import type { Owner } from '@visp/contracts';
import type { ProjectDirectory } from '@visp/store';
import { AppError } from '@visp/service-kit';

/** How long a decision is trusted: VISP asked on every message; an administrator's change shows within this. */
const TTL_MS = 10_000;

/**
 * VISP's access list (ACCESS_LIST_ENABLED): only users whose directory record says `loginAllowed` may use the
 * site. Consulted wherever something is started or asked for — every session launch (SessionLauncher, whichever
 * door), every upload, every VISP command but the handshake — so no door is left open beside VISP's socket.
 * Fails closed: no record, no field, or a directory error denies.
 */
export class AccessList {
  private readonly decided = new Map<Owner, { at: number; allowed: Promise<boolean> }>();

  constructor(
    private readonly directory: ProjectDirectory,
    readonly enabled: boolean,
  ) {}

  allows(username: Owner): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(true);
    const now = Date.now();
    const known = this.decided.get(username);
    if (known && now - known.at < TTL_MS) return known.allowed;
    for (const [name, { at }] of this.decided) if (now - at >= TTL_MS) this.decided.delete(name);
    const allowed = this.directory.user(username).then(
      (user) => user?.loginAllowed === true,
      () => false,
    );
    this.decided.set(username, { at: now, allowed });
    return allowed;
  }

  async require(username: Owner): Promise<void> {
    if (!(await this.allows(username))) throw new AppError('forbidden', 'you are not on this site’s access list; ask its administrators');
  }
}
