import type { Logger } from '@visp/config';
import { answersReadiness, SpawnError, type OnStep, type SessionRuntime, type SpawnRequest, type StartedWorkload } from '@visp/sessions';

/** A started workload, and when its start must be over (one allowance for the engine's start and the app's answer). */
export type StartedSession = StartedWorkload & { deadline: number };

export interface SpawnSettings {
  startTimeoutMs: number;
}

/**
 * Readiness polls every 10 ms for the first seconds, as a person's script around `podman run` would (most apps
 * answer within them, and each poll late is a poll's worth of waiting added to every start), then settle at a
 * cheap pace for the slow ones.
 */
const POLL = { fastMs: 10, fastForMs: 3000, factor: 1.5, maxMs: 100 };
/** How often a start that is still waiting asks the runtime whether the workload died: inspect costs the engine CPU. */
const LIVENESS_CHECK_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a session's workload through the runtime and waits until its app answers, the same way whatever the
 * runtime: its readiness path over HTTP, as the gateway will reach it. Knows neither the engine nor the database.
 */
export class Spawner {
  constructor(
    private readonly runtime: SessionRuntime,
    private readonly settings: SpawnSettings,
    private readonly logger: Logger,
  ) {}

  /** Checks what can be checked before anything is created. */
  preflight(request: SpawnRequest): Promise<void> {
    return this.runtime.preflight(request);
  }

  async createAndStart(request: SpawnRequest, onStep: OnStep, signal: AbortSignal): Promise<StartedSession> {
    const deadline = Date.now() + this.settings.startTimeoutMs;
    return { ...(await this.runtime.start(request, onStep, { signal, deadline })), deadline };
  }

  /**
   * Polls the app's readiness path until it answers below 400. Fails early, with the workload's last log lines,
   * if it exits; fails at the start timeout; stops quietly when `signal` aborts.
   */
  async waitReady(request: SpawnRequest, started: StartedSession, signal: AbortSignal): Promise<void> {
    const { deadline } = started;
    const fastUntil = Date.now() + POLL.fastForMs;
    let nextLivenessCheck = Date.now() + LIVENESS_CHECK_MS;
    for (let pause = POLL.fastMs; !signal.aborted; pause = Date.now() < fastUntil ? POLL.fastMs : Math.min(pause * POLL.factor, POLL.maxMs)) {
      const answered = await answersReadiness(request.type, request, started.target, signal);
      if (answered) return;
      const timedOut = Date.now() > deadline;
      if (timedOut || Date.now() >= nextLivenessCheck) {
        nextLivenessCheck = Date.now() + LIVENESS_CHECK_MS;
        const details = await this.runtime.inspect(started.id, request.type.port);
        if (!details) throw new SpawnError('the container was removed before it was ready');
        if (details.failure) throw new SpawnError(details.failure);
        if (!details.running && details.state !== 'pending') throw new SpawnError(`the container exited with code ${details.exitCode} before it was ready${await this.logTail(started.id)}`);
      }
      if (timedOut) throw new SpawnError(`the app did not answer within ${this.settings.startTimeoutMs / 1000} s${await this.logTail(started.id)}`);
      await sleep(pause);
    }
  }

  /** `; last log lines: …` for failure reasons, or nothing. */
  private async logTail(id: string, lines = 10): Promise<string> {
    const text = await this.runtime.logTail(id, lines).catch((err: unknown) => (this.logger.debug({ err, id }, 'no logs'), ''));
    return text ? `; last log lines:\n${text.slice(-1500)}` : '';
  }

  /** Stops and removes the session's workload and what it alone owned; never its home. */
  remove(typeName: string, sid: string): Promise<void> {
    return this.runtime.remove({ typeName, sid });
  }
}
