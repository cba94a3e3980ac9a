import type { Owner, VispUser } from '@visp/contracts';
import { DirectoryRecordError, type ProjectDirectory } from '@visp/store';

/** How long a user's record is trusted: VISP read it on every message; an administrator's change shows within this. */
const TTL_MS = 10_000;

/**
 * The signed-in user as the project directory knows them, read at most once per TTL_MS per user for everything
 * that asks (the access list, project access, VISP's handshake); a failed read is not kept.
 */
export class DirectoryUsers {
  private readonly read = new Map<Owner, { at: number; user: Promise<VispUser | undefined> }>();

  constructor(private readonly directory: ProjectDirectory) {}

  of(owner: Owner): Promise<VispUser | undefined> {
    const now = Date.now();
    const known = this.read.get(owner);
    if (known && now - known.at < TTL_MS) return known.user;
    for (const [name, { at }] of this.read) if (now - at >= TTL_MS) this.read.delete(name);
    const user = this.directory.user(owner);
    const entry = { at: now, user };
    this.read.set(owner, entry);
    // A read that failed is asked again; a record the directory cannot make sense of is that for the TTL too.
    user.catch((err: unknown) => {
      if (!(err instanceof DirectoryRecordError) && this.read.get(owner) === entry) this.read.delete(owner);
    });
    return user;
  }

  /** The user, or undefined when the directory has no record of them or cannot make sense of theirs. */
  known(owner: Owner): Promise<VispUser | undefined> {
    return this.of(owner).catch((err: unknown) => (err instanceof DirectoryRecordError ? undefined : Promise.reject(err)));
  }
}
