// Where VISP's projects and their members come from, behind one interface: VISP's own MongoDB (a VISP site keeps
// its data where it is; read-only) or the product's own store (sites without VISP).
import type { VispEarlierTranscript, VispProject, VispUser } from '@visp/contracts';

export interface ProjectDirectory {
  /**
   * The signed-in user as the directory knows them: by eppn (what single sign-on names users), else by username.
   * A record it cannot make sense of (two for one person, one that does not fit): DirectoryRecordError.
   */
  user(name: string): Promise<VispUser | undefined>;
  /** The users of these usernames (a project's members), those the directory has. */
  users(usernames: readonly string[]): Promise<VispUser[]>;
  /** The projects this directory username is a member of, archived ones too (the client shows them apart). */
  projectsOf(username: string): Promise<VispProject[]>;
  /** The project; a record that does not fit: DirectoryRecordError. */
  project(id: string): Promise<VispProject | undefined>;
  /** The project's bundles VISP transcribed before the site switched (VISP's directory only: others had no queue). */
  earlierTranscripts?(projectId: string, only?: { session: string; bundle: string }): Promise<VispEarlierTranscript[]>;
}

/**
 * The directory has a record but cannot make sense of it: two for one person, or one that does not fit. Neither
 * "no such user/project" nor an outage: whoever asks decides (a launch is refused, a running session is kept).
 */
export class DirectoryRecordError extends Error {
  override readonly name = 'DirectoryRecordError';
}

/** A member's role in a project, or undefined when they are none. */
export const roleIn = (project: VispProject, username: string): string | undefined => project.members.find((m) => m.username === username)?.role;
