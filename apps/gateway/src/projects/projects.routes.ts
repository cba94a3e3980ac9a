import type { Express } from 'express';
import { CreateProjectRequestSchema, LIVE_SESSION_STATES, OwnerSchema, VISP_WORKING_ROLES, ProjectIdSchema, SetAccessRequestSchema, SetMemberRequestSchema } from '@visp/contracts';
import { ConcurrentChangeError, DuplicateKeyError, type ProjectRepository } from '@visp/store';
import { AppError, parseOrThrow, requireJson } from '@visp/service-kit';
import { z } from 'zod';
import { principalOf, requireAdmin, requireUser } from '../auth/middleware';
import type { Authenticator } from '../auth/principal';
import type { SessionManagerClient } from '../sessions/manager-client';
import type { ProjectAccess } from './project-access';

const ProjectParamsSchema = z.object({ id: ProjectIdSchema }).strict();
const MemberParamsSchema = z.object({ id: ProjectIdSchema, username: OwnerSchema }).strict();
const UserParamsSchema = z.object({ username: OwnerSchema }).strict();

/**
 * Projects: every user sees their own; administrators manage the product's own store. With PROJECT_SOURCE=visp the
 * projects are VISP's, managed in VISP: the management routes answer 409 and change nothing.
 */
export function projectRoutes(app: Express, deps: { auth: Authenticator; access: ProjectAccess; manager: SessionManagerClient; store: ProjectRepository | undefined; accessListEnabled: boolean; allowedOrigins: readonly string[] }): void {
  const user = requireUser(deps.auth, deps.allowedOrigins);
  const store = (): ProjectRepository => {
    if (!deps.store) throw new AppError('conflict', "projects are VISP's here (PROJECT_SOURCE=visp): manage them in VISP");
    return deps.store;
  };
  /**
   * A session mounts its project's files read-write: whoever may no longer work in the project loses the sessions
   * they have open in it at once, not when they are culled. (The store's members are named by their sign-in name.)
   */
  const stopSessionsOf = async (projectId: string, lost: (owner: string) => boolean): Promise<void> => {
    const live = (await Promise.all(LIVE_SESSION_STATES.map((state) => deps.manager.list({ state })))).flat();
    await Promise.all(live.filter((s) => s.project === projectId && lost(s.owner)).map((s) => deps.manager.stop(s.sid, s.owner, 'access-revoked')));
  };
  const found = <T>(value: T | undefined, id: string): T => {
    if (value === undefined) throw new AppError('not_found', `there is no project ${id}`);
    return value;
  };
  /** A member change that lost its compare-and-set on every attempt: a 409 the admin may simply retry. */
  const retryable = async <T>(change: Promise<T>): Promise<T> => {
    try {
      return await change;
    } catch (err) {
      if (err instanceof ConcurrentChangeError) throw new AppError('conflict', 'the project changed meanwhile; try again', { cause: err });
      throw err;
    }
  };

  app.get('/api/v1/projects', user, async (_req, res) => {
    res.json({ projects: await deps.access.projectsOf(principalOf(res).username) });
  });

  app.get('/api/v1/admin/projects', user, requireAdmin, async (_req, res) => {
    res.json({ projects: await store().list() });
  });

  app.post('/api/v1/admin/projects', user, requireAdmin, async (req, res) => {
    requireJson(req);
    const body = parseOrThrow(CreateProjectRequestSchema, req.body);
    const created = await store()
      .create(body)
      .catch((err: unknown) => {
        throw err instanceof DuplicateKeyError ? new AppError('conflict', `there is a project ${body.id} already`) : err;
      });
    res.status(201).json(created);
  });

  app.put('/api/v1/admin/projects/:id/members/:username', user, requireAdmin, async (req, res) => {
    requireJson(req);
    const { id, username } = parseOrThrow(MemberParamsSchema, req.params, 'path');
    const { role } = parseOrThrow(SetMemberRequestSchema, req.body);
    const project = found(await retryable(store().setMember(id, username, role)), id);
    await stopSessionsOf(id, (owner) => owner === username && !VISP_WORKING_ROLES.includes(role));
    res.json(project);
  });

  app.delete('/api/v1/admin/projects/:id/members/:username', user, requireAdmin, async (req, res) => {
    const { id, username } = parseOrThrow(MemberParamsSchema, req.params, 'path');
    const project = found(await retryable(store().removeMember(id, username)), id);
    await stopSessionsOf(id, (owner) => owner === username);
    res.json(project);
  });

  app.delete('/api/v1/admin/projects/:id', user, requireAdmin, async (req, res) => {
    const { id } = parseOrThrow(ProjectParamsSchema, req.params, 'path');
    found((await store().remove(id)) || undefined, id);
    await stopSessionsOf(id, () => true);
    res.status(204).end();
  });

  /** The access list (ACCESS_LIST_ENABLED): who may use VISP's commands. */
  app.put('/api/v1/admin/access/:username', user, requireAdmin, async (req, res) => {
    requireJson(req);
    const { username } = parseOrThrow(UserParamsSchema, req.params, 'path');
    const { loginAllowed } = parseOrThrow(SetAccessRequestSchema, req.body);
    await store().setAccess(username, loginAllowed);
    // Off the list (while it is on), nothing of theirs keeps running, in a project or not.
    if (!loginAllowed && deps.accessListEnabled) await Promise.all((await deps.manager.list({ owner: username })).filter((s) => LIVE_SESSION_STATES.includes(s.state)).map((s) => deps.manager.stop(s.sid, username, 'access-revoked')));
    res.status(204).end();
  });
}
