// The first commands VISP's client sends (webclient user.service.ts): who is signed in, authenticate, authorize;
// and signing out. Identity is the gateway's own sign-in, from the socket's upgrade: never looked up from an id
// the client supplies (VISP's getSession took a PHPSESSID from the message).
import { VISP_DENIAL, type VispUserSession } from '@visp/contracts';
import type { VispCommand, VispContext } from './command';

/** The signed-in user in VISP's UserSession shape, from the directory's record where there is one. */
async function userSession(context: VispContext): Promise<VispUserSession> {
  const user = await context.me();
  const fullName = user?.fullName ?? ([user?.firstName, user?.lastName].filter(Boolean).join(' ') || context.owner);
  return {
    id: user?.id ?? context.owner,
    firstName: user?.firstName ?? fullName.split(' ')[0] ?? '',
    lastName: user?.lastName ?? fullName.split(' ').slice(1).join(' '),
    fullName,
    email: user?.email ?? '',
    eppn: user?.eppn ?? context.owner,
    username: user?.username ?? context.owner,
    privileges: { ...user?.privileges, ...(context.admin ? { sysAdmin: true } : {}) },
  };
}


/** VISP's denial frame: family A, `data.result` 400, and (as VISP sent it) `result: true`. */
export const deny = (context: VispContext): void => context.replyA({ data: { result: 400, msg: VISP_DENIAL }, message: VISP_DENIAL, result: true });

export const handshakeCommands: VispCommand[] = [
  {
    name: 'getSession',
    family: 'A',
    beforeAuthorization: true,
    async handle(_request, context) {
      context.replyA({ data: await userSession(context) });
    },
  },
  {
    name: 'authenticateUser',
    family: 'A',
    beforeAuthorization: true,
    // The socket only opens for a signed-in user (the upgrade is authenticated), so this one always holds.
    async handle(_request, context) {
      context.replyA({ data: { result: 200, msg: 'Authenticated' } });
    },
  },
  {
    name: 'authorizeUser',
    family: 'A',
    beforeAuthorization: true,
    async handle(_request, context) {
      if (await context.allowed()) context.replyA({ data: { result: 200, msg: 'Authorized' } });
      else deny(context);
    },
  },
  {
    name: 'signOut',
    family: 'A',
    beforeAuthorization: true,
    async handle(_request, context) {
      context.replyA({ data: { result: 200, msg: 'Signed out' } });
      await context.signOut();
    },
  },
  // VISP's notifications are never pushed by its session-manager today; the client asks for them at start.
  {
    name: 'fetchNotifications',
    family: 'A',
    async handle(_request, context) {
      context.replyA({ data: { result: 200, notifications: [] } });
    },
  },
  {
    name: 'markNotificationsRead',
    family: 'A',
    async handle(_request, context) {
      context.replyA({ data: { result: 200, modifiedCount: 0 } });
    },
  },
];
