// The start page: sign in, launch and follow sessions over the webclient WebSocket, open and stop them; an
// administrators' view. Plain DOM, no framework: the page is small and must load fast.
import type { AuthConfig, BusEvent, CapacityView, Me, SessionTypesView, SessionView, TranscriptionView, WebclientReply } from '@visp/contracts';

/** The user's own events, pushed on the socket (without the owner: it is always the user). */
interface PushedEvent {
  type: 'event';
  event: BusEvent;
}

/** The transcript formats offered for download, in the order shown. */
const FORMATS = ['txt', 'srt', 'vtt', 'json'] as const;
const PENDING_JOB = new Set(['queued', 'running']);

/** Launch steps in order; the progress bar shows how far along a launch is. */
const STEPS = ['queued', 'preflight', 'creating', 'starting', 'waiting-ready', 'ready'];
const ACTIVE = new Set(['pending', 'starting', 'ready']);

const element = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};
const show = (id: string, visible: boolean) => (element(id).hidden = !visible);
const say = (text: string) => (element('status').textContent = text);

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const data: unknown = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, (data as { error?: { message?: string } }).error?.message ?? `the server answered ${res.status}`);
  return data as T;
}

/** The webclient socket: commands answered by requestId, and events for this user's sessions. */
class Socket {
  private ws: WebSocket | undefined;
  /** Commands sent while (re)connecting, delivered on open. */
  private readonly outbox: string[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, (reply: WebclientReply) => void>();

  constructor(private readonly onEvent: (event: PushedEvent['event']) => void) {}

  connect(): void {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
    ws.onmessage = (message) => {
      const data = JSON.parse(String(message.data)) as WebclientReply | PushedEvent;
      if (data.type === 'event') return this.onEvent(data.event);
      if (typeof data.requestId === 'number') this.pending.get(data.requestId)?.(data);
      else if (data.progress === 'error') say(data.message);
    };
    // Reconnect after a drop (a gateway restart, a network change); state is re-read on the way.
    ws.onclose = () => setTimeout(() => this.connect(), 2000);
    ws.onopen = () => {
      for (const message of this.outbox.splice(0)) ws.send(message);
      void refresh();
    };
    this.ws = ws;
  }

  /** Sends a command; `onReply` hears every reply until the one that ends it. */
  command(cmd: string, data: Record<string, unknown>, onReply: (reply: WebclientReply) => void): void {
    const requestId = this.nextId++;
    this.pending.set(requestId, (reply) => {
      if (reply.progress !== 'update') this.pending.delete(requestId);
      onReply(reply);
    });
    const message = JSON.stringify({ type: 'cmd', cmd, requestId, data });
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(message);
    else this.outbox.push(message);
  }
}

const socket = new Socket(onEvent);
let me: Me | undefined;

function onEvent(event: BusEvent): void {
  if (event.type === 'session.cull-warning') say(`Your session ${event.sid} will be stopped at ${new Date(event.cullAt).toLocaleTimeString()}: ${event.reason}. Use it to keep it.`);
  if (event.type === 'session.state') void refresh();
  if (event.type === 'transcription.progress') {
    const bar = document.querySelector<HTMLProgressElement>(`#jobs tr[data-id="${event.id}"] progress`);
    if (bar) bar.value = event.progress;
  }
  if (event.type === 'transcription.state') {
    if (event.state === 'completed') say('A transcript is ready to download.');
    if (event.state === 'failed') say(`A transcription failed: ${event.error?.message ?? 'no reason given'}`);
    void refreshJobs();
  }
}

function launch(type: string): void {
  const bar = element<HTMLProgressElement>('progress-bar');
  const label = element('progress-label');
  bar.max = STEPS.length - 1;
  bar.value = 0;
  label.textContent = `Starting ${type}…`;
  show('launch-progress', true);
  for (const button of element('launchers').querySelectorAll('button')) button.disabled = true;
  const done = () => {
    for (const button of element('launchers').querySelectorAll('button')) button.disabled = false;
  };
  socket.command('launchSession', { type }, (reply) => {
    const step = (reply.data as { step?: string } | undefined)?.step;
    if (step) bar.value = Math.max(bar.value, STEPS.indexOf(step));
    if (reply.progress === 'update') {
      label.textContent = reply.message;
    } else if (reply.progress === 'end') {
      bar.value = bar.max;
      label.textContent = `${type} is ready`;
      say(`Your ${type} session is ready.`);
      done();
      void refresh();
    } else {
      label.textContent = `Could not start ${type}`;
      say(reply.message);
      done();
      void refresh();
    }
  });
}

async function stop(session: SessionView, asAdmin = false): Promise<void> {
  try {
    await api('DELETE', `${asAdmin ? '/api/v1/admin/sessions/' : '/api/v1/sessions/'}${session.sid}`);
    say(`Stopped ${session.type} ${session.sid}.`);
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
  }
  await refresh();
}

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function sessionRow(body: HTMLTableSectionElement, session: SessionView, options: { owner?: boolean; asAdmin?: boolean }): void {
  const row = body.insertRow();
  row.dataset.sid = session.sid;
  if (options.owner) cell(row, session.owner);
  cell(row, session.type);
  cell(row, session.reason ? `${session.state} (${session.reason})` : session.state, `state-${session.state}`);
  cell(row, new Date(session.createdAt).toLocaleString());
  const actions = cell(row, '', 'actions');
  if (session.state === 'ready' && !options.asAdmin) {
    const open = document.createElement('a');
    open.href = session.path;
    open.target = '_blank';
    open.rel = 'noopener';
    open.className = 'button';
    open.textContent = 'Open';
    open.setAttribute('aria-label', `Open ${session.type} session`);
    actions.append(open);
  }
  if (ACTIVE.has(session.state)) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Stop';
    button.setAttribute('aria-label', `Stop ${session.type} session${options.owner ? ` of ${session.owner}` : ''}`);
    button.onclick = () => void stop(session, options.asAdmin);
    actions.append(button);
  }
}

