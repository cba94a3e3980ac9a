// The start page: sign in, launch and follow sessions over the webclient WebSocket, open and stop them, upload
// recordings and download transcripts; an administrators' view. Plain DOM, no framework: the page is small and
// must load fast. This file signs in and wires the parts: api.ts (REST), socket.ts (the webclient socket, with
// reconnection), table.ts (the one table renderer) and views/.
import type { AuthConfig, BusEvent, Me, SessionTypesView } from '@visp/contracts';
import { api, ApiError } from './api';
import { element, messageOf, say, show } from './dom';
import { WebclientSocket, type Connection } from './socket';
import { Launchers } from './views/launchers';
import { sessionsView } from './views/sessions';
import { Transcriptions } from './views/transcriptions';

let me: Me | undefined;
const refreshSessions = sessionsView(() => me?.admin === true);
const transcriptions = new Transcriptions();
const socket = new WebclientSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`, {
  event: onEvent,
  connection: onConnection,
  loginEnded: () => location.reload(),
  notice: say,
});
const launchers = new Launchers(socket, refreshSessions);

function onEvent(event: BusEvent): void {
  if (event.type === 'session.cull-warning') say(`Your session ${event.sid} will be stopped at ${new Date(event.cullAt).toLocaleTimeString()}: ${event.reason}. Use it to keep it.`);
  if (event.type === 'session.state') void refreshSessions();
  if (event.type === 'transcription.progress') transcriptions.progress(event.id, event.progress);
  if (event.type === 'transcription.state') {
    if (event.state === 'completed') say('A transcript is ready to download.');
    if (event.state === 'failed') say(`A transcription failed: ${event.error?.message ?? 'no reason given'}`);
    void transcriptions.refresh();
  }
}

function onConnection(state: Connection): void {
  show('connection', state === 'reconnecting');
  launchers.setConnected(state === 'open');
  // Events sent while the socket was down are gone: read the state again.
  if (state === 'open') void Promise.all([refreshSessions(), transcriptions.refresh()]).catch((err: unknown) => say(messageOf(err)));
  // A refused reconnection looks like any other drop; the login may have ended meanwhile.
  if (state === 'reconnecting') void signedOut().then((out) => out && location.reload());
}

/** True when the gateway answers that nobody is signed in; false when it does not answer at all. */
async function signedOut(): Promise<boolean> {
  return api('GET', '/api/v1/me').then(
    () => false,
    (err: unknown) => err instanceof ApiError && err.status === 401,
  );
}

async function showWorkspace(user: Me): Promise<void> {
  show('sign-in', false);
  show('who', true);
  element('username').textContent = user.displayName ?? user.username;
  const { types } = await api<SessionTypesView>('GET', '/api/v1/session-types');
  launchers.draw(types.map((t) => t.name));
  transcriptions.listen();
  show('workspace', true);
  show('transcriptions', true);
  show('admin', user.admin);
  socket.connect();
  window.addEventListener('online', () => socket.reconnectNow());
}

async function showSignIn(): Promise<void> {
  const config = await api<AuthConfig>('GET', '/auth/config');
  show('sign-in', true);
  show('dev-login', config.mode === 'dev-key');
  show('sso', config.mode === 'shibboleth');
  if (config.ssoUrl) element<HTMLAnchorElement>('sso-link').href = config.ssoUrl;
}

async function start(): Promise<void> {
  try {
    me = await api<Me>('GET', '/api/v1/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showSignIn();
    throw err;
  }
  await showWorkspace(me);
}

element<HTMLFormElement>('dev-login').onsubmit = async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  try {
    await api('POST', '/auth/login', { username: form.get('username'), key: form.get('key') });
    say('');
    await start();
  } catch (err) {
    say(messageOf(err));
  }
};

element('sign-out').onclick = async () => {
  socket.close();
  await api('POST', '/auth/logout');
  location.reload();
};

start().catch((err: unknown) => say(`The page could not load: ${messageOf(err)}`));
