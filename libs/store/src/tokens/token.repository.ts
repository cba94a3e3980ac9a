import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Schema, type Connection, type InferSchemaType, type Model } from 'mongoose';
import type { Owner } from '@visp/contracts';

/**
 * API tokens: `visp_<id>_<secret>`. Only a SHA-256 of the secret is stored (a token is random, so a slow hash
 * adds nothing); the id makes the lookup a primary-key read.
 */
const tokenSchema = new Schema(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true, index: true },
    name: { type: String, required: true },
    secretHash: { type: String, required: true },
    expiresAt: { type: Date },
    lastUsedAt: { type: Date },
  },
  { timestamps: { createdAt: true, updatedAt: false }, collection: 'api_tokens', versionKey: false },
);
type TokenDocument = InferSchemaType<typeof tokenSchema> & { createdAt: Date };

export interface ApiToken {
  id: string;
  owner: Owner;
  name: string;
  createdAt: Date;
  expiresAt?: Date;
  lastUsedAt?: Date;
}

const TOKEN_PATTERN = /^visp_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
/** lastUsedAt is written at most this often per token: a busy script must not write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

const toToken = (doc: TokenDocument): ApiToken => ({
  id: doc._id,
  owner: doc.owner,
  name: doc.name,
  createdAt: doc.createdAt,
  expiresAt: doc.expiresAt ?? undefined,
  lastUsedAt: doc.lastUsedAt ?? undefined,
});

export class TokenRepository {
  private readonly model: Model<TokenDocument>;

  constructor(connection: Connection) {
    this.model = connection.model<TokenDocument>('ApiToken', tokenSchema);
  }

  /** Creates a token; the returned `token` is the only time its secret exists outside the caller. */
  async create(owner: Owner, name: string, expiresAt?: Date): Promise<{ token: string; record: ApiToken }> {
    const id = randomBytes(10).toString('hex').slice(0, 16);
    const secret = randomBytes(32).toString('base64url');
    const doc = await this.model.create({ _id: id, owner, name, secretHash: hash(secret), expiresAt });
    return { token: `visp_${id}_${secret}`, record: toToken(doc.toObject() as TokenDocument) };
  }

  /** The token's record when `token` is genuine and unexpired; records its use. */
  async verify(token: string, now = new Date()): Promise<ApiToken | undefined> {
    const match = TOKEN_PATTERN.exec(token);
    if (!match) return undefined;
    const [, id = '', secret = ''] = match;
    const doc = await this.model.findById(id).lean<TokenDocument>();
    if (!doc) return undefined;
    const [given, stored] = [Buffer.from(hash(secret), 'hex'), Buffer.from(doc.secretHash, 'hex')];
    if (given.length !== stored.length || !timingSafeEqual(given, stored)) return undefined;
    if (doc.expiresAt && doc.expiresAt <= now) return undefined;
    if (!doc.lastUsedAt || now.getTime() - doc.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.model.updateOne({ _id: id }, { $set: { lastUsedAt: now } });
      doc.lastUsedAt = now;
    }
    return toToken(doc);
  }

  async list(owner: Owner): Promise<ApiToken[]> {
    const docs = await this.model.find({ owner }).sort({ createdAt: -1 }).lean<TokenDocument[]>();
    return docs.map(toToken);
  }

  /** True when the owner had such a token. */
  async revoke(owner: Owner, id: string): Promise<boolean> {
    const doc = await this.model.findById(id).lean<TokenDocument>();
    if (doc?.owner !== owner) return false;
    return (await this.model.deleteOne({ _id: id })).deletedCount === 1;
  }

  async ensureIndexes(): Promise<void> {
    await this.model.createIndexes();
  }
}
