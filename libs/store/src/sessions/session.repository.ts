import { randomUUID } from 'node:crypto';
import mongoose, { type Connection, type Model } from 'mongoose';
import type { Owner, SessionId, SessionLimits, SessionState } from '@visp/contracts';
import { isDuplicateKey, mapDuplicateKey } from '../errors';
import { sessionSchema, sessionTransitionSchema, type SessionDocument, type SessionTransitionDocument } from './session.schema';

export interface SessionRecord {
  sid: SessionId;
  owner: Owner;
  type: string;
  project?: string;
  instance: string;
  state: SessionState;
  reason?: string;
  history: Array<{ state: SessionState; at: Date; reason?: string }>;
  limits: SessionLimits;
  containerId?: string;
  containerName?: string;
  createdAt: Date;
  updatedAt: Date;
  readyAt?: Date;
  stoppedAt?: Date;
  adoptedAt?: Date;
  /** Prepared ahead and not yet launched (the warm pool). */
  warm: boolean;
}

export interface NewSession {
  sid: SessionId;
  owner: Owner;
  type: string;
  project?: string;
  instance: string;
  limits: SessionLimits;
  /** @defaultValue now */
  createdAt?: Date;
  warm?: boolean;
}

/** Fields a state change may set alongside the state. */
export type SessionUpdate = Partial<Pick<SessionRecord, 'containerId' | 'containerName' | 'readyAt' | 'stoppedAt' | 'adoptedAt' | 'warm'>>;

type Lean = SessionDocument & { createdAt: Date; updatedAt: Date };

const transitionId = (sid: SessionId, rev: number) => `${sid}:${rev}`;

/**
 * How long a state change waits out a database that does not answer. Longer than a restart takes (about a second
 * here), short enough that a caller holding a session's lease (30 s) still holds it when this gives up.
 */
const OUTAGE_PATIENCE_MS = 15_000;

/**
 * The codes a MongoDB server answers operations in flight with while it shuts down or steps down (the driver's own
 * list of retryable ones, which it applies only to replica sets): a standalone restart sends them too.
 */
const GOING_AWAY_CODES = new Set([91, 189, 10107, 11600, 11602, 13435, 13436]);

/**
 * The database could not be reached, or went away mid-operation: the write may or may not have landed. Not a
 * client closed on purpose (MongoNotConnectedError, MongoTopologyClosedError): that is over, not an outage.
 */
function isUnreachable(err: unknown): boolean {
  // A cleared connection pool is a MongoNetworkError too.
  const { MongoNetworkError, MongoServerSelectionError, MongoServerError } = mongoose.mongo;
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) return true;
  return err instanceof MongoServerError && (GOING_AWAY_CODES.has(Number(err.code)) || err.hasErrorLabel('RetryableWriteError'));
}

