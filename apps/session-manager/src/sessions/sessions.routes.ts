import type { Express } from 'express';
import {
  CreateSessionRequestSchema,
  FINAL_SESSION_STATES,
  ListSessionsQuerySchema,
  PrepareSessionsRequestSchema,
  SessionScopeQuerySchema,
  SessionStopQuerySchema,
  STOP_REASONS,
  isSessionEvent,
  type SessionEvent,
  type SessionStreamMessage,
} from '@visp/contracts';
import type { EventBus } from '@visp/bus';
import { parseOrThrow, requireJson, sessionIdParam } from '@visp/service-kit';
import type { SessionService } from './sessions.service';

const FINAL_STATES = new Set(FINAL_SESSION_STATES);
const HEARTBEAT_MS = 15_000;

/** The session-manager's internal API (behind the service token). */
function toStreamMessage(event: SessionEvent): SessionStreamMessage {
  switch (event.type) {
    case 'session.progress':
      return { kind: 'progress', step: event.step, message: event.message, queuePosition: event.queuePosition, at: event.at };
    case 'session.state':
      return { kind: 'state', state: event.state, reason: event.reason, at: event.at };
    case 'session.cull-warning':
      return { kind: 'cull-warning', cullAt: event.cullAt, reason: event.reason, at: event.at };
  }
}

export function sessionRoutes(app: Express, service: SessionService, events: EventBus): void {
  app.post('/api/v1/sessions', async (req, res) => {
    requireJson(req);
    const body = parseOrThrow(CreateSessionRequestSchema, req.body);
    res.status(202).json(await service.create(body));
  });

  /** The owner signed in or opened the start page: prepare what they may launch next (the warm pool, if on). */
  app.post('/api/v1/sessions/prepare', async (req, res) => {
    requireJson(req);
    const { owner } = parseOrThrow(PrepareSessionsRequestSchema, req.body);
    res.status(202).json(await service.pool.prepare(owner));
  });

  app.get('/api/v1/capacity', (_req, res) => {
    res.json(service.capacity());
  });

  app.get('/api/v1/session-types', (_req, res) => {
    res.json(service.sessionTypes());
  });

  app.get('/api/v1/sessions', async (req, res) => {
    const query = parseOrThrow(ListSessionsQuerySchema, req.query, 'query');
    res.json({ sessions: await service.list(query) });
  });

  app.get('/api/v1/sessions/:sid', async (req, res) => {
    const { owner } = parseOrThrow(SessionScopeQuerySchema, req.query, 'query');
    res.json(await service.get(sessionIdParam(req.params), owner));
  });

  app.delete('/api/v1/sessions/:sid', async (req, res) => {
    const { owner, reason } = parseOrThrow(SessionStopQuerySchema, req.query, 'query');
    res.json(await service.stop(sessionIdParam(req.params), { owner, reason: STOP_REASONS[reason ?? 'owner-asked'] }));
  });

  /** Server-sent events: the current state, then every progress step and state change until a final state. */
  app.get('/api/v1/sessions/:sid/events', async (req, res) => {
    const { owner } = parseOrThrow(SessionScopeQuerySchema, req.query, 'query');
    const sid = sessionIdParam(req.params);
    const send = (message: SessionStreamMessage) => res.write(`data: ${JSON.stringify(message)}\n\n`);
    // Subscribe before reading the state, so nothing between the two is missed.
    const pending: SessionStreamMessage[] = [];
    let live = false;
    const unsubscribe = await events.subscribe((event) => {
      if (!isSessionEvent(event) || event.sid !== sid) return;
      const message = toStreamMessage(event);
      if (!live) return void pending.push(message);
      send(message);
      if (message.kind === 'state' && FINAL_STATES.has(message.state)) res.end();
    });
    const close = () => {
      clearInterval(heartbeat);
      unsubscribe();
    };
    const heartbeat = setInterval(() => res.write(': keepalive\n\n'), HEARTBEAT_MS);
    res.on('close', close);
    try {
      const session = await service.get(sid, owner);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      send({ kind: 'state', state: session.state, reason: session.reason, at: new Date().toISOString() });
      if (FINAL_STATES.has(session.state)) return void res.end();
      live = true;
      for (const message of pending.splice(0)) {
        send(message);
        if (message.kind === 'state' && FINAL_STATES.has(message.state)) return void res.end();
      }
    } catch (err) {
      close();
      throw err;
    }
  });
}
