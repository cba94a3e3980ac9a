import type { Connection, Model } from 'mongoose';
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
}

/** Fields a state change may set alongside the state. */
export type SessionUpdate = Partial<Pick<SessionRecord, 'containerId' | 'containerName' | 'readyAt' | 'stoppedAt' | 'adoptedAt'>>;

type Lean = SessionDocument & { createdAt: Date; updatedAt: Date };

const transitionId = (sid: SessionId, rev: number) => `${sid}:${rev}`;

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

  /** Stores a new session as `pending`; a reused sid is a DuplicateKeyError. */
  async create(session: NewSession): Promise<SessionRecord> {
    return this.insert(session, 'pending', { at: session.createdAt ?? new Date() });
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
        ...(reason !== undefined ? { reason } : {}),
        ...entry.set,
      }),
    );
    return toRecord(doc.toObject() as Lean);
  }

  async get(owner: Owner, sid: SessionId): Promise<SessionRecord | undefined> {
    const record = await this.getAnyOwner(sid);
    return record?.owner === owner ? record : undefined;
  }

  async list(owner: Owner, states?: readonly SessionState[]): Promise<SessionRecord[]> {
    const docs = await this.model
      .find({ owner, ...(states ? { state: { $in: states } } : {}) })
      .sort({ createdAt: -1 })
      .lean<Lean[]>();
    return docs.map(toRecord);
  }

  async getAnyOwner(sid: SessionId): Promise<SessionRecord | undefined> {
    const doc = await this.find(sid);
    return doc ? toRecord(doc) : undefined;
  }

  async listAnyOwner(filter: { states?: readonly SessionState[]; instance?: string } = {}): Promise<SessionRecord[]> {
    const docs = await this.model
      .find({ ...(filter.states ? { state: { $in: filter.states } } : {}), ...(filter.instance ? { instance: filter.instance } : {}) })
      .sort({ createdAt: -1 })
      .lean<Lean[]>();
    return docs.map(toRecord);
  }

  async countActive(owner: Owner, states: readonly SessionState[]): Promise<number> {
    return this.model.countDocuments({ owner, state: { $in: states } });
  }

  /**
   * Moves a session to `to` only if it is in one of `from`, recording the change in its history. Of concurrent
   * callers exactly one wins, on MongoDB and FerretDB alike (see session_transitions). Returns the updated
   * record, or undefined when the session is gone or not in a `from` state (someone else won).
   */
  async transition(sid: SessionId, from: readonly SessionState[], to: SessionState, options: { reason?: string; set?: SessionUpdate; at?: Date } = {}): Promise<SessionRecord | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.find(sid);
      if (!current) return undefined;
      const pending = await this.transitions.findById(transitionId(sid, current.rev + 1)).lean<SessionTransitionDocument>();
      if (pending) {
        // A writer won this revision but died (or is slow) before applying it: finish its change, then look again.
        await this.apply(current, pending);
        continue;
      }
      if (!from.includes(current.state as SessionState)) return undefined;
      const entry: SessionTransitionDocument = { _id: transitionId(sid, current.rev + 1), sid, rev: current.rev + 1, state: to, at: options.at ?? new Date(), reason: options.reason, set: options.set ?? {} };
      try {
        await this.transitions.create(entry);
      } catch (err) {
        if (isDuplicateKey(err)) return undefined;
        throw err;
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
    await this.model.updateOne({ _id: current._id, rev: current.rev }, { $set: changes });
    const updated = await this.find(current._id);
    return updated?.rev === entry.rev ? toRecord(updated) : undefined;
  }

  private find(sid: SessionId): Promise<Lean | null> {
    return this.model.findById(sid).lean<Lean>();
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([this.model.createIndexes(), this.transitions.createIndexes()]);
  }
}
