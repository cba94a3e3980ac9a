import mongoose, { type Connection } from 'mongoose';
import type { z } from 'zod';
import { VispEarlierTranscriptSchema, VispProjectSchema, VispUserSchema, vispUsernameOf, type VispEarlierTranscript, type VispProject, type VispUser } from '@visp/contracts';
import type { Logger } from '@visp/config';
import { DirectoryRecordError, type ProjectDirectory } from './directory';

/** VISP's ids are strings (or, in old records, numbers): "7" may also name the number 7; "07" never does. */
const numericId = (id: string): number[] => (/^\d{1,15}$/.test(id) && String(Number(id)) === id ? [Number(id)] : []);

/** A bound on one project's earlier transcripts read per poll (VISP's client asks every 5 s while its dialog is open). */
const EARLIER_TRANSCRIPTS_LIMIT = 5000;

/**
 * VISP's own MongoDB as the project directory: its `users`, `projects` and `transcriptionqueueitems` collections
 * (the names its session-manager's mongoose models give them), read and never written, so that a VISP site keeps its data where
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

  private collection(name: 'users' | 'projects' | 'transcriptionqueueitems') {
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

  /** The one document found, checked; none: undefined; one that does not fit: DirectoryRecordError (logged). */
  private parsedOne<S extends z.ZodType>(schema: S, kind: string, doc: unknown): z.output<S> | undefined {
    if (doc === undefined) return undefined;
    const [parsed] = this.parsed(schema, kind, [doc]);
    if (parsed === undefined) throw new DirectoryRecordError(`a ${kind} record in VISP's database does not fit`);
    return parsed;
  }

  /**
   * The record whose eppn is the sign-in name, and nothing else: a sign-in name that equals someone's username is
   * another person. Only a record without an eppn (VISP's older ones) is found by the username VISP made from
   * the eppn. Two records for one person, or one that does not fit, is never a guess: DirectoryRecordError.
   */
  async user(name: string): Promise<VispUser | undefined> {
    const projection = { _id: 0, phpSessionId: 0 };
    const users = this.collection('users');
    let docs = await users.find({ eppn: name }, { projection }).limit(2).toArray();
    if (docs.length === 0) docs = await users.find({ username: vispUsernameOf(name), eppn: { $exists: false } }, { projection }).limit(2).toArray();
    if (docs.length > 1) {
      this.logger.warn({ user: name }, "VISP's database has two records for one sign-in name; neither is used");
      throw new DirectoryRecordError("VISP's database has two records for one sign-in name");
    }
    return this.parsedOne(VispUserSchema, 'user', docs[0]);
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
    const docs = await this.collection('projects').find({ $or: [{ id }, ...numericId(id).map((n) => ({ id: n }))] }, { projection: { _id: 0, __v: 0 } }).limit(1).toArray();
    return this.parsedOne(VispProjectSchema, 'project', docs[0]);
  }

  /** VISP's completed queue items of the project (or of one bundle), newest first; its others ended with its queue. */
  async earlierTranscripts(projectId: string, only?: { session: string; bundle: string }): Promise<VispEarlierTranscript[]> {
    const docs = await this.collection('transcriptionqueueitems')
      .find({ project: { $in: [projectId, ...numericId(projectId)] }, status: 'complete', ...(only ? { session: only.session, bundle: only.bundle } : {}) }, { projection: { _id: 0, transcriptionData: 0, log: 0 } })
      .sort({ finishedAt: -1 })
      .limit(only ? 1 : EARLIER_TRANSCRIPTS_LIMIT)
      .toArray();
    return this.parsed(VispEarlierTranscriptSchema, 'transcription queue item', docs);
  }

  async ping(): Promise<void> {
    await this.connection.db?.admin().ping();
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
