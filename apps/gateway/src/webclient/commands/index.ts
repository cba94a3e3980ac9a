// The webclient socket's commands, one module per family, each entry its fields' schema, its handler and its
// reply's shape (command.ts). Adding a command is adding an entry to its family (and its name to
// WebclientCommandNames in @visp/contracts); a new family is a module beside these, listed here. VISP's client
// has a dialect of its own on `/`: apps/gateway/src/visp.
import { commandTable } from './command';
import { sessionCommands } from './sessions';
import { transcriptionCommands } from './transcriptions';

export const WEBCLIENT_COMMANDS = commandTable([...sessionCommands, ...transcriptionCommands]);

export { UnknownCommandError, type CommandContext, type CommandTable, type OpenRequest, type Reply, type WebclientCommand } from './command';
