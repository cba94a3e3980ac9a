// Test helper (not exported): mutations of a valid create body that Podman would still read, key case and
// nesting, for the fuzz tests. Each one must be refused by the proxy; a seed makes a run repeatable.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Keys under these are data (Go maps), not field names: their case is the client's to choose. */
const MAPS = new Set(['Labels', 'ExposedPorts', 'PortBindings', 'EndpointsConfig', 'labels', 'env', 'Networks']);

/** mulberry32: small, seeded, good enough to pick mutations. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const isObject = (value: unknown): value is { [key: string]: Json } => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every field name in the body, as a path of keys (array items by index), map keys left out. */
function fieldPaths(value: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.flatMap((item, i) => fieldPaths(item, [...at, i]));
  if (!isObject(value)) return [];
  const parentIsMap = MAPS.has(String(at[at.length - 1] ?? ''));
  return Object.entries(value).flatMap(([key, item]) => [...(parentIsMap ? [] : [[...at, key]]), ...fieldPaths(item, [...at, key])]);
}

function parentOf(body: Json, path: Array<string | number>): { [key: string]: Json } {
  let node: Json = body;
  for (const step of path.slice(0, -1)) node = (node as Record<string | number, Json>)[step] as Json;
  return node as { [key: string]: Json };
}

/** Another spelling Go's encoding/json takes for the same field. */
function respell(key: string, pick: () => number): string {
  const ways = [
    (k: string) => k.toLowerCase(),
    (k: string) => k.toUpperCase(),
    (k: string) => k.charAt(0).toLowerCase() + k.slice(1),
    (k: string) => [...k].map((c, i) => (i % 2 ? c.toLowerCase() : c.toUpperCase())).join(''),
    // Unicode folding: the long s and the Kelvin sign are `s` and `k` to Go.
    (k: string) => k.replace(/s/i, 'ſ').replace(/k/i, 'K'),
  ];
  for (let tries = 0; tries < 10; tries++) {
    const way = ways[Math.floor(pick() * ways.length)] ?? ((k: string) => k.toLowerCase());
    const spelled = way(key);
    if (spelled !== key) return spelled;
  }
  return key.toUpperCase() === key ? key.toLowerCase() : key.toUpperCase();
}

/** Settings that would break out of the sandbox, each where Podman reads it (compat shape). */
const DANGERS: Array<[string[], Json]> = [
  [['HostConfig', 'Privileged'], true],
  [['HostConfig', 'CapAdd'], ['SYS_ADMIN']],
  [['HostConfig', 'NetworkMode'], 'host'],
  [['HostConfig', 'Binds'], ['/:/host']],
  [['HostConfig', 'SecurityOpt'], ['seccomp=unconfined']],
  [['User'], '0'],
];

export interface Mutation {
  what: string;
  body: Json;
}

/**
 * One mutation of `valid`: a field respelt (and, half the time, given a dangerous value), a dangerous field added
 * under a respelt name, beside its exact twin, or a field moved to another level. Podman would read every one.
 */
export function mutate(valid: Json, pick: () => number): Mutation {
  const body = clone(valid);
  const choose = <T>(items: T[]): T => items[Math.floor(pick() * items.length)] as T;
  const kind = choose(['respell', 'respell-danger', 'twin', 'move'] as const);
  if (kind === 'respell') {
    const path = choose(fieldPaths(body).filter((p) => p.length > 0 && typeof p[p.length - 1] === 'string'));
    const parent = parentOf(body, path);
    const key = String(path[path.length - 1]);
    const spelled = respell(key, pick);
    const value = parent[key] as Json;
    Reflect.deleteProperty(parent, key);
    parent[spelled] = value;
    return { what: `${path.join('.')} spelt ${JSON.stringify(spelled)}`, body };
  }
  const [dangerPath, dangerValue] = choose(DANGERS);
  const spelledPath = dangerPath.map((key) => (pick() < 0.5 ? respell(key, pick) : key));
  if (spelledPath.every((key, i) => key === dangerPath[i])) spelledPath[spelledPath.length - 1] = respell(dangerPath[dangerPath.length - 1] as string, pick);
  if (kind === 'respell-danger' || kind === 'twin') {
    // `twin`: the respelt object beside the real one (`hostconfig` next to `HostConfig`): Go merges them.
    let node = body as { [key: string]: Json };
    for (const key of spelledPath.slice(0, -1)) node = (isObject(node[key]) ? node[key] : (node[key] = {})) as { [key: string]: Json };
    node[spelledPath[spelledPath.length - 1] as string] = dangerValue;
    return { what: `${kind} ${spelledPath.join('.')} = ${JSON.stringify(dangerValue)}`, body };
  }
  // `move`: a field one level up or down from where it belongs.
  const last = dangerPath[dangerPath.length - 1] as string;
  if (dangerPath.length > 1) (body as { [key: string]: Json })[last] = dangerValue;
  else ((body as { [key: string]: { [key: string]: Json } }).HostConfig ??= {})[last] = dangerValue;
  return { what: `${last} moved ${dangerPath.length > 1 ? 'to the top' : 'into HostConfig'}`, body };
}
