import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LABEL } from '@visp/contracts';
import { parseUnit } from '@visp/quadlets';
import { OperatorError, sh, type Ran } from './host';

/** The services of the deployment, by the quadlets' names (`visp-<name>.container`). */
export function serviceNames(quadlets: string): string[] {
  return readdirSync(quadlets)
    .filter((f) => f.endsWith('.container'))
    .map((f) => f.replace(/^visp-/, '').replace(/\.container$/, ''))
    .sort();
}

/** `gateway` or `visp-gateway` → the unit and container name `visp-gateway`, if it is one of ours. */
export function resolveService(quadlets: string, given: string): string {
  const name = given.replace(/^visp-/, '').replace(/\.service$/, '');
  if (!serviceNames(quadlets).includes(name)) throw new OperatorError(`no service ${given}`, `one of: ${serviceNames(quadlets).join(', ')}`);
  return `visp-${name}`;
}

const ok = (ran: Ran, what: string) => {
  if (ran.code !== 0) throw new OperatorError(`${what} failed: ${ran.stderr.trim().split('\n').at(-1) ?? `exit ${ran.code}`}`);
  return ran.stdout;
};

export interface Status {
  units: Array<{ service: string; active: string }>;
  containers: Array<{ name: string; state: string; health: string; image: string }>;
  networks: Array<{ name: string; internal: boolean }>;
  sessions: number;
}

interface PsEntry {
  Names?: string[];
  State?: string;
  Status?: string;
  Image?: string;
  Labels?: Record<string, string> | null;
}

/** Units, containers (with health), networks and how many session containers run. */
export function status(quadlets: string): Status {
  const services = serviceNames(quadlets);
  const units = services.map((service) => ({ service, active: sh('systemctl', ['--user', 'is-active', `visp-${service}.service`]).stdout.trim() || 'unknown' }));
  const ps = JSON.parse(ok(sh('podman', ['ps', '--all', '--format', 'json']), 'podman ps') || '[]') as PsEntry[];
  const ours = ps.filter((c) => (c.Names?.[0] ?? '').startsWith('visp-'));
  const containers = ours
    .filter((c) => c.Labels?.[LABEL.managed] !== 'true')
    .map((c) => ({ name: c.Names?.[0] ?? '', state: c.State ?? '', health: /\((healthy|unhealthy|starting)\)/.exec(c.Status ?? '')?.[1] ?? 'none', image: c.Image ?? '' }));
  const networks = ['visp-net', 'visp-whisper'].flatMap((name) => {
    const inspected = sh('podman', ['network', 'inspect', name, '--format', '{{.Internal}}']);
    return inspected.code === 0 ? [{ name, internal: inspected.stdout.trim() === 'true' }] : [];
  });
  return { units, containers, networks, sessions: ours.filter((c) => c.Labels?.[LABEL.managed] === 'true' && c.State === 'running').length };
}

export function formatStatus(s: Status): string {
  const rows = [
    ...s.units.map((u) => {
      const container = s.containers.find((c) => c.name === `visp-${u.service}`);
      return `${u.service.padEnd(16)} unit ${u.active.padEnd(10)} container ${(container?.state ?? 'none').padEnd(9)} health ${container?.health ?? '-'}`;
    }),
    `networks: ${s.networks.map((n) => `${n.name}${n.internal ? ' (internal)' : ''}`).join(', ') || 'none'}`,
    `sessions running: ${s.sessions}`,
  ];
  return rows.join('\n');
}

export function lifecycle(quadlets: string, verb: 'start' | 'stop' | 'restart', service?: string): void {
  const units = service ? [`${resolveService(quadlets, service)}.service`] : serviceNames(quadlets).filter((s) => s !== 'whisper-server').map((s) => `visp-${s}.service`);
  ok(sh('systemctl', ['--user', verb, ...units]), `systemctl --user ${verb}`);
}

export interface NetworkReport {
  backend: string;
  networks: Array<{ name: string; exists: boolean; internal?: boolean; expectedInternal: boolean; dns?: boolean; expectedDns: boolean }>;
  /** Service names the gateway resolves (its /etc/hosts: visp-net has no DNS), when it runs. */
  dns: Array<{ name: string; resolves: boolean }>;
  ok: boolean;
}

/** The network backend, the two fixed networks (and which are internal), and service names resolved inside the gateway. */
export function networkCheck(): NetworkReport {
  const backend = sh('podman', ['info', '--format', '{{.Host.NetworkBackend}}']).stdout.trim() || 'unknown';
  // visp-net has no name server (its services find each other in /etc/hosts: quadlets/visp-net.network); one made
  // by a release before that still has one, which quadlet never changes.
  const networks = [
    { name: 'visp-net', expectedInternal: false, expectedDns: false },
    { name: 'visp-whisper', expectedInternal: true, expectedDns: true },
  ].map((n): NetworkReport['networks'][number] => {
    const inspected = sh('podman', ['network', 'inspect', n.name, '--format', '{{.Internal}} {{.DNSEnabled}}']);
    const [internal, dns] = inspected.stdout.trim().split(' ');
    return inspected.code === 0 ? { ...n, exists: true, internal: internal === 'true', dns: dns === 'true' } : { ...n, exists: false };
  });
  const gatewayUp = sh('podman', ['container', 'inspect', 'visp-gateway', '--format', '{{.State.Running}}']).stdout.trim() === 'true';
  const dns = gatewayUp
    ? ['visp-redis', 'visp-mongo', 'visp-session-manager'].map((name) => ({
        name,
        resolves: sh('podman', ['exec', 'visp-gateway', 'node', '-e', `require('dns').lookup(${JSON.stringify(name)}, (e) => process.exit(e ? 1 : 0))`]).code === 0,
      }))
    : [];
  const healthy = backend === 'netavark' && networks.every((n) => n.exists && n.internal === n.expectedInternal && n.dns === n.expectedDns) && dns.every((d) => d.resolves);
  return { backend, networks, dns, ok: healthy };
}

