import type { z } from 'zod';
import type { BusEvent, Owner, WebclientCommandName, WebclientReply } from '@visp/contracts';
import { AppError } from '@visp/service-kit';
import type { SessionLauncher } from '../../sessions/launcher';
import type { SessionManagerClient } from '../../sessions/manager-client';
import type { Transcriptions } from '../../transcriptions/transcriptions';

/** One reply to the request being handled; `end` and `error` close it for the client. */
export type Reply = (progress: WebclientReply['progress'], result: boolean, message: string, data?: unknown) => void;

/** A request its handler left open (a launch, a followed job): handed every bus event about its subject. */
export interface OpenRequest {
  reply: Reply;
  onEvent(event: BusEvent): void;
}

/** What a handler works with: who asks, the services it may call, and the replies of its request. */
export interface CommandContext {
  owner: Owner;
  manager: SessionManagerClient;
  launcher: SessionLauncher;
  transcriptions: Transcriptions;
  reply: Reply;
  /** The connection's open requests, by subject: a session's sid or a transcription's id. */
  open: Map<string, OpenRequest>;
}

/** A command's last reply, sent as `end` with `result: true`. */
export interface Done<Data> {
  message: string;
  data: Data;
}

/** One entry of the command table. */
export interface WebclientCommand<Fields extends z.ZodType = z.ZodType, Data extends z.ZodType = z.ZodType> {
  name: WebclientCommandName;
  /** Its fields, read from the top level and from `data` together (VISP's client uses the first, ours the second). */
  fields: Fields;
  /** The `data` of its `end` reply. */
  reply: Data;
  /** Runs it and returns its `end` reply; or nothing, when it answers later itself (through `context.open`). */
  handle(fields: z.output<Fields>, context: CommandContext): Promise<Done<z.input<Data>> | undefined>;
}

/** An entry, with its handler's types taken from its schemas. */
export const command = <Fields extends z.ZodType, Data extends z.ZodType>(entry: WebclientCommand<Fields, Data>): WebclientCommand => entry;

/** Commands by name, in the order their families list them (what an unknown command's reply names). */
export interface CommandTable {
  get(name: string): WebclientCommand | undefined;
  readonly names: readonly string[];
}

export function commandTable(entries: readonly WebclientCommand[]): CommandTable {
  const byName = new Map<string, WebclientCommand>();
  for (const entry of entries) {
    if (byName.has(entry.name)) throw new Error(`two webclient commands are called ${entry.name}`);
    byName.set(entry.name, entry);
  }
  return { get: (name) => byName.get(name), names: [...byName.keys()] };
}

/** A `cmd` the table does not have: the reply names the ones it has, in its message and as `data.commands`. */
export class UnknownCommandError extends AppError {
  constructor(
    cmd: string,
    readonly commands: readonly string[],
  ) {
    super('validation_failed', `unknown command ${cmd.slice(0, 64)} (known: ${commands.join(', ')})`);
  }
}
