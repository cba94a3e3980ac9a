import { randomBytes } from 'node:crypto';
import { tryAcquireLock, type Lock, type Redis, type RouteStore } from '@visp/bus';
import type { Logger } from '@visp/config';
import { ACTIVE_SESSION_STATES, FINAL_SESSION_STATES, LABEL, SessionIdSchema, type ReconcileReport, type RecoveryOutcome } from '@visp/contracts';
import type { SessionLeases, SessionRuntime } from '@visp/sessions';
import type { SessionRepository } from '@visp/store';
import { Counter, type Registry } from 'prom-client';
import type { Actor } from './act';
import { plan, type Observation } from './plan';

const isSessionId = (text: string) => SessionIdSchema.safeParse(text).success;

/** Actions run this many at a time: Podman and the app probes are the slow part. */
const CONCURRENCY = 16;
/**
 * After the engine tells of a workload's end that is news (see `isNews`), a pass this soon (the ends that come
 * together share it), and never sooner than this after the last pass ended: a pass reads every workload, record and
 * route, so at 10,000 sessions passes must not follow each other without a gap.
 */
const PASS_AFTER_END = { soonMs: 200, gapMs: 2000 };
/** How many sessions' end reasons are kept for the passes that follow: far more than end between two passes. */
const ENDED_WHY_KEPT = 1000;


export interface RecoveryDeps {
  runtime: SessionRuntime;
  sessions: SessionRepository;
  /** Read only: whether a session is being changed under its lease (a stop, a start) elsewhere. */
  leases: Pick<SessionLeases, 'heldAnywhere'>;
  routes: RouteStore;
  redis: Redis;
  actor: Actor;
  instance: string;
  logger: Logger;
}

/**
 * Reconciles containers, records and routes (see plan.ts), as the only leader: a Redis lock with a fence, held
 * across passes and renewed, so that two recovery processes never act at once. Every action is one audit log
 * line and a count in /metrics.
 */
export class Recovery {
  private readonly id = `recovery-${process.pid}-${randomBytes(3).toString('hex')}`;
  private lock: Lock | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The pass asked for by the engine's news: at most one waits, however much news comes. */
  private soon: NodeJS.Timeout | undefined;
  private soonAfterThisPass = false;
  private passing = false;
  private lastPassEndedAt = 0;
  /** Why workloads ended, as the engine said, for the sessions a pass then finds without one (the latest kept). */
  private readonly endedWhy = new Map<string, string>();
  private readonly following = new AbortController();
  private running: Promise<ReconcileReport> | undefined;
  private actions: Counter<'action' | 'result'> | undefined;
  /** Containers already reported as left alone. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly deps: RecoveryDeps,
    private readonly options: { intervalMs: number; dryRun: boolean },
  ) {}

  /** Counts actions in the service's /metrics. */
  countIn(registry: Registry): void {
    this.actions = new Counter({ name: 'visp_recovery_actions_total', help: 'Recovery actions by kind and result', labelNames: ['action', 'result'] as const, registers: [registry] });
  }

