import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { clientAddress, PeerList } from './peers';

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
