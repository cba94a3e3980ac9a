import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** Answers a refused upgrade with its status (and a JSON body, if given) and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, body?: unknown): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const type = body === undefined ? '' : 'Content-Type: application/json\r\n';
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}\r\n${type}Connection: close\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
}

/** A response head as raw bytes, for answers written straight to an upgrade's socket. */
export function rawResponseHead(res: IncomingMessage, setCookies?: (values: readonly string[]) => string[]): string {
  let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`;
  const cookies: string[] = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const [name = '', value = ''] = [res.rawHeaders[i], res.rawHeaders[i + 1]];
    if (setCookies && name.toLowerCase() === 'set-cookie') cookies.push(value);
    else head += `${name}: ${value}\r\n`;
  }
  if (setCookies) for (const value of setCookies(cookies)) head += `Set-Cookie: ${value}\r\n`;
  return `${head}\r\n`;
}

/**
 * Completes an upgrade that a proxy forwarded: the upstream's answer goes to the client, then each side's early
 * bytes to the other, then the two sockets are piped into each other; either one closing or failing ends both.
 */
export function joinUpgraded(client: Duplex, answer: IncomingMessage, upstream: Duplex, upstreamHead: Buffer, clientHead: Buffer, setCookies?: (values: readonly string[]) => string[]): void {
  upstream.on('error', () => client.destroy()).on('close', () => client.destroy());
  client.on('error', () => upstream.destroy()).on('close', () => upstream.destroy());
  client.write(rawResponseHead(answer, setCookies));
  if (upstreamHead.length) client.write(upstreamHead);
  if (clientHead.length) upstream.write(clientHead);
  upstream.pipe(client).pipe(upstream);
}