  /**
   * Passes at the interval, and soon after the engine tells of a workload's end (or reconnects, when ends may have
   * gone untold): a session whose workload died or was deleted is ended, its route dropped, within a couple of
   * seconds rather than at the next interval.
   */
  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref();
    const ended = (sid: string, why?: string) => {
      if (why) this.endedWhy.set(sid, why);
      if (this.endedWhy.size > ENDED_WHY_KEPT) this.endedWhy.delete(this.endedWhy.keys().next().value ?? '');
      void this.isNews(sid).then(
        (news) => news && this.passSoon(),
        () => this.passSoon(),
      );
    };
    void this.deps.runtime.follow(this.deps.instance, { ended, watching: () => this.passSoon() }, this.following.signal);
  }

  /**
   * Whether a workload's end is news to the store. Most ends are a stop's or a failed start's own removal: the
   * session is over already, or its lease is held by whoever is ending it (a pass per stop would list every
   * workload, record and route each time). Should that holder die, the periodic pass finishes the session.
   */
  private async isNews(sid: string): Promise<boolean> {
    const record = await this.deps.sessions.getAnyOwner(sid);
    if (record && FINAL_SESSION_STATES.includes(record.state)) return false;
    return !(await this.deps.leases.heldAnywhere(sid));
  }

  private tick(): void {
    void this.pass({ dryRun: this.options.dryRun }).catch((err: unknown) => this.deps.logger.error({ err }, 'recovery pass failed'));
  }

  /** One pass, soon, and no sooner than the gap after the last; news while it waits joins it, news during a pass waits for its end. */
  private passSoon(): void {
    if (this.soon || this.soonAfterThisPass || this.following.signal.aborted) return;
    if (this.passing) return void (this.soonAfterThisPass = true);
    const wait = Math.max(PASS_AFTER_END.soonMs, this.lastPassEndedAt + PASS_AFTER_END.gapMs - Date.now());
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.tick();
    }, wait);
    this.soon.unref();
  }

  async stop(): Promise<void> {
    this.following.abort();
    clearTimeout(this.soon);
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.lock?.release().catch(() => false);
    this.lock = undefined;
  }

  /** One look and, unless `dryRun` (or the service is in dry-run mode), the actions it calls for; passes never overlap. */
  pass(options: { dryRun: boolean }): Promise<ReconcileReport> {
    const dryRun = options.dryRun || this.options.dryRun;
    const next = (this.running ?? Promise.resolve()).catch(() => undefined).then(() => this.passNow({ dryRun }));
    this.running = next;
    return next;
  }

  private async passNow({ dryRun }: { dryRun: boolean }): Promise<ReconcileReport> {
    this.passing = true;
    try {
      return await this.passOnce({ dryRun });
    } finally {
      this.passing = false;
      this.lastPassEndedAt = Date.now();
      if (this.soonAfterThisPass) {
        this.soonAfterThisPass = false;
        this.passSoon();
      }
    }
  }

  private async passOnce({ dryRun }: { dryRun: boolean }): Promise<ReconcileReport> {
    const started = Date.now();
    const leader = dryRun || (await this.lead());
    const report = (outcomes: RecoveryOutcome[]): ReconcileReport => ({ actor: this.actor(), leader, dryRun, ms: Date.now() - started, outcomes });
    if (!leader) return report([]);
    const actions = plan(await this.observe());
    if (dryRun) return report(actions.map((a) => ({ kind: a.kind, ...(a.kind === 'report' ? { container: a.container.name, detail: a.reason } : { sid: a.sid }), result: 'planned' })));

    const outcomes: RecoveryOutcome[] = [];
    const queue = [...actions];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let action = queue.shift(); action; action = queue.shift()) {
          // Leadership is checked before each action: a paused leader whose lock expired must not go on.
          if (action.kind !== 'report' && !(await this.stillLeading())) return;
          const outcome = await this.deps.actor.run(action);
          outcomes.push(outcome);
          this.audit(outcome, action.kind === 'report' ? action.container.id : undefined);
        }
      }),
    );
    return report(outcomes);
  }

  private audit(outcome: RecoveryOutcome, reportedContainer?: string): void {
    this.actions?.inc({ action: outcome.kind, result: outcome.result });
    // A container left alone is reported once (and counted every pass): it will be there again next time.
    const repeat = reportedContainer !== undefined && this.reported.has(reportedContainer);
    if (reportedContainer !== undefined) this.reported.add(reportedContainer);
    const level = repeat ? 'debug' : outcome.result === 'failed' || outcome.kind === 'report' ? 'warn' : 'info';
    this.deps.logger[level]({ audit: true, actor: this.actor(), ...outcome }, `recovery ${outcome.kind}: ${outcome.result}`);
  }

  private actor(): string {
    return this.lock ? `${this.id}#${this.lock.fence}` : this.id;
  }

  private async lead(): Promise<boolean> {
    if (this.lock && (await this.lock.extend())) return true;
    this.lock = await tryAcquireLock(this.deps.redis, `recovery:${this.deps.instance}`, Math.max(3 * this.options.intervalMs, 30_000));
    return this.lock !== undefined;
  }

  private async stillLeading(): Promise<boolean> {
    if (this.lock && (await this.lock.extend())) return true;
    this.lock = undefined;
    return false;
  }

  private async observe(): Promise<Observation> {
    const { runtime, sessions, routes, instance } = this.deps;
    const [containers, live, routeList, networks] = await Promise.all([
      runtime.list(),
      sessions.listAnyOwner({ instance, states: ACTIVE_SESSION_STATES }),
      routes.all(),
      runtime.plumbing?.list(instance) ?? [],
    ]);
    const joiners = runtime.plumbing?.joiners ?? [];
    const known = new Set(live.map((r) => r.sid));
    const named = new Set([...containers.map((c) => c.labels[LABEL.sessionId] ?? ''), ...routeList.map((r) => r.sid)].filter((sid) => isSessionId(sid) && !known.has(sid)));
    const more = await Promise.all([...named].map((sid) => sessions.getAnyOwner(sid)));
    return { instance, containers, records: [...live, ...more.filter((r) => r !== undefined)], routes: routeList, networks, joiners, endedWhy: this.endedWhy };
  }
}