/** Runs a step, trying again while the database is unreachable, for up to {@link OUTAGE_PATIENCE_MS}. */
async function throughOutages<T>(step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + OUTAGE_PATIENCE_MS;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!isUnreachable(err) || Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function toRecord(doc: Lean): SessionRecord {
  const optional = <T>(v: T | null | undefined) => v ?? undefined;
  return {
    sid: doc._id,
    owner: doc.owner,
    type: doc.type,
    project: optional(doc.project),
    instance: doc.instance,
    state: doc.state as SessionState,
    reason: optional(doc.reason),
    history: doc.history.map((h) => ({ state: h.state as SessionState, at: h.at, reason: optional(h.reason) })),
    limits: { memoryMiB: doc.limits.memoryMiB, cpus: doc.limits.cpus, pids: doc.limits.pids },
    containerId: optional(doc.containerId),
    containerName: optional(doc.containerName),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    readyAt: optional(doc.readyAt),
    stoppedAt: optional(doc.stoppedAt),
    adoptedAt: optional(doc.adoptedAt),
    warm: doc.warm === true,
  };
}

/**
 * Session records. Reads of one user's data take the owner, so a route cannot forget it;
 * the `…AnyOwner` methods are for services acting for the system (recovery, culling, admins).
 */
export class SessionRepository {
  private readonly model: Model<SessionDocument>;
  private readonly transitions: Model<SessionTransitionDocument>;

  constructor(connection: Connection) {
    this.model = connection.model<SessionDocument>('Session', sessionSchema);
    this.transitions = connection.model<SessionTransitionDocument>('SessionTransition', sessionTransitionSchema);
  }

  /**
   * Stores a new session as `pending`, or straight as `starting` when it has its capacity already (one write
   * instead of two); a reused sid is a DuplicateKeyError.
   */
  async create(session: NewSession, state: 'pending' | 'starting' = 'pending'): Promise<SessionRecord> {
    return this.insert(session, state, { at: session.createdAt ?? new Date() });
  }

  /**
   * Stores a running session rebuilt from elsewhere (recovery, from its container's labels) as `ready`, in one
   * write. Transitions left from an earlier record under the same id (its collection lost, theirs not) are
   * cleared first, or they would replay into this one.
   */
  async rebuildReady(session: NewSession, set: SessionUpdate, reason: string): Promise<SessionRecord> {
    if (await this.transitions.exists({ _id: transitionId(session.sid, 1) })) await this.transitions.deleteMany({ sid: session.sid });
    return this.insert(session, 'ready', { at: set.adoptedAt ?? new Date(), reason, set });
  }

  private async insert(session: NewSession, state: SessionState, entry: { at: Date; reason?: string; set?: SessionUpdate }): Promise<SessionRecord> {
    const { at, reason } = entry;
    const doc = await mapDuplicateKey(`session ${session.sid}`, () =>
      this.model.create({
        _id: session.sid,
        owner: session.owner,
        type: session.type,
        project: session.project,
        instance: session.instance,
        limits: session.limits,
        state,
        history: [{ state, at, ...(reason !== undefined ? { reason } : {}) }],
        createdAt: session.createdAt ?? at,
        ...(session.warm ? { warm: true } : {}),
        ...(reason !== undefined ? { reason } : {}),
        ...entry.set,
      }),
    );
    return toRecord(doc.toObject() as Lean);
  }

  /** The owner's session; a prepared one (the warm pool) is not theirs to see until they launch it. */
  async get(owner: Owner, sid: SessionId): Promise<SessionRecord | undefined> {
    const record = await this.getAnyOwner(sid);
    return record?.owner === owner && !record.warm ? record : undefined;
  }

  /** The owner's sessions, newest first; prepared ones (the warm pool) are not theirs to see until they launch them. */
  async list(owner: Owner, states?: readonly SessionState[]): Promise<SessionRecord[]> {
    const docs = await this.model
      .find({ owner, warm: { $ne: true }, ...(states ? { state: { $in: states } } : {}) })
      .sort({ createdAt: -1 })
      .lean<Lean[]>();
    return docs.map(toRecord);
  }

  async getAnyOwner(sid: SessionId): Promise<SessionRecord | undefined> {
    const doc = await this.find(sid);
    return doc ? toRecord(doc) : undefined;
  }

  /**
   * The record once any change already won for it is applied: what the next transition would start from. For a
   * writer whose own change may have landed unseen (its answer lost), before it acts on the outcome.
   */
  settle(sid: SessionId): Promise<SessionRecord | undefined> {
    return throughOutages(async () => {
      for (;;) {
        const current = await this.find(sid);
        if (!current) return undefined;
        const pending = await this.transitions.findById(transitionId(sid, current.rev + 1)).lean<SessionTransitionDocument>();
        if (!pending) return toRecord(current);
        await this.apply(current, pending);
      }
    });
  }

  async listAnyOwner(filter: { states?: readonly SessionState[]; instance?: string } = {}): Promise<SessionRecord[]> {
    const docs = await this.model
      .find({ ...(filter.states ? { state: { $in: filter.states } } : {}), ...(filter.instance ? { instance: filter.instance } : {}) })
      .sort({ createdAt: -1 })
      .lean<Lean[]>();
    return docs.map(toRecord);
  }

  /** The stored state of each of `sids` that has a record (one query, whatever their number). */
  async statesOf(sids: readonly SessionId[]): Promise<Map<SessionId, SessionState>> {
    if (sids.length === 0) return new Map();
    const docs = await this.model.find({ _id: { $in: sids } }, { state: 1 }).lean<Array<Pick<Lean, '_id' | 'state'>>>();
    return new Map(docs.map((d) => [d._id, d.state]));
  }

  /** The ready sessions of `instance` that recovery adopted at or after `since`, and whether each is a prepared one. */
  async adoptedSince(instance: string, since: Date): Promise<Array<{ sid: SessionId; warm: boolean }>> {
    const docs = await this.model.find({ instance, state: 'ready', adoptedAt: { $gte: since } }, { warm: 1 }).lean<Array<Pick<Lean, '_id' | 'warm'>>>();
    return docs.map((d) => ({ sid: d._id, warm: d.warm === true }));
  }

  /** The owner's sessions in `states`, prepared ones (the warm pool) not counted. */
  async countActive(owner: Owner, states: readonly SessionState[]): Promise<number> {
    return this.model.countDocuments({ owner, state: { $in: states }, warm: { $ne: true } });
  }

  /** The owner's prepared sessions (the warm pool) in `states`, oldest first. */
  async listWarm(owner: Owner, states: readonly SessionState[]): Promise<SessionRecord[]> {
    const docs = await this.model.find({ owner, state: { $in: states }, warm: true }).sort({ createdAt: 1 }).lean<Lean[]>();
    return docs.map(toRecord);
  }

  /**
   * Moves a session to `to` only if it is in one of `from`, recording the change in its history. Of concurrent
   * callers exactly one wins, on MongoDB and FerretDB alike (see session_transitions). Returns the updated
   * record, or undefined when the session is gone or not in a `from` state (someone else won).
   *
   * The database may go away for a moment (a restart, a cut connection): the change is tried again for up to
   * {@link OUTAGE_PATIENCE_MS} (throughOutages). A try may have landed although its answer was lost, so every try of one call
   * carries the same change id, and a later try that finds its own entry finishes it instead of reporting a loss.
   */
  async transition(sid: SessionId, from: readonly SessionState[], to: SessionState, options: { reason?: string; set?: SessionUpdate; at?: Date } = {}): Promise<SessionRecord | undefined> {
    const change = randomUUID();
    // The entries this call tried to insert: after a lost answer, one of them may be its own and applied.
    const tried = new Set<string>();
    return throughOutages(() => this.tryTransition(sid, from, to, options, { change, tried }));
  }

  private async tryTransition(
    sid: SessionId,
    from: readonly SessionState[],
    to: SessionState,
    options: { reason?: string; set?: SessionUpdate; at?: Date },
    { change, tried }: { change: string; tried: Set<string> },
  ): Promise<SessionRecord | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.find(sid);
      if (!current) return undefined;
      const pending = await this.transitions.findById(transitionId(sid, current.rev + 1)).lean<SessionTransitionDocument>();
      if (pending) {
        // A writer won this revision but died (or is slow, or is this call with its answer lost) before applying it:
        // finish its change, then look again.
        const applied = await this.apply(current, pending);
        if (pending.change === change) return applied;
        continue;
      }
      // An earlier try of this call that won and was applied, its answer lost: the record is as it left it, or has
      // moved on. (A try that inserts returns, so only an earlier, failed try leaves an id here.)
      for (const id of tried) {
        const entry = await this.transitions.findById(id).lean<SessionTransitionDocument>();
        if (entry?.change === change) return entry.rev === current.rev ? toRecord(current) : undefined;
      }
      if (!from.includes(current.state as SessionState)) return undefined;
      const entry: SessionTransitionDocument = { _id: transitionId(sid, current.rev + 1), sid, rev: current.rev + 1, change, state: to, at: options.at ?? new Date(), reason: options.reason, set: options.set ?? {} };
      tried.add(entry._id);
      try {
        await this.transitions.create(entry);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Lost to another writer, or to this very insert sent again by the driver after a lost answer.
        const winner = await this.transitions.findById(entry._id).lean<SessionTransitionDocument>();
        if (winner?.change !== change) return undefined;
      }
      return this.apply(current, entry);
    }
    return undefined;
  }

  /** Writes a won transition into the session. Idempotent: the whole new state is set, nothing is pushed. */
  private async apply(current: Lean, entry: SessionTransitionDocument): Promise<SessionRecord | undefined> {
    const reason = entry.reason ?? undefined;
    const history = [...current.history, { state: entry.state, at: entry.at, ...(reason !== undefined ? { reason } : {}) }];
    const changes = { ...(entry.set as SessionUpdate), state: entry.state, rev: entry.rev, history, ...(reason !== undefined ? { reason } : {}) };
    // One round trip when this call applies it (the usual case); else whoever did must have left it at this rev.
    const applied = await this.model.findOneAndUpdate({ _id: current._id, rev: current.rev }, { $set: changes }, { returnDocument: 'after' }).lean<Lean>();
    const updated = applied ?? (await this.find(current._id));
    return updated?.rev === entry.rev ? toRecord(updated) : undefined;
  }

  private find(sid: SessionId): Promise<Lean | null> {
    return this.model.findById(sid).lean<Lean>();
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.model.createIndexes(), this.transitions.createIndexes()]);
  }
}
