/**
 * Every Redis name the system uses, built here and nowhere else (STYLE.md 9).
 * Keys: `visp:<domain>[:<id>]`; channels: `visp:chan:<topic>@<database>`; BullMQ under `visp:bull`.
 */
export const keys = {
  /** Hash: sid → Route JSON. The gateway proxies by it. */
  routes: 'visp:routes',
  /** Sorted set: sid → last user activity (ms since the epoch), written by the gateway. */
  activity: 'visp:activity',
  /** String with TTL: a signed-in browser's server-side session (JSON Principal), by the id in its cookie. */
  login: (id: string) => `visp:login:${id}`,
  /** String with a short TTL, read once (GETDEL): a one-time code that lets a login into one session's own host. */
  sessionEntry: (code: string) => `visp:session-entry:${code}`,
  /** Counter with TTL: attempts of one kind from one client in the current window. */
  rateLimit: (scope: string, client: string) => `visp:ratelimit:${scope}:${client}`,
  /** Sorted set: a user's transcription uploads in progress, `<id>:<bytes reserved>` scored by expiry (ms). */
  uploadReservations: (owner: string) => `visp:transcriptions:uploading:${owner}`,
  /**
   * String with TTL, set NX: one product event (`session:<sid>:<state>`, `transcription:<id>:<state>`) that some
   * gateway process has reported to Matomo. Every gateway hears every bus event; only the one that sets this reports.
   */
  analyticsReported: (event: string) => `visp:analytics:reported:${event}`,
  /**
   * String with TTL, set NX: the gateway process writing a completed bundle job's transcript beside its bundle
   * (VISP's transcription queue). Every gateway hears the completion; only the one that sets this writes.
   */
  transcriptWriteBack: (id: string) => `visp:transcriptions:writing-back:${id}`,
  /** Held while one request looks at a project bundle's queue and perhaps queues it (BundleJobs.oneAtATime). */
  bundleQueueing: (bundle: string) => `visp:transcriptions:queueing:${bundle}`,
  /**
   * String with TTL, set NX: the gateway process rechecking, this period, that every live session's owner may keep
   * it (the access list, the project's members). Never released: it marks the period as looked at.
   */
  accessWatch: 'visp:sessions:access-watch',
  /** A lock; its fencing counter lives beside it. */
  lock: (name: string) => `visp:lock:${name}`,
  lockFence: (name: string) => `visp:lock:${name}:fence`,
} as const;

/** What a channel is scoped by: the database the connection selected. */
interface OnDatabase {
  options: { db?: number };
}

/**
 * A Pub/Sub channel of the database `redis` uses. Redis delivers a message to every subscriber of the channel on
 * the server, whatever database either side selected: two instances (or two test stacks) on one Redis would hear
 * each other's events, logouts and route changes (seen: a culling test's `session.state` reached the bus test on
 * another database). Naming the database in the channel keeps each database's messages its own.
 */
const onDatabase = (name: string) => (redis: OnDatabase) => `${name}@${redis.options.db ?? 0}`;

export const channels = {
  /** BusEvent JSON (libs/contracts), for the owner's WebSocket and SSE connections. */
  events: onDatabase('visp:chan:events'),
  /** RouteChange JSON: tells every gateway to drop its cached route. */
  routes: onDatabase('visp:chan:routes'),
  /** A login id that was signed out: every gateway drops it from its cache. */
  logouts: onDatabase('visp:chan:logouts'),
  /** An API token id that was revoked: every gateway drops it from its cache. */
  tokenRevocations: onDatabase('visp:chan:token-revocations'),
  /** A transcription id whose owner cancelled it: the worker running it kills its engine. */
  transcriptionCancels: onDatabase('visp:chan:transcription-cancels'),
} as const;

export const BULL_PREFIX = 'visp:bull';

/** Queue names, each equal to its value so it can never drift from what BullMQ stores. */
export const QUEUES = {
  transcriptions: 'transcriptions',
} as const;
