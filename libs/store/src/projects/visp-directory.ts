import mongoose, { type Connection } from 'mongoose';
import type { z } from 'zod';
import { VispProjectSchema, VispUserSchema, vispUsernameOf, type VispProject, type VispUser } from '@visp/contracts';
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

  /**
   * The record whose eppn is the sign-in name, and nothing else: a sign-in name that equals someone's username is
   * another person. Only a record without an eppn (VISP's older ones) is found by the username VISP made from
   * the eppn. Two records for one person, or one that does not fit, is nobody (logged): never a guess.
   */
  async user(name: string): Promise<VispUser | undefined> {
    const projection = { _id: 0, phpSessionId: 0 };
    const users = this.collection('users');
    let docs = await users.find({ eppn: name }, { projection }).limit(2).toArray();
    if (docs.length === 0) docs = await users.find({ username: vispUsernameOf(name), eppn: { $exists: false } }, { projection }).limit(2).toArray();
    if (docs.length > 1) {
      this.logger.warn({ user: name }, "VISP's database has two records for one sign-in name; neither is used");
      return undefined;
    }
    return this.parsed(VispUserSchema, 'user', docs)[0];
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
    // VISP's ids are strings (or, in old records, numbers); "7" may name the number 7, never "07" it.
    const numeric = /^\d{1,15}$/.test(id) && String(Number(id)) === id ? [{ id: Number(id) }] : [];
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
