import type { Express } from 'express';
import { z } from 'zod';
import { TranscriptFormatSchema } from '@visp/contracts';
import { parseOrThrow } from '@visp/service-kit';
import { principalOf, requireUser } from '../auth/middleware';
import type { Authenticator } from '../auth/principal';
import type { Transcriptions } from './transcriptions';

const ResultQuerySchema = z.object({ format: TranscriptFormatSchema.default('json') }).strict();

/** The public transcription API: upload, follow, cancel, download; every user sees only their own jobs. */
export function transcriptionRoutes(app: Express, deps: { auth: Authenticator; transcriptions: Transcriptions; allowedOrigins: readonly string[] }): void {
  const { transcriptions } = deps;
  const user = requireUser(deps.auth, deps.allowedOrigins);

  app.post('/api/v1/transcriptions', user, async (req, res) => {
    res.status(202).json(await transcriptions.create(principalOf(res).username, req));
  });

  app.get('/api/v1/transcriptions', user, async (_req, res) => {
    res.json({ transcriptions: await transcriptions.list(principalOf(res).username) });
  });

  app.get('/api/v1/transcriptions/:id', user, async (req, res) => {
    res.json(await transcriptions.get(principalOf(res).username, req.params.id as string));
  });

  app.delete('/api/v1/transcriptions/:id', user, async (req, res) => {
    res.json(await transcriptions.cancel(principalOf(res).username, req.params.id as string));
  });

  app.get('/api/v1/transcriptions/:id/result', user, async (req, res) => {
    const { format } = parseOrThrow(ResultQuerySchema, req.query, 'query');
    const result = await transcriptions.result(principalOf(res).username, req.params.id as string, format);
    res.type(result.contentType).attachment(result.filename).send(result.body);
  });
}
