import { z } from 'zod';
import { OwnerSchema } from './sessions';

/** Payload of a job on the BullMQ queue `transcriptions`. The audio file is referenced by id, never by a user path. */
export const TranscriptionJobSchema = z.object({
  transcriptionId: z.string().regex(/^[a-f0-9]{24}$/, 'a transcription id is a 24-character hex object id'),
  owner: OwnerSchema,
  language: z.string().min(2).max(16).optional(),
  backend: z.enum(['faster-whisper', 'openai']).optional(),
});
export type TranscriptionJob = z.infer<typeof TranscriptionJobSchema>;
