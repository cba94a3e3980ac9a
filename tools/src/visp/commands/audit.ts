import type { VispCommand } from '../cli';
import { audit as findUnpinned } from '../audit';
import { ROOT } from '../../paths';

export const audit: VispCommand = {
  names: ['audit'],
  usage: 'visp audit [--json]',
  description: ['Containerfiles and quadlets: unpinned base images, unversioned clones, unpinned installs, pipes into a shell.'],
  options: [{ flag: '--json' }],
  run({ print }) {
    const findings = findUnpinned(ROOT);
    print(findings, findings.map((f) => `${f.file}:${f.line}: ${f.problem}\n    ${f.text}`).join('\n') || 'nothing unpinned');
    return findings.length > 0 ? 1 : 0;
  },
};
