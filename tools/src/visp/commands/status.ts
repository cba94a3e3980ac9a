import type { VispCommand } from '../cli';
import { formatStatus, status as hostStatus } from '../ops';
import { QUADLETS } from '../../paths';

export const status: VispCommand = {
  names: ['status'],
  usage: 'visp status [--json]',
  description: ['Units, containers with health, networks and running sessions.'],
  options: [{ flag: '--json' }],
  run({ print }) {
    const report = hostStatus(QUADLETS);
    print(report, formatStatus(report));
    return report.containers.some((c) => c.health === 'unhealthy') ? 1 : 0;
  },
};
