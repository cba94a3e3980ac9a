import { homedir } from 'node:os';
import path from 'node:path';
import type { VispCommand } from '../cli';
import { configDir } from '../install';
import { drift as findDrift, imageLock, writeImageLock } from '../ops';
import { QUADLETS, ROOT } from '../../paths';

export const drift: VispCommand = {
  names: ['drift'],
  usage: 'visp drift [--strict] [--accept] [--json]',
  description: [
    'Uncommitted changes, commits ahead/behind, and containers running another image than their unit names now',
    'or than ~/.config/visp/images.lock.json recorded (at install, or by --accept). --strict fails on any difference.',
  ],
  options: [{ flag: '--strict' }, { flag: '--accept' }, { flag: '--json' }],
  run({ args, print }) {
    const lockFile = path.join(configDir(homedir()), 'images.lock.json');
    if (args.has('--accept')) {
      writeImageLock(lockFile, imageLock(QUADLETS));
      print({ lockFile }, `recorded the images now on this host in ${lockFile}`);
      return 0;
    }
    const report = findDrift(ROOT, lockFile);
    const text = [
      `uncommitted changes: ${report.uncommitted.length}`,
      `commits ahead: ${report.ahead}, behind: ${report.behind}`,
      ...report.images.map((i) => `${i.container} runs ${i.running}, its image is now ${i.current}: restart it`),
      ...report.locked.map((i) => `${i.container} runs ${i.running}, the lock file says ${i.locked}: restart it, or visp drift --accept`),
    ];
    print(report, text.join('\n'));
    const different = report.images.length > 0 || report.locked.length > 0 || (args.has('--strict') && (report.uncommitted.length > 0 || report.ahead > 0 || report.behind > 0));
    return different ? 1 : 0;
  },
};
