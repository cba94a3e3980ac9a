import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { clientAddress, listenAddress, PeerList } from './peers';

/** A request as a server sees it from `address`; only the connection's address counts. */
function from(address: string): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: address });
  return { socket, headers: { 'x-forwarded-for': '10.1.2.3' } } as unknown as IncomingMessage;
}

it('matches the connection address against IPv4 and IPv6 CIDRs, never a header', () => {
  const peers = new PeerList(['10.89.254.0/24', '127.0.0.1', 'fd00::/8']);
  expect(['10.89.254.7', '::ffff:10.89.254.7', '127.0.0.1', 'fd00::1'].map((a) => peers.includes(from(a)))).toEqual([true, true, true, true]);
  expect(['10.89.1.7', '127.0.0.2', 'fe80::1', ''].map((a) => peers.includes(from(a)))).toEqual([false, false, false, false]);
});

it('trusts nobody when it lists nobody', () => {
  expect(new PeerList([]).includes(from('10.89.254.7'))).toBe(false);
});

describe('clientAddress', () => {
  const edge = new PeerList(['10.89.254.0/24']);
  const request = (peer: string, forwardedFor?: string | string[]) => {
    const req = from(peer);
    req.headers = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
    return req;
  };

  it('is the TCP peer when the peer is not a trusted proxy, whatever it forwards', () => {
    expect(clientAddress(request('203.0.113.9', '198.51.100.1'), edge)).toBe('203.0.113.9');
  });

  it('through the edge: the right-most untrusted hop, never the left-most the client wrote', () => {
    expect(clientAddress(request('10.89.254.2', '1.1.1.1, 203.0.113.9'), edge)).toBe('203.0.113.9');
    expect(clientAddress(request('10.89.254.2', ['1.1.1.1', '203.0.113.9, 10.89.254.3']), edge)).toBe('203.0.113.9');
    expect(clientAddress(request('::ffff:10.89.254.2', ' 2001:db8::1 '), edge)).toBe('2001:db8::1');
  });

  it('is the peer when every hop is trusted or there are none', () => {
    expect(clientAddress(request('10.89.254.2'), edge)).toBe('10.89.254.2');
    expect(clientAddress(request('10.89.254.2', '10.89.254.7'), edge)).toBe('10.89.254.2');
  });
});

describe('listenAddress', () => {
  const nic = (address: string) => ({ address, netmask: '255.255.255.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/24` });
  // A joiner after a restart: its visp-net address, and one on each session's network it was on.
  const interfaces = { lo: [{ ...nic('127.0.0.1'), internal: true }], eth0: [nic('10.89.3.4')], eth1: [nic('10.89.254.9')], eth2: [nic('10.89.7.2')] };

  it('is the one address within OPERATIONS_CIDRS (or a CIDR), whatever order the interfaces come in', () => {
    expect(listenAddress('@OPERATIONS_CIDRS', ['10.89.254.0/24'], interfaces)).toBe('10.89.254.9');
    expect(listenAddress('10.89.254.0/24', [], interfaces)).toBe('10.89.254.9');
    expect(listenAddress('10.89.254.0/24', [], { eth9: [nic('10.89.7.2')], eth0: [nic('10.89.254.9')] })).toBe('10.89.254.9');
  });

  it('leaves an address or a name as it is', () => {
    expect(listenAddress('127.0.0.1', ['10.89.254.0/24'], interfaces)).toBe('127.0.0.1');
    expect(listenAddress('0.0.0.0', [], interfaces)).toBe('0.0.0.0');
  });

  it('refuses none, or more than one, rather than guess', () => {
    expect(() => listenAddress('@OPERATIONS_CIDRS', [], interfaces)).toThrow('needs OPERATIONS_CIDRS');
    expect(() => listenAddress('192.168.0.0/16', [], interfaces)).toThrow('no address');
    expect(() => listenAddress('10.89.0.0/16', [], interfaces)).toThrow('3 addresses');
  });
});
