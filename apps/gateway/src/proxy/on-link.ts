import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { PeerList } from '@visp/service-kit';

/** How long the gateway's own networks are taken as known: they change when recovery or a start joins it to one. */
const REFRESH_MS = 1000;

/**
 * Whether an address is on a network this process is on (one of its interfaces' subnets). In the container stack
 * a session is reached only over its own network, which the gateway joins; before it has joined (just restarted,
 * until recovery's next pass) or after it left (the session stopped), a connection would go out by the default
 * route and wait for a timeout (or, on these machines, be held open by the sandbox's proxy), holding the browser's
 * connections meanwhile. Refused at once instead. Names (not addresses) are not judged.
 */
export class OnLink {
  private networks: PeerList | undefined;
  private readAt = 0;
  /**
   * Each address's answer until the networks are read again: asked on every proxied request, and checking an
   * address against them (BlockList.check makes a SocketAddress) was 10 % of the gateway's CPU on that path.
   */
  private readonly answers = new Map<string, boolean>();

  constructor(
    private readonly interfaces: typeof networkInterfaces = networkInterfaces,
    private readonly now: () => number = () => performance.now(),
  ) {}

  has(host: string): boolean {
    const now = this.now();
    if (!this.networks || now - this.readAt > REFRESH_MS) {
      this.networks = new PeerList(Object.values(this.interfaces()).flatMap((list) => (list ?? []).map((i) => i.cidr ?? `${i.address}/${i.family === 'IPv4' ? 32 : 128}`)));
      this.readAt = now;
      this.answers.clear();
    }
    let answer = this.answers.get(host);
    if (answer === undefined) {
      answer = isIP(host) === 0 || this.networks.has(host);
      this.answers.set(host, answer);
    }
    return answer;
  }
}