/** The gateway's admin API with an API token: `list` or `stop <sid>`. */
/** The gateway and the admin API token a command talks to: `--url`/`--token`, else VISP_URL/VISP_TOKEN. */
export function adminTarget(args: { value(flag: string): string | undefined }): { url: string; token: string } {
  const url = args.value('--url') ?? process.env.VISP_URL;
  const token = args.value('--token') ?? process.env.VISP_TOKEN;
  if (!url || !token) throw new OperatorError('the gateway URL and an admin API token are needed', 'pass --url and --token, or set VISP_URL and VISP_TOKEN');
  return { url, token };
}

/** One call of the gateway's admin API with an admin's API token; the answer's body (undefined for 204). */
export async function adminApi(url: string, token: string, method: string, apiPath: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${url.replace(/\/+$/, '')}${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined;
  const answer = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new OperatorError(`the gateway answered ${res.status}: ${answer.error?.message ?? 'no reason given'}`, res.status === 401 || res.status === 403 ? 'use an API token of an admin (ADMIN_USERS) in --token or VISP_TOKEN' : undefined);
  return answer;
}

/** Everyone's sessions, or stop one. */
export function sessions(url: string, token: string, action: { stop?: string }): Promise<unknown> {
  return action.stop ? adminApi(url, token, 'DELETE', `/api/v1/admin/sessions/${encodeURIComponent(action.stop)}`) : adminApi(url, token, 'GET', '/api/v1/admin/sessions');
}

export interface Drift {
  uncommitted: string[];
  ahead: number;
  behind: number;
  /** Containers running another image than the one their unit names now has (a rebuild or pull not yet applied). */
  images: Array<{ container: string; running: string; current: string }>;
  /** Containers running another image than the lock file recorded at install (or the last `drift --accept`). */
  locked: Array<{ container: string; running: string; locked: string }>;
}

/** Image references the units run, each with the image id it resolves to now (absent: not on this host). */
export function imageLock(quadlets: string): Record<string, string> {
  const refs = readdirSync(quadlets)
    .filter((f) => f.endsWith('.container'))
    .flatMap((f) => parseUnit(readFileSync(path.join(quadlets, f), 'utf8')).get('Container')?.find(([key]) => key === 'Image')?.[1] ?? []);
  return Object.fromEntries(
    [...new Set(refs)].sort().flatMap((ref) => {
      const id = sh('podman', ['image', 'inspect', ref, '--format', '{{.Id}}']).stdout.trim();
      return id ? [[ref, id]] : [];
    }),
  );
}

export function writeImageLock(file: string, lock: Record<string, string>): void {
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
}

/** How the running deployment differs from the repository: local changes, commits not pulled or pushed, stale images. */
export function drift(root: string, lockFile: string): Drift {
  const git = (args: string[]) => sh('git', args, { cwd: root });
  const uncommitted = git(['status', '--porcelain']).stdout.split('\n').filter(Boolean);
  const counts = git(['rev-list', '--left-right', '--count', 'HEAD...@{upstream}']);
  const [ahead = 0, behind = 0] = counts.code === 0 ? counts.stdout.trim().split(/\s+/).map(Number) : [0, 0];
  const ps = JSON.parse(sh('podman', ['ps', '--format', 'json']).stdout || '[]') as Array<PsEntry & { ImageID?: string }>;
  const ours = ps.filter((c) => (c.Names?.[0] ?? '').startsWith('visp-') && c.Labels?.[LABEL.managed] !== 'true');
  const images = ours.flatMap((c) => {
      const current = sh('podman', ['image', 'inspect', c.Image ?? '', '--format', '{{.Id}}']).stdout.trim();
      const running = c.ImageID ?? '';
      return current && running && !sameImage(current, running) ? [{ container: c.Names?.[0] ?? '', running: running.slice(0, 12), current: current.slice(0, 12) }] : [];
    });
  const lock = existsSync(lockFile) ? (JSON.parse(readFileSync(lockFile, 'utf8')) as Record<string, string>) : {};
  const locked = ours.flatMap((c) => {
    const expected = lock[c.Image ?? ''];
    return expected && c.ImageID && !sameImage(expected, c.ImageID) ? [{ container: c.Names?.[0] ?? '', running: c.ImageID.slice(0, 12), locked: expected.slice(0, 12) }] : [];
  });
  return { uncommitted, ahead, behind, images, locked };
}

/** Podman abbreviates ids in some outputs: the same image when one id starts with the other. */
const sameImage = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);
