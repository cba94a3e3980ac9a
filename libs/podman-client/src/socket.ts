import { existsSync } from 'node:fs';
import path from 'node:path';

export type PodmanEndpoint = { socketPath: string } | { host: string; port: number; protocol: 'http' };

export interface DiscoveryOptions {
  CONTAINER_HOST?: string;
  DOCKER_HOST?: string;
  XDG_RUNTIME_DIR?: string;
}

function parseHost(value: string, setting: string): PodmanEndpoint {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${setting} must be unix:///path/to/podman.sock or tcp://host:port (got ${value})`);
  }
  if (url.protocol === 'unix:') return { socketPath: decodeURIComponent(url.pathname) };
  if (url.protocol === 'tcp:' || url.protocol === 'http:') return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
  throw new Error(`${setting}: ${url.protocol}// is not supported; use unix:// or tcp://`);
}

/**
 * Where the Podman API is: `CONTAINER_HOST`, then `DOCKER_HOST`, then the rootless socket
 * `$XDG_RUNTIME_DIR/podman/podman.sock`, then the rootful `/run/podman/podman.sock`.
 */
export function discoverPodman(options: DiscoveryOptions, exists: (p: string) => boolean = existsSync): PodmanEndpoint {
  if (options.CONTAINER_HOST) return parseHost(options.CONTAINER_HOST, 'CONTAINER_HOST');
  if (options.DOCKER_HOST) return parseHost(options.DOCKER_HOST, 'DOCKER_HOST');
  const candidates = [options.XDG_RUNTIME_DIR && path.join(options.XDG_RUNTIME_DIR, 'podman/podman.sock'), '/run/podman/podman.sock'].filter(
    (c): c is string => Boolean(c),
  );
  const found = candidates.find((c) => exists(c));
  if (!found) {
    throw new Error(`no Podman socket found (tried ${candidates.join(', ')}); start one with \`podman system service\` or set CONTAINER_HOST`);
  }
  return { socketPath: found };
}
