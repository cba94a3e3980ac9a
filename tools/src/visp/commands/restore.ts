import type { VispCommand } from '../cli';
import { restore as restoreFrom } from '../backup';
import { OperatorError } from '../host';
import { mongoUri } from './backup';

export const restore: VispCommand = {
  names: ['restore'],
  usage: 'visp restore DIR [--mongo-uri URI] [--json]',
  description: ['Into an empty database and volumes that do not exist yet; checks the archives first.'],
  options: [{ flag: '--mongo-uri', value: 'URI' }, { flag: '--json' }],
  async run({ args, help, print }) {
    const [from] = args.positional();
    if (!from) throw new OperatorError('from where?', help);
    const manifest = await restoreFrom({ from, mongoUri: mongoUri(args) });
    print(manifest, `restored ${manifest.collections.length} collections and ${manifest.volumes.length} volumes from ${from}`);
    return 0;
  },
};
