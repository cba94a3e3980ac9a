import { readdirSync, readFileSync } from 'node:fs';
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

/** Set by a test run in its own environment, so that every process it starts (Jest, its workers, the services and servers they launch) carries it. */
export const RUN_MARK = 'VISP_TEST_RUN';

/**
 * Kills the processes of earlier runs, known by their RUN_MARK: a run killed hard leaves Jest and whatever it
 * launched running (a spec's services hold their fixed ports). Called holding the run lock, when no other run is
 * alive; returns the command lines it killed.
 */
export async function killLeftoverProcesses(ownRun: string): Promise<string[]> {
  const killed: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number)) {
    if (pid === process.pid) continue;
    let environ: string;
    let command: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      command = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    const mark = environ.split('\0').find((entry) => entry.startsWith(`${RUN_MARK}=`));
    if (!mark || mark === `${RUN_MARK}=${ownRun}`) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(`${pid} ${command.slice(0, 120)}`);
    } catch {
      // exited meanwhile
    }
  }
  // SIGKILL is final, but a port is free only once the process has exited, which takes a moment; one that has
  // not after five seconds (stuck in the kernel) is named.
  const exited = (pid: string) => {
    try {
      return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'latin1'));
    } catch {
      return true; // gone, reaped too
    }
  };
  const alive = () => killed.filter((line) => !exited(line.split(' ')[0] ?? ''));
  for (let i = 0; i < 50 && alive().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const survivors = alive();
  if (survivors.length) throw new Error(`processes of an earlier run survived SIGKILL: ${survivors.join('; ')}`);
  return killed;
}
