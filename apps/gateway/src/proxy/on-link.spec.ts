import type { networkInterfaces } from 'node:os';
import { OnLink } from './on-link';

const nic = (address: string, cidr: string) => ({ address, cidr, netmask: '255.255.255.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: false });

describe('OnLink', () => {
  it('knows the networks the gateway is on, and learns a joined one within a second', () => {
    let interfaces: ReturnType<typeof networkInterfaces> = { lo: [nic('127.0.0.1', '127.0.0.1/8')], eth0: [nic('10.89.254.7', '10.89.254.7/24')] };
    let clock = 0;
    const onLink = new OnLink(() => interfaces, () => clock);
    expect([onLink.has('127.0.0.1'), onLink.has('10.89.254.20'), onLink.has('10.89.3.2'), onLink.has('1.1.1.1')]).toEqual([true, true, false, false]);
    expect(onLink.has('visp-session-manager')).toBe(true); // a name: not judged
    interfaces = { ...interfaces, eth1: [nic('10.89.3.4', '10.89.3.4/24')] };
    expect(onLink.has('10.89.3.2')).toBe(false); // read less than a second ago
    clock += 1001;
    expect(onLink.has('10.89.3.2')).toBe(true);
  });
});
