import type { Connection, Model } from 'mongoose';
import type { Owner } from '@visp/contracts';
import { isDuplicateKey } from '../errors';
import { userSchema, type UserDocument } from './user.schema';

export interface User {
  username: string;
  email?: string;
  displayName?: string;
  affiliation?: string;
  admin: boolean;
  loginAllowed: boolean;
  lastSignInAt?: Date;
  createdAt: Date;
}

export interface SignInIdentity {
  username: Owner;
  email?: string;
  displayName?: string;
  affiliation?: string;
  admin: boolean;
}

const toUser = (doc: UserDocument & { createdAt: Date }): User => ({
  username: doc.username,
  email: doc.email ?? undefined,
  displayName: doc.displayName ?? undefined,
  affiliation: doc.affiliation ?? undefined,
  admin: doc.admin,
  loginAllowed: doc.loginAllowed,
  lastSignInAt: doc.lastSignInAt ?? undefined,
  createdAt: doc.createdAt,
});

export class UserRepository {
  private readonly model: Model<UserDocument>;

  constructor(connection: Connection) {
    this.model = connection.model<UserDocument>('User', userSchema);
  }

  /** Creates the user on first sign-in, refreshes the identity attributes on every later one. */
  async upsertOnSignIn(identity: SignInIdentity, at = new Date()): Promise<User> {
    const upsert = () =>
      this.model
        .findOneAndUpdate(
          { username: identity.username },
          { $set: { email: identity.email, displayName: identity.displayName, affiliation: identity.affiliation, admin: identity.admin, lastSignInAt: at } },
          { upsert: true, returnDocument: 'after', lean: true, runValidators: true },
        )
        .orFail();
    try {
      return toUser((await upsert()) as UserDocument & { createdAt: Date });
    } catch (err) {
      // Two first sign-ins at once: the unique index lets one insert; the other now finds the user.
      if (!isDuplicateKey(err)) throw err;
      return toUser((await upsert()) as UserDocument & { createdAt: Date });
    }
  }

  async find(username: Owner): Promise<User | undefined> {
    const doc = await this.model.findOne({ username }).lean();
    return doc ? toUser(doc as UserDocument & { createdAt: Date }) : undefined;
  }

  async findMany(usernames: readonly string[]): Promise<User[]> {
    const docs = await this.model.find({ username: { $in: [...usernames] } }).lean();
    return docs.map((doc) => toUser(doc as UserDocument & { createdAt: Date }));
  }

  /** Puts a user on the access list or takes them off; creates the user when they have not signed in yet. */
  async setLoginAllowed(username: Owner, allowed: boolean): Promise<void> {
    await this.model.updateOne({ username }, { $set: { loginAllowed: allowed } }, { upsert: true, runValidators: true });
  }

  async ensureIndexes(): Promise<void> {
    await this.model.createIndexes();
  }
}
