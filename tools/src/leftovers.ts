import { LABEL } from '@visp/contracts';
import { podmanEnv } from './infra';
import { run } from './processes';

/** Removes containers, volumes and networks of instances named `<instancePrefix>…`; returns how many. */
export async function removeLeftovers(instancePrefix: string): Promise<number> {
  const env = podmanEnv();
  // Containers before volumes and networks: Podman refuses to remove what a container still uses.
  const kinds = [
    { list: ['ps', '-a'], remove: ['rm', '-f', '-t', '0'], key: 'Id' },
    { list: ['volume', 'ls'], remove: ['volume', 'rm', '-f'], key: 'Name' },
    { list: ['network', 'ls'], remove: ['network', 'rm', '-f'], key: 'Name' },
  ] as const;
  let removed = 0;
  for (const kind of kinds) {
    const output = await run('podman', [...kind.list, '--format', 'json', '--filter', `label=${LABEL.managed}=true`], { env, quiet: true });
    const items = JSON.parse(output || '[]') as Array<{ Id?: string; Name?: string; Labels?: Record<string, string> | null }>;
    const names = items.filter((i) => i.Labels?.[LABEL.instance]?.startsWith(instancePrefix)).map((i) => i[kind.key] ?? '');
    if (names.length) await run('podman', [...kind.remove, ...names], { env, quiet: true });
    removed += names.length;
  }
  return removed;
}
