// VISP's command table: the commands of its webclient this product answers, by family module. Adding one is an
// entry in its module (command.ts says what an entry is).
import type { VispCommand } from './command';
import { handshakeCommands } from './handshake';
import { projectCommands } from './projects';
import { sessionCommands } from './sessions';
import { transcriptionCommands, type VispTranscriptionDeps } from './transcriptions';

/** `transcription` left out (tests of the other commands): no transcription queue. */
export function vispCommands(transcription?: VispTranscriptionDeps): ReadonlyMap<string, VispCommand> {
  const table = new Map<string, VispCommand>();
  for (const command of [...handshakeCommands, ...projectCommands, ...sessionCommands, ...(transcription ? transcriptionCommands(transcription) : [])]) {
    if (table.has(command.name)) throw new Error(`two VISP commands are called ${command.name}`);
    table.set(command.name, command);
  }
  return table;
}
