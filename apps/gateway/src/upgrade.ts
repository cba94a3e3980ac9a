import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';

/** Answers a refused WebSocket upgrade with a plain status line and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
