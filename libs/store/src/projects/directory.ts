// Where VISP's projects and their members come from, behind one interface: VISP's own MongoDB (a VISP site keeps
// its data where it is; read-only) or the product's own store (sites without VISP).
import type { VispProject, VispUser } from '@visp/contracts';

export interface ProjectDirectory {
  /** The signed-in user as the directory knows them: by eppn (what single sign-on names users), else by username. */
  user(name: string): Promise<VispUser | undefined>;
  /** The users of these usernames (a project's members), those the directory has. */
  users(usernames: readonly string[]): Promise<VispUser[]>;
  /** The projects this directory username is a member of, archived ones too (the client shows them apart). */
  projectsOf(username: string): Promise<VispProject[]>;
  project(id: string): Promise<VispProject | undefined>;
}

/** A member's role in a project, or undefined when they are none. */
export const roleIn = (project: VispProject, username: string): string | undefined => project.members.find((m) => m.username === username)?.role;
