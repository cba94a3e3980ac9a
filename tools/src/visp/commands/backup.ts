import type { Args, VispCommand } from '../cli';
import { backup as backUp } from '../backup';
import { OperatorError } from '../host';

/** The database to back up or restore into: --mongo-uri, or MONGO_URI. */
export function mongoUri(args: Args): string {
  const uri = args.value('--mongo-uri') ?? process.env.MONGO_URI;
  if (!uri) throw new OperatorError('no database given', 'pass --mongo-uri, or set MONGO_URI (the value of the visp-mongo-uri secret, reachable from here)');
  return uri;
}

export const backup: VispCommand = {
  names: ['backup'],
  usage: 'visp backup --out DIR [--mongo-uri URI] [--volumes a,b] [--json]',
  description: ["The database (every collection, with indexes) and the users' volumes, with a manifest of checksums."],
  options: [{ flag: '--out', value: 'DIR' }, { flag: '--mongo-uri', value: 'URI' }, { flag: '--volumes', value: 'a,b' }, { flag: '--json' }],
  async run({ args, help, print }) {
    const out = args.value('--out');
    if (!out) throw new OperatorError('where to?', help);
    const manifest = await backUp({ out, mongoUri: mongoUri(args), volumes: args.value('--volumes')?.split(',').filter(Boolean) });
    print(manifest, `backed up ${manifest.collections.reduce((n, c) => n + c.documents, 0)} documents in ${manifest.collections.length} collections and ${manifest.volumes.length} volumes to ${out}`);
    return 0;
  },
};
