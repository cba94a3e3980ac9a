import mongoose, { type Connection } from 'mongoose';
import type { z } from 'zod';
import { VispProjectSchema, VispUserSchema, type VispProject, type VispUser } from '@visp/contracts';
import type { Logger } from '@visp/config';
import type { ProjectDirectory } from './directory';

/**
 * VISP's own MongoDB as the project directory: its `users` and `projects` collections (the names its
 * session-manager's mongoose models give them), read and never written, so that a VISP site keeps its data where
 * it is and can go back. Documents are another system's: each is checked, and one that does not fit is skipped
 * with a warning rather than trusted or fatal.
 */
export class VispDirectory implements ProjectDirectory {
  private constructor(
    private readonly connection: Connection,
    private readonly logger: Logger,
  ) {}

  static async open(uri: string, logger: Logger): Promise<VispDirectory> {
    const connection = mongoose.createConnection(uri, { serverSelectionTimeoutMS: 5000, autoIndex: false, readPreference: 'primaryPreferred' });
    await connection.asPromise();
    return new VispDirectory(connection, logger);
  }

  private collection(name: 'users' | 'projects') {
    const db = this.connection.db;
    if (!db) throw new Error("VISP's database is not connected");
    return db.collection(name);
  }

  private parsed<S extends z.ZodType>(schema: S, kind: string, docs: unknown[]): Array<z.output<S>> {
    return docs.flatMap((doc) => {
      const result = schema.safeParse(doc);
      if (result.success) return [result.data];
      this.logger.warn({ kind, issues: result.error.issues.slice(0, 3) }, "a document in VISP's database does not fit; skipped");
      return [];
    });
  }

  async user(name: string): Promise<VispUser | undefined> {
    const docs = await this.collection('users').find({ $or: [{ eppn: name }, { username: name }] }, { projection: { _id: 0, phpSessionId: 0 } }).limit(2).toArray();
    // An eppn match wins: single sign-on names users by eppn, and a username equal to someone's eppn is another person.
    const [user] = this.parsed(VispUserSchema, 'user', docs).sort((a, b) => Number(b.eppn === name) - Number(a.eppn === name));
    return user;
  }

  async users(usernames: readonly string[]): Promise<VispUser[]> {
    const docs = await this.collection('users').find({ username: { $in: [...usernames] } }, { projection: { _id: 0, phpSessionId: 0 } }).toArray();
    return this.parsed(VispUserSchema, 'user', docs);
  }

  async projectsOf(username: string): Promise<VispProject[]> {
    const docs = await this.collection('projects').find({ 'members.username': username }, { projection: { _id: 0, __v: 0 } }).toArray();
    return this.parsed(VispProjectSchema, 'project', docs);
  }

  async project(id: string): Promise<VispProject | undefined> {
    // VISP's ids are strings or numbers; the client sends what it was given.
    const numeric = /^\d{1,15}$/.test(id) ? [{ id: Number(id) }] : [];
    const docs = await this.collection('projects').find({ $or: [{ id }, ...numeric] }, { projection: { _id: 0, __v: 0 } }).limit(1).toArray();
    return this.parsed(VispProjectSchema, 'project', docs)[0];
  }

  async ping(): Promise<void> {
    await this.connection.db?.admin().ping();
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
