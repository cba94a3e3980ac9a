import type { SessionTypeConfig } from '@visp/config';
import type { ProgressStep, SessionLimits } from '@visp/contracts';

/**
 * What the session-manager and recovery ask of the engine that runs sessions, and nothing more: Podman today
 * (podman-runtime.ts), another engine as one more module that implements this. What each guarantees is in
 * docs/architecture.md ("Session runtimes"). The database, the routes and the readiness probe are not a
 * runtime's: they are the same whatever runs the session.
 */
export interface SessionRuntime {
  /** Its name, and its check's name in `/readyz`. */
  readonly name: string;
  /** Resolves when the engine answers. */
  ping(): Promise<void>;
  /** Checks what can be checked before anything is made (the image is there); a SpawnError says what is wrong. */
  preflight(request: SpawnRequest): Promise<void>;
  /**
   * Makes the session's workload and what it needs (its home, its isolation) and starts it. Resolves once the
   * engine runs it and it has an address, not once its app answers (the caller probes `target`); gives up at
   * `deadline` (epoch ms, the start's whole allowance) or when `signal` aborts (the session was stopped).
   */
  start(request: SpawnRequest, onStep: OnStep, limits: { signal: AbortSignal; deadline: number }): Promise<StartedWorkload>;
  /**
   * The workload now, with where its app listens on `port` reached from the services; undefined when it is gone.
   * `token`: read the session's token too (recovery adopting it), where that costs a call of its own.
   */
  inspect(id: string, port: number, options?: { token?: boolean }): Promise<WorkloadDetails | undefined>;
  /** The workloads this product manages: of one instance (or all), of one session (or all). */
  list(filter?: { instance?: string; sid?: string }): Promise<Workload[]>;
  /** Its last log lines, stdout and stderr together; empty when there are none. */
  logTail(id: string, lines: number): Promise<string>;
  /** Stops and removes the session's workload and whatever it alone owned (never the home); idempotent. */
  remove(session: { typeName: string; sid: string }): Promise<void>;
  /**
   * What is left of a session recovery found without its record's say-so: the workload by id when there is one (at
   * once, however it is named, whatever it is doing), then whatever the session alone owned; idempotent.
   */
  removeRemains(session: { sid: string; workloadId?: string }): Promise<void>;
  /**
   * Follows the engine's stream of changes (Podman's events, a Kubernetes watch) until `signal` aborts, reconnecting
   * on its own: `ended` with a session's id whenever a workload of `instance` has stopped running or is gone (maybe
   * twice for one end, or for one a pass already saw); `watching` each time the stream is (re)connected, after which
   * nothing is missed, though what ended before it may have been. Recovery passes soon after either.
   */
  follow(instance: string, on: FollowHandlers, signal: AbortSignal): Promise<void>;
  /** What the runtime makes beside each session and recovery keeps in order; absent when there is nothing. */
  readonly plumbing?: SessionPlumbing;
}

/**
 * The steps of a start that are the runtime's to tell, in this order, with words for the user: every
 * runtime tells `creating` and `starting`; one that places and fetches (Kubernetes) also `scheduled` and `pulling`.
 */
export type RuntimeStep = Extract<ProgressStep, 'creating' | 'scheduled' | 'pulling' | 'starting'>;
export type OnStep = (step: RuntimeStep, message: string) => void;

export interface FollowHandlers {
  /** `why`: the engine's words on why, when it says more than that it ended (an eviction, a node lost). */
  ended(sid: string, why?: string): void;
  watching(): void;
}

/** A session to start, as the session-manager decided it. */
export interface SpawnRequest {
  sid: string;
  owner: string;
  typeName: string;
  type: SessionTypeConfig;
  project?: string;
  limits: SessionLimits;
  createdAt: Date;
  token: string;
  /** Prepared ahead for its owner (the warm pool): labelled so, for recovery. */
  warm?: true;
}

/** Why a start failed, in words for the user. */
export class SpawnError extends Error {
  override readonly name = 'SpawnError';
}

export interface StartedWorkload {
  id: string;
  /** Where the gateway and the readiness probe reach the app (`http://host:port`). */
  target: string;
}

/** A session's workload (a container on Podman) as a list shows it. */
export interface Workload {
  id: string;
  name: string;
  /** `running`; `created` when it never started; `pending` when the engine has yet to run it; anything else means it ran and is over. */
  state: string;
  /** The session's labels (LABEL in libs/contracts): what recovery rebuilds a session from. */
  labels: Record<string, string>;
  /** Why a workload that is over ended, in the engine's words, when it says more than that it exited (`Evicted: …`). */
  ended?: string;
}

export interface WorkloadDetails extends Workload {
  running: boolean;
  exitCode: number | null;
  /** Why it can never run, in the engine's words, when it cannot (a pod whose image cannot be had). */
  failure?: string;
  /** The session's token as the workload holds it: recovery keeps it, so open tabs keep working. */
  token?: string;
  /** The limits it runs under, for a record rebuilt from its labels. */
  limits: SessionLimits;
  /** Where its app is reached on the port asked; undefined when it cannot be (no address, nothing published). */
  target?: string;
}

/**
 * Pieces a runtime makes per session beside the workload, which can outlive it or lose a member when a service's
 * container is replaced (Podman's network mode: each session's own network, which the services join).
 */
export interface SessionPlumbing {
  /** The services' containers that belong on every session's piece. */
  readonly joiners: readonly string[];
  /** The instance's pieces, by the session (a valid session id) they belong to, with the joiners on each. */
  list(instance: string): Promise<Array<{ name: string; sid: string; members: string[] }>>;
  /** Removes one piece by name; idempotent. */
  remove(name: string): Promise<void>;
  /** Puts a joiner back on a piece; NotFound when either is not there. */
  join(name: string, joiner: string): Promise<void>;
}
