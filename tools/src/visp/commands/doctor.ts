import type { VispCommand } from '../cli';
import { doctor as checkHost, formatChecks } from '../doctor';

export const doctor: VispCommand = {
  names: ['doctor'],
  usage: 'visp doctor [--json]',
  description: [
    'Checks Podman (≥ 4.4 for quadlets), netavark, aardvark-dns, the API socket, lingering, subuid/subgid,',
    'cgroups and low ports; prints each failure with its fix. Exit 1 when something must be fixed.',
  ],
  options: [{ flag: '--json' }],
  run({ print }) {
    const checks = checkHost();
    print(checks, formatChecks(checks));
    return checks.some((c) => !c.ok && !c.warning) ? 1 : 0;
  },
};