/**
 * Wraps a list's fetch so that only the newest call's answer is shown: refreshes overlap (a stop announces
 * `stopping` and then `stopped`, each a refresh), and their answers can arrive in either order, so an older list
 * (still `stopping`) could otherwise overwrite a newer one.
 */
function newestOnly<T>(fetchList: () => Promise<T>, render: (list: T) => void | Promise<void>): () => Promise<void> {
  let asked = 0;
  return async () => {
    const mine = ++asked;
    const list = await fetchList();
    if (mine === asked) await render(list);
  };
}

const refresh = newestOnly(() => api<{ sessions: SessionView[] }>('GET', '/api/v1/sessions'), async ({ sessions }) => {
  const body = element<HTMLTableElement>('sessions').tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren();
  const shown = sessions.filter((s) => ACTIVE.has(s.state) || s.state === 'failed' || s.state === 'stopping').slice(-20);
  for (const session of shown) sessionRow(body, session, {});
  show('no-sessions', shown.length === 0);
  if (me?.admin) await refreshAdmin();
});

function jobRow(body: HTMLTableSectionElement, job: TranscriptionView): void {
  const row = body.insertRow();
  row.dataset.id = job.id;
  cell(row, job.filename);
  const where = job.state === 'queued' && job.queuePosition ? ` (number ${job.queuePosition} in line)` : '';
  cell(row, job.error ? `${job.state}: ${job.error.message}` : `${job.state}${where}`, `state-${job.state}`);
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = job.progress;
  bar.setAttribute('aria-label', `Progress of ${job.filename}`);
  cell(row, '').append(bar);
  const actions = cell(row, '', 'actions');
  if (job.state === 'completed') {
    for (const format of FORMATS) {
      const link = document.createElement('a');
      link.href = `/api/v1/transcriptions/${job.id}/result?format=${format}`;
      link.download = '';
      link.className = 'button';
      link.textContent = format.toUpperCase();
      link.setAttribute('aria-label', `Download ${job.filename} as ${format.toUpperCase()}`);
      actions.append(link);
    }
  }
  if (PENDING_JOB.has(job.state)) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Cancel';
    button.setAttribute('aria-label', `Cancel the transcription of ${job.filename}`);
    button.onclick = async () => {
      await api('DELETE', `/api/v1/transcriptions/${job.id}`).catch((err: unknown) => say(err instanceof Error ? err.message : String(err)));
      await refreshJobs();
    };
    actions.append(button);
  }
}

const refreshJobs = newestOnly(() => api<{ transcriptions: TranscriptionView[] }>('GET', '/api/v1/transcriptions'), ({ transcriptions }) => {
  const body = element<HTMLTableElement>('jobs').tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren();
  const shown = transcriptions.slice(0, 20);
  for (const job of shown) jobRow(body, job);
  show('no-jobs', shown.length === 0);
});

/** Uploads over HTTP (a recording is megabytes; the socket carries commands), then follows it by its events. */
element<HTMLFormElement>('upload').onsubmit = async (event) => {
  event.preventDefault();
  const form = event.target as HTMLFormElement;
  const fields = new FormData(form);
  if (!String(fields.get('language') ?? '').trim()) fields.delete('language');
  const button = form.querySelector('button') as HTMLButtonElement;
  button.disabled = true;
  try {
    const res = await fetch('/api/v1/transcriptions', { method: 'POST', credentials: 'same-origin', body: fields });
    const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    if (!res.ok) throw new ApiError(res.status, data.error?.message ?? `the server answered ${res.status}`);
    say('Uploaded; the transcription is queued.');
    form.reset();
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
  } finally {
    button.disabled = false;
  }
  await refreshJobs();
};

async function refreshAdmin(): Promise<void> {
  const [capacity, { sessions }] = await Promise.all([api<CapacityView>('GET', '/api/v1/admin/capacity'), api<{ sessions: SessionView[] }>('GET', '/api/v1/admin/sessions')]);
  element('capacity').textContent = `${capacity.holding} of ${capacity.capacity} slots in use, ${capacity.waiting} waiting; at most ${capacity.maxPerUser} per user.`;
  const body = element<HTMLTableElement>('all-sessions').tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren();
  for (const session of sessions.filter((s) => ACTIVE.has(s.state))) sessionRow(body, session, { owner: true, asAdmin: true });
}

async function showWorkspace(): Promise<void> {
  show('sign-in', false);
  show('who', true);
  element('username').textContent = me?.displayName ?? me?.username ?? '';
  const { types } = await api<SessionTypesView>('GET', '/api/v1/session-types');
  const launchers = element('launchers');
  launchers.replaceChildren(
    ...types.map(({ name }) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `Launch ${name}`;
      button.onclick = () => launch(name);
      return button;
    }),
  );
  show('workspace', true);
  show('transcriptions', true);
  show('admin', !!me?.admin);
  await refreshJobs();
  socket.connect();
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
  await showWorkspace();
}

element<HTMLFormElement>('dev-login').onsubmit = async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  try {
    await api('POST', '/auth/login', { username: form.get('username'), key: form.get('key') });
    say('');
    await start();
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
  }
};

element('sign-out').onclick = async () => {
  await api('POST', '/auth/logout');
  location.reload();
};

start().catch((err: unknown) => say(`The page could not load: ${err instanceof Error ? err.message : String(err)}`));
