import type { VispCommand } from '../cli';
import { OperatorError } from '../host';
import { adminTarget, sessions as adminSessions } from '../ops';

export const sessions: VispCommand = {
  names: ['sessions'],
  usage: 'visp sessions [list | stop SID] [--url URL] [--token TOKEN] [--json]',
  description: ["Everyone's sessions through the gateway's admin API (VISP_URL, VISP_TOKEN: an admin's API token)."],
  options: [{ flag: '--url', value: 'URL' }, { flag: '--token', value: 'TOKEN' }, { flag: '--json' }],
  async run({ args, help, print }) {
    const [action, sid] = args.positional();
    const { url, token } = adminTarget(args);
    if (action === 'stop' && !sid) throw new OperatorError('which session?', help);
    const result = await adminSessions(url, token, action === 'stop' ? { stop: sid } : {});
    const list = (result as { sessions?: Array<{ sid: string; owner: string; type: string; state: string }> }).sessions;
    print(result, list ? list.map((s) => `${s.sid}  ${s.owner.padEnd(20)} ${s.type.padEnd(10)} ${s.state}`).join('\n') || 'no sessions' : `stopped ${sid}`);
    return 0;
  },
};
