// What a VISP command is: a name, the reply family VISP answers it in, whether it needs the access list, and a
// handler. The table is commands.ts; the dialect (envelope, frames) is connection.ts.
import type { Owner, SessionEvent, VispReplyA, VispReplyB, VispUser } from '@visp/contracts';
import type { ProjectAccess } from '../projects/project-access';
import type { SessionLauncher } from '../sessions/launcher';
import type { SessionManagerClient } from '../sessions/manager-client';

/** The family VISP answers a command in: A `{requestId, cmd, data, message, progress, result}`, B `{type:"cmd-result", …}`. */
export type Family = 'A' | 'B';

export interface VispRequest {
  cmd: string;
  /** Absent on VISP's legacy frames (shutdownSession). */
  requestId?: string | number;
  /** The command's fields: the top level and `data` together (session commands use the first, the rest the second). */
  fields: Record<string, unknown>;
}

export interface VispContext {
  owner: Owner;
  /** Admins of this gateway (ADMIN_USERS): VISP's `sysAdmin` privilege. */
  admin: boolean;
  /** Projects and their members (`access.directory`), and who may work in one. */
  access: ProjectAccess;
  manager: SessionManagerClient;
  launcher: SessionLauncher;
  /** The signed-in user as the project directory knows them. */
  me(): Promise<VispUser | undefined>;
  /** Whether the access list lets the user use VISP's commands (VISP's `loginAllowed`; everyone when it is off). */
  allowed(): Promise<boolean>;
  replyA(fields: Partial<Omit<VispReplyA, 'requestId' | 'cmd'>>): void;
  replyB(progress: VispReplyB['progress'], result: VispReplyB['result'], message: string, data?: unknown): void;
  /** Hands every event about session `sid` to `onEvent` until it returns true (done) or the returned unfollow is called. */
  follow(sid: string, onEvent: (event: SessionEvent) => boolean): () => void;
  /** Ends the login this socket was opened with (the gateway then closes its sockets). */
  signOut(): Promise<void>;
}

export interface VispCommand {
  name: string;
  family: Family;
  /** Answered whatever the access list says (VISP answers these before it authorizes). */
  beforeAuthorization?: boolean;
  handle(request: VispRequest, context: VispContext): Promise<void>;
}
