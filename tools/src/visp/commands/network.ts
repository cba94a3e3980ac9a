import type { VispCommand } from '../cli';
import { networkCheck } from '../ops';

export const network: VispCommand = {
  names: ['network'],
  usage: 'visp network [--json]',
  description: ['The network backend, the two fixed networks (visp-whisper internal; each session has one of its own) and service-name DNS.'],
  options: [{ flag: '--json' }],
  run({ print }) {
    const report = networkCheck();
    const text = [
      `backend: ${report.backend}`,
      ...report.networks.map(
        (n) =>
          `${n.name}: ${n.exists ? (n.internal ? 'internal' : 'routed') : 'missing'}${n.exists && n.internal !== n.expectedInternal ? ` (should be ${n.expectedInternal ? 'internal' : 'routed'})` : ''}` +
          (n.exists && n.dns !== n.expectedDns ? `, ${n.dns ? 'has a name server' : 'no name server'} (should have ${n.expectedDns ? 'one' : 'none'}: make it anew, docs/deployment.md "Upgrade and rollback")` : ''),
      ),
      ...report.dns.map((d) => `dns ${d.name}: ${d.resolves ? 'resolves' : 'does not resolve'}`),
    ];
    print(report, text.join('\n'));
    return report.ok ? 0 : 1;
  },
};
