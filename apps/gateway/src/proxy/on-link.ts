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

  constructor(
    private readonly interfaces: typeof networkInterfaces = networkInterfaces,
    private readonly now: () => number = () => performance.now(),
  ) {}

  has(host: string): boolean {
    if (isIP(host) === 0) return true;
    const now = this.now();
    if (!this.networks || now - this.readAt > REFRESH_MS) {
      this.networks = new PeerList(Object.values(this.interfaces()).flatMap((list) => (list ?? []).map((i) => i.cidr ?? `${i.address}/${i.family === 'IPv4' ? 32 : 128}`)));
      this.readAt = now;
    }
    return this.networks.has(host);
  }
}
