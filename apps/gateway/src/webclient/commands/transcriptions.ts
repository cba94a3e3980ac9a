// The transcriptions family: list, get, cancel a user's transcription jobs, or follow one to its end.
import { isSessionEvent, NoFieldsCommandSchema, TranscriptionCommandSchema, TranscriptionReplySchema, TranscriptionsReplySchema } from '@visp/contracts';
import { command, type CommandContext, type OpenRequest, type WebclientCommand } from './command';

/** A followed job: its progress as updates; any other event about it may end the follow. */
const followJob = (context: CommandContext): OpenRequest => ({
  reply: context.reply,
  onEvent(event) {
    if (isSessionEvent(event)) return;
    if (event.type === 'transcription.progress') context.reply('update', true, `${Math.round(event.progress * 100)} %`, { id: event.id, progress: event.progress });
    else void settleFollow(context, event.id);
  },
});

/** Ends a follow whose job has finished: `end` with the transcription when completed, `error` otherwise. */
async function settleFollow(context: CommandContext, id: string): Promise<void> {
  const request = context.open.get(id);
  if (!request) return;
  const transcription = await context.transcriptions.get(context.owner, id).catch(() => undefined);
  if (!transcription || !context.open.has(id)) return;
  if (transcription.state === 'completed') {
    context.open.delete(id);
    request.reply('end', true, 'completed', { transcription });
  } else if (transcription.state === 'failed' || transcription.state === 'cancelled') {
    context.open.delete(id);
    request.reply('error', false, transcription.error?.message ?? `the transcription was ${transcription.state}`, { transcription });
  }
}

export const transcriptionCommands: readonly WebclientCommand[] = [
  command({
    name: 'listTranscriptions',
    fields: NoFieldsCommandSchema,
    reply: TranscriptionsReplySchema,
    async handle(_fields, context) {
      const transcriptions = await context.transcriptions.list(context.owner);
      return { message: `${transcriptions.length} transcriptions`, data: { transcriptions } };
    },
  }),
  command({
    name: 'getTranscription',
    fields: TranscriptionCommandSchema,
    reply: TranscriptionReplySchema,
    async handle({ id }, context) {
      const transcription = await context.transcriptions.get(context.owner, id);
      return { message: transcription.state, data: { transcription } };
    },
  }),
  command({
    name: 'cancelTranscription',
    fields: TranscriptionCommandSchema,
    reply: TranscriptionReplySchema,
    async handle({ id }, context) {
      const transcription = await context.transcriptions.cancel(context.owner, id);
      context.open.delete(transcription.id);
      return { message: `transcription ${transcription.id} is ${transcription.state}`, data: { transcription } };
    },
  }),
  command({
    name: 'followTranscription',
    fields: TranscriptionCommandSchema,
    reply: TranscriptionReplySchema,
    async handle({ id }, context) {
      const transcription = await context.transcriptions.get(context.owner, id);
      context.open.set(id, followJob(context));
      context.reply('update', true, transcription.state, { transcription });
      // As with launches: read the stored state once after registering, so an event just before is not lost.
      await settleFollow(context, id);
      return undefined;
    },
  }),
];
