import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4, type Socket } from 'node:net';

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
