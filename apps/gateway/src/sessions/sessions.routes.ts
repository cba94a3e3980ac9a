import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Express } from 'express';
import { PublicCreateSessionRequestSchema, SessionStateSchema, type ReconcileReport } from '@visp/contracts';
import { parseOrThrow, requireJson, sessionIdParam } from '@visp/service-kit';
import { z } from 'zod';
import { principalOf, requireAdmin, requireUser } from '../auth/middleware';
import type { Authenticator } from '../auth/principal';
import type { StreamLimit } from '../auth/stream-limit';
import type { SessionLauncher } from './launcher';
import type { ServiceClient, SessionManagerClient } from './manager-client';

const StateQuerySchema = z.object({ state: SessionStateSchema.optional() }).strict();

/** The public session API: everything the page does, for the signed-in user or an API token's owner. */
const ReconcileQuerySchema = z.object({ dryRun: z.enum(['true', 'false']).optional() }).strict();

export function sessionRoutes(app: Express, deps: { auth: Authenticator; manager: SessionManagerClient; launcher: SessionLauncher; recovery: ServiceClient; streams: StreamLimit; allowedOrigins: readonly string[] }): void {
  const { manager } = deps;
  const user = requireUser(deps.auth, deps.allowedOrigins);

  // What the start page asks for when it opens: the moment to prepare the user's next session (the warm pool).
  app.get('/api/v1/session-types', user, async (_req, res) => {
    deps.launcher.prepare(principalOf(res).username);
    res.json(await manager.sessionTypes());
  });

  app.get('/api/v1/sessions', user, async (req, res) => {
    const { state } = parseOrThrow(StateQuerySchema, req.query, 'query');
    res.json({ sessions: await manager.list({ owner: principalOf(res).username, state }) });
  });

  app.post('/api/v1/sessions', user, async (req, res) => {
    requireJson(req);
    const body = parseOrThrow(PublicCreateSessionRequestSchema, req.body);
    res.status(202).json(await deps.launcher.launch(principalOf(res).username, body));
  });

  app.get('/api/v1/sessions/:sid', user, async (req, res) => {
    res.json(await manager.get(sessionIdParam(req.params), principalOf(res).username));
  });

  app.delete('/api/v1/sessions/:sid', user, async (req, res) => {
    res.json(await manager.stop(sessionIdParam(req.params), principalOf(res).username));
  });

  /** Progress as server-sent events, passed through from the session-manager while the client listens. */
  app.get('/api/v1/sessions/:sid/events', user, async (req, res) => {
    const abort = new AbortController();
    const stream = deps.streams.take(principalOf(res).username);
    res.on('close', () => (stream(), abort.abort()));
    const upstream = await manager.events(sessionIdParam(req.params), principalOf(res).username, abort.signal);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    if (!upstream.body) return void res.end();
    Readable.fromWeb(upstream.body as WebReadableStream).on('error', () => res.end()).pipe(res);
  });

  app.get('/api/v1/admin/sessions', user, requireAdmin, async (req, res) => {
    const { state } = parseOrThrow(StateQuerySchema, req.query, 'query');
    res.json({ sessions: await manager.list({ state }) });
  });

  app.get('/api/v1/admin/capacity', user, requireAdmin, async (_req, res) => {
    res.json(await manager.capacity());
  });

  /** A recovery pass now (see apps/recovery); `?dryRun=true` only plans. */
  app.post('/api/v1/admin/reconcile', user, requireAdmin, async (req, res) => {
    const { dryRun } = parseOrThrow(ReconcileQuerySchema, req.query, 'query');
    req.log.info({ admin: principalOf(res).username, dryRun }, 'admin asks for a recovery pass');
    res.json(await deps.recovery.json<ReconcileReport>('POST', `/admin/reconcile?dryRun=${dryRun ?? 'false'}`));
  });

  app.delete('/api/v1/admin/sessions/:sid', user, requireAdmin, async (req, res) => {
    req.log.info({ sid: req.params.sid, admin: principalOf(res).username }, 'admin stops a session');
    res.json(await manager.stop(sessionIdParam(req.params), undefined, 'admin-stopped'));
  });
}
