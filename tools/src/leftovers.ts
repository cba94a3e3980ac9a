import { LABEL } from '@visp/contracts';
import { podmanEnv } from './infra';
import { run } from './processes';

export interface Leftover {
  kind: 'container' | 'volume' | 'network';
  name: string;
  /** The instance that made it: the spec's name is in it (libs/testing testInstanceId). */
  instance: string;
}

/** Removes containers, volumes and networks of instances named `<instancePrefix>…`; returns what it removed. */
export async function removeLeftovers(instancePrefix: string): Promise<Leftover[]> {
  const env = podmanEnv();
  // Containers before volumes and networks: Podman refuses to remove what a container still uses.
  const kinds = [
    { kind: 'container', list: ['ps', '-a'], remove: ['rm', '-f', '-t', '0'], key: 'Id' },
    { kind: 'volume', list: ['volume', 'ls'], remove: ['volume', 'rm', '-f'], key: 'Name' },
    { kind: 'network', list: ['network', 'ls'], remove: ['network', 'rm', '-f'], key: 'Name' },
  ] as const;
  const removed: Leftover[] = [];
  for (const { kind, list, remove, key } of kinds) {
    const output = await run('podman', [...list, '--format', 'json', '--filter', `label=${LABEL.managed}=true`], { env, quiet: true });
    // Containers and volumes answer with Docker's keys (Id, Names, Labels); networks with netavark's (name, labels).
    const items = JSON.parse(output || '[]') as Array<{ Id?: string; Name?: string; Names?: string[]; Labels?: Record<string, string> | null; name?: string; labels?: Record<string, string> | null }>;
    const labelsOf = (i: (typeof items)[number]) => i.Labels ?? i.labels ?? {};
    const ours = items.filter((i) => labelsOf(i)[LABEL.instance]?.startsWith(instancePrefix));
    if (ours.length) await run('podman', [...remove, ...ours.map((i) => i[key] ?? i.name ?? '')], { env, quiet: true });
    removed.push(...ours.map((i) => ({ kind, name: i.Names?.[0] ?? i.Name ?? i.name ?? i.Id ?? '', instance: labelsOf(i)[LABEL.instance] ?? '' })));
  }
  return removed;
}

/**
 * Home volumes may outlive their spec: a home is named by its owner alone, so two specs beside each other can share
 * one, and the last to finish cannot remove it (e2e/src/gateway-stack.ts). A container or a network left behind is
 * a spec that did not clean up after itself.
 */
export const isSpecLeak = (leftover: Leftover) => leftover.kind !== 'volume';

export const describeLeftovers = (leftovers: Leftover[]) => leftovers.map((l) => `${l.kind} ${l.name} (${l.instance})`).join(', ');
