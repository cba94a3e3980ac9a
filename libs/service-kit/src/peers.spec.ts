import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { PeerList } from './peers';

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
