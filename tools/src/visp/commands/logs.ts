import type { VispCommand } from '../cli';
import { attached } from '../host';
import { resolveService } from '../ops';
import { QUADLETS } from '../../paths';

export const logs: VispCommand = {
  names: ['logs'],
  usage: 'visp logs [SERVICE] [-f]',
  description: ["The services' journal (all of them without SERVICE); -f follows."],
  // --follow is -f's long name.
  options: [{ flag: '-f' }, { flag: '--follow' }],
  run({ args }) {
    const [service] = args.positional();
    const units = service ? ['-u', `${resolveService(QUADLETS, service)}.service`] : ['-u', 'visp-*'];
    return attached('journalctl', ['--user', ...units, '--no-pager', ...(args.has('-f') || args.has('--follow') ? ['-f'] : ['-n', '200'])]);
  },
};
