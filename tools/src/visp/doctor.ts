import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { sessionsOriginChecks, shibbolethChecks } from './doctor-site';
import { sh } from './host';
import { configDir } from './install';

export interface Check {
  name: string;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What to do about it, when not ok. */
  fix?: string;
  /** A warning does not fail the doctor. */
  warning?: boolean;
}

const QUADLET_SINCE = [4, 4];

function versionAtLeast(version: string, [major, minor]: number[]): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > (major as number) || (a === major && b >= (minor as number));
}

function podmanVersion(): Check {
  const ran = sh('podman', ['version', '--format', '{{.Client.Version}}']);
  if (ran.code !== 0) return { name: 'podman', ok: false, detail: 'podman is not installed', fix: 'install Podman ≥ 4.4 (Debian 13: apt install podman)' };
  const version = ran.stdout.trim();
  return versionAtLeast(version, QUADLET_SINCE)
    ? { name: 'podman', ok: true, detail: `Podman ${version}: quadlets supported` }
    : {
        name: 'podman',
        ok: false,
        detail: `Podman ${version}: quadlets unsupported (they need Podman ≥ 4.4)`,
        fix: 'install Podman ≥ 4.4: Debian 13 (trixie) ships 5.4 (apt install podman after upgrading), Debian 12 has it in bookworm-backports; then run visp doctor again',
      };
}

function networkBackend(): Check {
  const ran = sh('podman', ['info', '--format', '{{.Host.NetworkBackend}}']);
  const backend = ran.stdout.trim() || 'unknown';
  return backend === 'netavark'
    ? { name: 'network backend', ok: true, detail: 'netavark' }
    : { name: 'network backend', ok: false, detail: `${backend} (internal networks and container DNS need netavark)`, fix: 'apt install netavark aardvark-dns; set network_backend = "netavark" under [network] in ~/.config/containers/containers.conf; then podman system reset (removes existing containers)' };
}

function aardvark(): Check {
  const found = ['/usr/lib/podman/aardvark-dns', '/usr/libexec/podman/aardvark-dns'].find((p) => existsSync(p));
  return found ? { name: 'aardvark-dns', ok: true, detail: found } : { name: 'aardvark-dns', ok: false, detail: 'not installed: services cannot find each other by name', fix: 'apt install aardvark-dns' };
}

function rootless(user: string): Check {
  return process.getuid?.() === 0
    ? { name: 'rootless', ok: false, detail: 'running as root', fix: 'run visp as the unprivileged user that will own the services (rootless Podman), not as root' }
    : { name: 'rootless', ok: true, detail: `running as ${user}` };
}

function apiSocket(): Check {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const socket = runtime ? `${runtime}/podman/podman.sock` : undefined;
  const enabled = sh('systemctl', ['--user', 'is-enabled', 'podman.socket']).stdout.trim() === 'enabled';
  if (enabled || (socket && existsSync(socket))) return { name: 'podman socket', ok: true, detail: socket ?? 'podman.socket enabled' };
  return { name: 'podman socket', ok: false, detail: 'the user Podman API socket is not enabled (the socket proxy needs it)', fix: 'systemctl --user enable --now podman.socket' };
}

function lingering(user: string): Check {
  const linger = existsSync(`/var/lib/systemd/linger/${user}`) || sh('loginctl', ['show-user', user, '--property=Linger']).stdout.trim() === 'Linger=yes';
  return linger
    ? { name: 'lingering', ok: true, detail: `services of ${user} keep running after logout` }
    : { name: 'lingering', ok: false, detail: `${user}'s services stop when they log out`, fix: `sudo loginctl enable-linger ${user}` };
}

function subordinateIds(user: string): Check[] {
  return (['subuid', 'subgid'] as const).map((kind) => {
    const file = `/etc/${kind}`;
    const line = existsSync(file) ? readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${user}:`)) : undefined;
    const count = Number(line?.split(':')[2] ?? 0);
    return count >= 65_536
      ? { name: kind, ok: true, detail: `${count} ids for ${user}` }
      : { name: kind, ok: false, detail: `${file} gives ${user} ${count} ids (containers need 65536)`, fix: `sudo usermod --add-${kind}s 100000-165535 ${user}` };
  });
}

function cgroups(): Check {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  if (!v2) return { name: 'cgroups', ok: false, detail: 'cgroups v1: rootless containers cannot have memory, CPU or pids limits', fix: 'boot with cgroups v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command line; the default since Debian 11)' };
  const uid = process.getuid?.() ?? 0;
  const delegated = `/sys/fs/cgroup/user.slice/user-${uid}.slice/user@${uid}.service/cgroup.controllers`;
  const controllers = existsSync(delegated) ? readFileSync(delegated, 'utf8').trim().split(/\s+/) : [];
  const missing = ['memory', 'pids', 'cpu'].filter((c) => !controllers.includes(c));
  return missing.length === 0
    ? { name: 'cgroups', ok: true, detail: `v2, delegated: ${controllers.join(' ')}` }
    : { name: 'cgroups', ok: false, detail: `v2, but ${missing.join(', ')} not delegated to the user`, fix: 'create /etc/systemd/system/user@.service.d/delegate.conf with [Service] Delegate=cpu cpuset io memory pids, then systemctl daemon-reload and log in again' };
}

function lowPorts(): Check {
  const file = '/proc/sys/net/ipv4/ip_unprivileged_port_start';
  const start = existsSync(file) ? Number(readFileSync(file, 'utf8')) : 1024;
  return start <= 80
    ? { name: 'ports 80 and 443', ok: true, detail: `unprivileged ports start at ${start}` }
    : { name: 'ports 80 and 443', ok: false, warning: true, detail: `unprivileged ports start at ${start}: Caddy cannot bind 80/443 rootless`, fix: 'echo net.ipv4.ip_unprivileged_port_start=80 | sudo tee /etc/sysctl.d/50-visp.conf && sudo sysctl --system' };
}

/** Everything a rootless Podman host needs for VISP, each failure with its fix. */
export function doctor(): Check[] {
  const user = userInfo().username;
  return [podmanVersion(), networkBackend(), aardvark(), rootless(user), apiSocket(), lingering(user), ...subordinateIds(user), cgroups(), lowPorts(), ...shibbolethChecks(configDir(homedir())), ...sessionsOriginChecks(configDir(homedir()))];
}

export function formatChecks(checks: readonly Check[]): string {
  return checks
    .map((c) => `${c.ok ? '✓' : c.warning ? '!' : '✗'} ${c.name}: ${c.detail}${c.ok || !c.fix ? '' : `\n    fix: ${c.fix}`}`)
    .join('\n');
}
