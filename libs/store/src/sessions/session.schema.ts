import { Schema, type InferSchemaType } from 'mongoose';
import { SESSION_STATES } from '@visp/contracts';

const stateChangeSchema = new Schema(
  {
    state: { type: String, enum: SESSION_STATES, required: true },
    at: { type: Date, required: true },
    reason: { type: String },
  },
  { _id: false },
);

const limitsSchema = new Schema(
  {
    memoryMiB: { type: Number, required: true },
    cpus: { type: Number, required: true },
    pids: { type: Number, required: true },
  },
  { _id: false },
);

/**
 * Keyed by `_id`: the session id for sessions, `<sid>:<rev>` for transitions. Besides being the natural keys,
 * these make every point lookup an `_id` lookup: an index search on MongoDB, and on FerretDB 1.24 the only filter
 * it hands to SQLite at all (any other makes it read and decode the whole collection; even this one is a scan
 * there, its index being on another expression: docs/scaling.md).
 */
export const sessionSchema = new Schema(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true, index: true },
    type: { type: String, required: true },
    project: { type: String },
    instance: { type: String, required: true },
    state: { type: String, enum: SESSION_STATES, required: true, index: true },
    /** Bumped by every state change; see session_transitions. */
    rev: { type: Number, required: true, default: 0 },
    /** Why the session failed or stopped (e.g. `idle`, `lost`, the start error). */
    reason: { type: String },
    history: { type: [stateChangeSchema], default: [] },
    limits: { type: limitsSchema, required: true },
    containerId: { type: String },
    containerName: { type: String },
    readyAt: { type: Date },
    stoppedAt: { type: Date },
    /** Set when recovery re-adopted a running container. */
    adoptedAt: { type: Date },
    /**
     * Prepared ahead for its owner and not yet launched (the warm pool): true until a launch takes it. Such a
     * session has no route, is in no owner's list and does not count against the owner's limit.
     */
    warm: { type: Boolean },
  },
  { timestamps: true, collection: 'sessions' },
);

export type SessionDocument = InferSchemaType<typeof sessionSchema>;

/**
 * One entry per state change, unique on (sid, rev) by its `_id`. Inserting entry rev+1 is how a writer wins the right to
 * change a session: a unique insert is atomic on MongoDB and on FerretDB, whose conditional updates are not
 * (FerretDB 1.24 reads, then writes by _id). The entry holds the whole change, so anyone can finish applying it.
 */
export const sessionTransitionSchema = new Schema(
  {
    /** `<sid>:<rev>`: its uniqueness is what makes one writer win. */
    _id: { type: String, required: true },
    sid: { type: String, required: true, index: true },
    rev: { type: Number, required: true },
    /** Which call wrote it: a call trying again after a lost answer knows its own entry by this. */
    change: { type: String },
    state: { type: String, enum: SESSION_STATES, required: true },
    at: { type: Date, required: true },
    reason: { type: String },
    set: { type: Schema.Types.Mixed },
  },
  { collection: 'session_transitions', versionKey: false },
);

export type SessionTransitionDocument = InferSchemaType<typeof sessionTransitionSchema>;
