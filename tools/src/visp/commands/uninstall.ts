import { homedir } from 'node:os';
import type { VispCommand } from '../cli';
import { uninstall as uninstallHere } from '../install';
import { QUADLETS } from '../../paths';

export const uninstall: VispCommand = {
  names: ['uninstall'],
  usage: 'visp uninstall [--purge] [--no-stop] [--dry-run] [--json]',
  description: ['Stops the services, removes the units and Podman secrets. --purge also removes volumes and settings.'],
  options: [{ flag: '--purge' }, { flag: '--no-stop' }, { flag: '--dry-run' }, { flag: '--json' }],
  run({ args, print }) {
    const actions = uninstallHere({ quadlets: QUADLETS, home: homedir(), purge: args.has('--purge'), dryRun: args.has('--dry-run'), stop: !args.has('--no-stop') });
    print({ actions }, actions.join('\n') || 'nothing to remove');
    return 0;
  },
};
