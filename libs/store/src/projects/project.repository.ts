import type { Connection, Model } from 'mongoose';
import { VispProjectSchema, type VispProject, type VispUser } from '@visp/contracts';
import { ConcurrentChangeError, mapDuplicateKey } from '../errors';
import type { UserRepository } from '../users/user.repository';
import type { ProjectDirectory } from './directory';
import { projectSchema, type ProjectDocument } from './project.schema';

interface Member {
  username: string;
  role: string;
}

/** A project as the store keeps it: an id, a name, members with roles. */
export interface NewProject {
  id: string;
  name: string;
  members: Member[];
}

/** How often {@link ProjectRepository}'s member changes read and compare-and-set before they give up. */
export const MEMBER_CHANGE_ATTEMPTS = 5;

const toProject = (doc: ProjectDocument): VispProject => VispProjectSchema.parse({ id: doc.id, name: doc.name, archived: doc.archived, members: doc.members.map(({ username, role }) => ({ username, role })) });

/** The product's own projects, and the directory over them and the store's users. */
export class ProjectRepository implements ProjectDirectory {
  private readonly model: Model<ProjectDocument>;

  constructor(
    connection: Connection,
    private readonly accounts: UserRepository,
  ) {
    this.model = connection.model<ProjectDocument>('Project', projectSchema);
  }

  /** Throws DuplicateKeyError when there is a project with its id (the unique index decides, also between two at once). */
  async create(project: NewProject): Promise<VispProject> {
    const doc = await mapDuplicateKey(`project ${project.id}`, () => this.model.create({ ...project, archived: false }));
    return toProject(doc.toObject());
  }

  async list(): Promise<VispProject[]> {
    return (await this.model.find().sort({ id: 1 }).lean()).map(toProject);
  }

  /** Adds the member or changes their role; undefined when there is no such project. */
  setMember(id: string, username: string, role: string): Promise<VispProject | undefined> {
    return this.changeMembers(id, (members) => [...members.filter((m) => m.username !== username), { username, role }]);
  }

  removeMember(id: string, username: string): Promise<VispProject | undefined> {
    return this.changeMembers(id, (members) => members.filter((m) => m.username !== username));
  }

  /**
   * Read, change, and write back only if nobody wrote in between (compared on the member list itself), else again:
   * a member is never missing in between, as a pull-then-push would leave them, and two changes never lose one.
   * At most {@link MEMBER_CHANGE_ATTEMPTS} times, then {@link ConcurrentChangeError}: a stored list whose members differ
   * in shape or key order from `{ username, role }` never compares equal, and must not hold the request for ever.
   */
  private async changeMembers(id: string, change: (members: Member[]) => Member[]): Promise<VispProject | undefined> {
    for (let attempt = 1; attempt <= MEMBER_CHANGE_ATTEMPTS; attempt++) {
      const doc = await this.model.findOne({ id }).lean();
      if (!doc) return undefined;
      const before = doc.members.map(({ username, role }) => ({ username, role }));
      const after = change(before);
      const written = await this.model.findOneAndUpdate({ id, members: before }, { $set: { members: after } }, { returnDocument: 'after', lean: true });
      if (written) return toProject(written);
    }
    throw new ConcurrentChangeError(`project ${id}: its members differed from what was just read, ${MEMBER_CHANGE_ATTEMPTS} attempts in a row`);
  }

  /** True when there was such a project. Its files stay where they are (PROJECT_REPOSITORIES_DIR). */
  async remove(id: string): Promise<boolean> {
    return (await this.model.deleteOne({ id })).deletedCount === 1;
  }

  async project(id: string): Promise<VispProject | undefined> {
    const doc = await this.model.findOne({ id }).lean();
    return doc ? toProject(doc) : undefined;
  }

  async projectsOf(username: string): Promise<VispProject[]> {
    return (await this.model.find({ 'members.username': username }).sort({ id: 1 }).lean()).map(toProject);
  }

  /** Puts a user on the access list or takes them off (ACCESS_LIST_ENABLED). */
  setAccess(username: string, loginAllowed: boolean): Promise<void> {
    return this.accounts.setLoginAllowed(username, loginAllowed);
  }

  async user(name: string): Promise<VispUser | undefined> {
    const user = await this.accounts.find(name);
    return user && asVispUser(user);
  }

  async users(usernames: readonly string[]): Promise<VispUser[]> {
    return (await this.accounts.findMany(usernames)).map(asVispUser);
  }

  async ensureIndexes(): Promise<void> {
    await this.model.createIndexes();
  }
}

/** A store user in VISP's shape: single sign-on names users by eppn, which is their username here. */
function asVispUser(user: { username: string; email?: string; displayName?: string; loginAllowed: boolean }): VispUser {
  const fullName = user.displayName ?? user.username;
  const [firstName = '', ...rest] = fullName.split(' ');
  return { id: user.username, username: user.username, eppn: user.username, fullName, firstName, lastName: rest.join(' '), email: user.email ?? '', loginAllowed: user.loginAllowed, privileges: {} };
}
