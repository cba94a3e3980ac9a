import type { VispCommand } from '../cli';
import { attached, OperatorError } from '../host';
import { resolveService } from '../ops';
import { QUADLETS } from '../../paths';

export const shell: VispCommand = {
  names: ['shell', 'exec'],
  usage: 'visp shell SERVICE | visp exec SERVICE COMMAND...',
  description: ["A shell, or a command, inside a service's container."],
  options: [],
  // `exec`: the service is visp's; the command after it, and everything after that, is the command's.
  passesOn: { exec: 1 },
  run({ name, args, help }) {
    if (name === 'exec') {
      const [service] = args.positional();
      if (!service || args.passed.length === 0) throw new OperatorError('which service, and what command?', help);
      return attached('podman', ['exec', resolveService(QUADLETS, service), ...args.passed]);
    }
    const [service] = args.positional();
    if (!service) throw new OperatorError('which service?', help);
    return attached('podman', ['exec', '-it', resolveService(QUADLETS, service), 'sh']);
  },
};
