// The user's sessions and, for administrators, everyone's: one column set, two tables.
import { LIVE_SESSION_STATES } from '@visp/contracts/vocabulary';
import type { CapacityView, SessionView } from '@visp/contracts';
import { api } from '../api';
import { button, element, linkButton, messageOf, say } from '../dom';
import { newestOnly, renderTable, type Column } from '../table';

const LIVE = new Set<string>(LIVE_SESSION_STATES);
/** What the user's table shows: live sessions, those on their way out, and failures to read about. */
const LISTED = new Set([...LIVE, 'stopping', 'failed']);

async function stop(session: SessionView, asAdmin: boolean, then: () => Promise<void>): Promise<void> {
  try {
    await api('DELETE', `${asAdmin ? '/api/v1/admin/sessions/' : '/api/v1/sessions/'}${session.sid}`);
    say(`Stopped ${session.type} ${session.sid}.`);
  } catch (err) {
    say(messageOf(err));
  }
  await then();
}

/** The columns of a sessions table; an administrator's view adds the owner and opens nothing (it is not theirs). */
function sessionColumns(asAdmin: boolean, then: () => Promise<void>): Column<SessionView>[] {
  return [
    ...(asAdmin ? [{ cell: (s: SessionView) => s.owner }] : []),
    { cell: (s) => s.type },
    { cell: (s) => (s.reason ? `${s.state} (${s.reason})` : s.state), className: (s) => `state-${s.state}` },
    { cell: (s) => new Date(s.createdAt).toLocaleString() },
    {
      className: () => 'actions',
      cell: (s) => [
        ...(s.state === 'ready' && !asAdmin ? [linkButton('Open', `Open ${s.type} session`, s.path, { target: '_blank', rel: 'noopener' })] : []),
        ...(LIVE.has(s.state) ? [button('Stop', `Stop ${s.type} session${asAdmin ? ` of ${s.owner}` : ''}`, () => void stop(s, asAdmin, then))] : []),
      ],
    },
  ];
}

/** Redraws the user's sessions (and, for an administrator, everyone's and the capacity); the newest call wins. */
export function sessionsView(isAdmin: () => boolean): () => Promise<void> {
  const refresh: () => Promise<void> = newestOnly(
    () => api<{ sessions: SessionView[] }>('GET', '/api/v1/sessions'),
    async ({ sessions }) => {
      const listed = sessions.filter((s) => LISTED.has(s.state)).slice(-20);
      renderTable('sessions', listed, sessionColumns(false, refresh), (s) => s.sid, 'no-sessions');
      if (isAdmin()) await refreshAdmin(refresh);
    },
  );
  return refresh;
}

async function refreshAdmin(then: () => Promise<void>): Promise<void> {
  const [capacity, { sessions }] = await Promise.all([api<CapacityView>('GET', '/api/v1/admin/capacity'), api<{ sessions: SessionView[] }>('GET', '/api/v1/admin/sessions')]);
  element('capacity').textContent = `${capacity.holding} of ${capacity.capacity} slots in use, ${capacity.waiting} waiting; at most ${capacity.maxPerUser} per user.`;
  renderTable('all-sessions', sessions.filter((s) => LIVE.has(s.state)), sessionColumns(true, then), (s) => s.sid);
}
