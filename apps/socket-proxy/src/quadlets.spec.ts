// The deployment gives each client of the socket proxy its socket in a volume that only that client and the proxy
// mount: a client's container holds no other client's socket, so a compromised client cannot reach another's.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { clientSocketPath, defaultPolicies } from '@visp/podman-proxy';
import { parseUnit } from '@visp/quadlets';

const QUADLETS = path.join(__dirname, '../../../quadlets');
const containers = readdirSync(QUADLETS)
  .filter((file) => file.endsWith('.container'))
  .map((file) => {
    const entries = parseUnit(readFileSync(path.join(QUADLETS, file), 'utf8')).get('Container') ?? [];
    const all = (key: string) => entries.filter(([k]) => k === key).map(([, value]) => value);
    return { file, volumes: all('Volume').map((v) => v.split(':')), env: all('Environment') };
  });
const proxy = containers.find((c) => c.file === 'visp-socket-proxy.container');
const clients = Object.keys(defaultPolicies([]));

it('the socket proxy mounts one volume per client, where that client\'s socket is made', () => {
  for (const client of clients) {
    expect(proxy?.volumes).toContainEqual([`visp-proxy-${client}.volume`, path.dirname(clientSocketPath('/run/visp', client)), 'U']);
  }
  expect(proxy?.env).toContain('SOCKET_PROXY_DIR=/run/visp');
});

it('every other container mounts at most one client\'s socket volume, its own, and never the Podman socket', () => {
  const users = new Map<string, string>();
  for (const container of containers.filter((c) => c !== proxy)) {
    expect(container.volumes.some(([source]) => /podman\.sock$/.test(source ?? ''))).toBe(false);
    const sockets = container.volumes.filter(([source]) => source?.startsWith('visp-proxy-'));
    expect([container.file, sockets.length <= 1]).toEqual([container.file, true]);
    for (const [source = '', target] of sockets) {
      const client = source.replace(/^visp-proxy-|\.volume$/g, '');
      expect([container.file, users.get(source)]).toEqual([container.file, undefined]);
      users.set(source, container.file);
      expect(target).toBe('/run/visp');
      expect(container.env).toContain(`CONTAINER_HOST=unix:///run/visp/${client}.sock`);
    }
  }
  expect([...users.values()].sort()).toEqual(['visp-recovery.container', 'visp-session-manager.container']);
});
