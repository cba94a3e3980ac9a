import { z } from 'zod';
import { OwnerSchema } from './sessions';
import { ModelNameSchema, TranscriptionBackendSchema, TranscriptionIdSchema } from './transcriptions';

/**
 * Payload of a job on the BullMQ queue `transcriptions`, whose job id is the transcription id. The audio file is
 * referenced by id, never by a user path; the rest is in the database record.
 */
export const TranscriptionJobSchema = z.object({
  transcriptionId: TranscriptionIdSchema,
  owner: OwnerSchema,
  language: z.string().min(2).max(16).optional(),
  backend: TranscriptionBackendSchema.optional(),
  model: ModelNameSchema.optional(),
});
export type TranscriptionJob = z.infer<typeof TranscriptionJobSchema>;
