import { claim, keys, type Redis } from '@visp/bus';
import type { Logger } from '@visp/config';
import { LIVE_SESSION_STATES, type SessionView } from '@visp/contracts';
import { AppError } from '@visp/service-kit';
import type { SessionManagerClient } from '../sessions/manager-client';
import type { AccessList } from './access-list';
import type { ProjectAccess } from './project-access';

/** Why a session was stopped, or undefined when its owner may keep it (or the directory could not say). */
type Verdict = 'off the access list' | 'no longer works in its project' | undefined;

/**
 * Stops the live sessions whose owners may no longer have them: off the access list, or no longer a member with a
 * working role of the session's project (or the project is gone). The admin routes of the product's own store stop
 * them at once; this catches what changes where the gateway is not told — VISP's own database, edited by VISP's
 * pages — within one period. One gateway process looks per period (a claim in Redis). Only what the directory
 * says stops a session: no record, not `loginAllowed`, not a working member, no such project. A directory that
 * cannot be read, or a record it cannot make sense of (two for one person, one that does not fit:
 * `DirectoryRecordError`), stops nothing: an outage or a stray document in VISP's database must not end anyone's
 * work (a launch still fails closed).
 */
export class AccessWatch {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: { manager: Pick<SessionManagerClient, 'list' | 'stop'>; access: Pick<ProjectAccess, 'workingProject'>; accessList: Pick<AccessList, 'revokes'>; redis: Redis; logger: Logger },
    private readonly periodMs: number,
  ) {}

  start(): void {
    let busy = false;
    this.timer ??= setInterval(() => {
      // A look can outlast its period (a slow directory, slow stops): the next waits for it rather than piling up.
      if (busy) return;
      busy = true;
      this.sweeping = this.sweep()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'could not recheck who may keep their sessions; next period'))
        .finally(() => (busy = false));
    }, this.periodMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /** One look, if no other process took this period's: the sessions it stopped. */
  async sweep(): Promise<SessionView[]> {
    // Held for most of the period and never released: the next look, by whichever process, is a period away.
    if (!(await claim(this.deps.redis, keys.accessWatch, Math.max(1, this.periodMs - 500)))) return [];
    const live = (await Promise.all(LIVE_SESSION_STATES.map((state) => this.deps.manager.list({ state })))).flat();
    const stopped: SessionView[] = [];
    for (const session of live) {
      const verdict = await this.verdict(session);
      if (!verdict) continue;
      this.deps.logger.info({ sid: session.sid, owner: session.owner, project: session.project, reason: verdict }, 'stopping a session its owner may no longer have');
      // One stop that fails (the session-manager busy with it, or gone) holds up none of the others.
      // A prepared session (the warm pool) is not its owner's to stop until launched: stopped as the system.
      await this.deps.manager.stop(session.sid, session.warm ? undefined : session.owner, 'access-revoked').then(
        (view) => stopped.push(view),
        (err: unknown) => this.deps.logger.warn({ err, sid: session.sid }, 'could not stop a session its owner may no longer have; next period'),
      );
    }
    return stopped;
  }

  private async verdict(session: SessionView): Promise<Verdict> {
    try {
      if (await this.deps.accessList.revokes(session.owner)) return 'off the access list';
      if (session.project) await this.deps.access.workingProject(session.owner, session.project);
      return undefined;
    } catch (err) {
      if (err instanceof AppError && (err.code === 'forbidden' || err.code === 'not_found')) return 'no longer works in its project';
      this.deps.logger.warn({ err, sid: session.sid }, 'could not read whether a session’s owner may keep it; left running');
      return undefined;
    }
  }
}
