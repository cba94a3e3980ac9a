import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4, isIPv6, type Socket } from 'node:net';

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
