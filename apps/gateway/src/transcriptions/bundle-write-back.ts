import type { EventBus } from '@visp/bus';
import type { Logger } from '@visp/config';
import type { Transcriptions } from './transcriptions';

/**
 * Writes each completed bundle job's transcript beside its bundle as the completion goes by on the bus. Every
 * gateway process listens; `Transcriptions.writeBack` lets one of them write. Returns the unsubscribe.
 */
export async function writeBackOnCompletion(events: EventBus, transcriptions: Pick<Transcriptions, 'writeBack'>, logger: Logger): Promise<() => void> {
  return events.subscribe((event) => {
    if (event.type !== 'transcription.state' || event.state !== 'completed') return;
    transcriptions.writeBack(event.id).catch((err: unknown) => logger.warn({ err, id: event.id }, 'could not write a transcript beside its bundle; the next look at its queue tries again'));
  });
}
