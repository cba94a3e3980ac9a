import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4, isIPv6, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Addresses given as CIDRs, matched against a request's peer: the connection's own address, never a header. */
export class PeerList {
  private readonly list = new BlockList();
  /** Each connection's answer: checking parses the address, and a kept-alive connection would ask per request. */
  private readonly connections = new WeakMap<Socket, boolean>();

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [address = '', bits] = cidr.split('/');
      const type = isIPv4(address) ? 'ipv4' : 'ipv6';
      this.list.addSubnet(address, Number(bits ?? (type === 'ipv4' ? 32 : 128)), type);
    }
  }

  /** Whether `address` (an IP, IPv4-mapped or not) is one of them. */
  has(address: string): boolean {
    const plain = address.trim().replace(/^::ffff:/, '');
    const type = isIPv4(plain) ? 'ipv4' : isIPv6(plain) ? 'ipv6' : undefined;
    return type !== undefined && this.list.check(plain, type);
  }

  /** Whether the request comes straight from one of them. */
  includes(req: IncomingMessage): boolean {
    let found = this.connections.get(req.socket);
    if (found === undefined) {
      const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      found = peer !== '' && this.list.check(peer, isIPv4(peer) ? 'ipv4' : 'ipv6');
      this.connections.set(req.socket, found);
    }
    return found;
  }
}

/**
 * The address of the client a request is for: the TCP peer, unless the peer is one of `trusted` (the edge), then
 * X-Forwarded-For's right-most address that is not itself trusted. Never the left-most: each proxy appends the
 * peer it saw, so only the right end was written by someone we trust, and the rest is whatever the client sent.
 */
export function clientAddress(req: IncomingMessage, trusted: PeerList): string {
  const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  if (!trusted.includes(req)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((hop) => hop.trim()).filter((hop) => hop !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] as string).replace(/^::ffff:/, '');
    // What is not an address came from the client's side: as good a name for it as any, and bounded.
    if (!trusted.has(hop)) return hop.slice(0, 64);
  }
  return peer;
}

/** HOST's value that means: this machine's one address within OPERATIONS_CIDRS. */
export const OPERATIONS_ADDRESS = '@OPERATIONS_CIDRS';

/**
 * The address a service listens on: HOST as it is (an address or a name), or, for a CIDR or `@OPERATIONS_CIDRS`,
 * this machine's one interface address within it. The services that join sessions' networks use the latter: their
 * address on visp-net, decided by the subnet, never by a name (a container's /etc/hosts lists its name once per
 * network, in no fixed order after a restart, so a name could resolve to an address on a session's network).
 */
export function listenAddress(host: string, operationsCidrs: readonly string[] = [], interfaces = networkInterfaces()): string {
  const cidrs = host === OPERATIONS_ADDRESS ? operationsCidrs : host.includes('/') ? [host] : undefined;
  if (!cidrs) return host;
  if (cidrs.length === 0) throw new Error(`HOST=${host} needs OPERATIONS_CIDRS`);
  const within = new PeerList(cidrs);
  const found = Object.values(interfaces).flatMap((list) => (list ?? []).map((i) => i.address)).filter((address) => within.has(address));
  if (found.length !== 1) throw new Error(`HOST=${host}: this machine has ${found.length === 0 ? 'no address' : `${found.length} addresses (${found.join(', ')})`} within ${cidrs.join(', ')}; it needs exactly one`);
  return found[0] as string;
}
