// A client that talks to the gateway exactly as VISP's webclient does (humlab-speech/webclient
// system.service.ts; ../shared/VISP-PROTOCOL.md §1–2): one socket at `/` of the site, the browser's cookies and
// Origin only (no token), commands with their fields at the top level or in `data` and a requestId, frames
// without a requestId ignored, a frame matched by requestId AND cmd, a promise resolved by the FIRST matching
// frame, and the launch followed as an observable (every matching frame) until `progress: "end"`.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { loopbackRequest } from './loopback-http';

/** A frame as the client reads it: both of VISP's reply families have these fields (family B adds `type`). */
export interface VispFrame {
  type?: string;
  requestId?: string | number | null;
  cmd?: string;
  data?: unknown;
  message?: string | null;
  progress?: string | null;
  result?: boolean | string;
}

/**
 * Signs in with the dev login key on `site` (served on 127.0.0.1:`port`) as a browser would there: the gateway's
 * cookie and the app hosts' one (COOKIE_DOMAIN), as one Cookie header for the socket and the app host.
 */
export async function signInOnSite(port: number, site: string, username: string, key: string): Promise<string> {
  const res = await loopbackRequest(`http://${site}/auth/login`, {
    port,
    method: 'POST',
    headers: [
      ['Origin', `http://${site}`],
      ['Content-Type', 'application/json'],
    ],
    body: JSON.stringify({ username, key }),
  });
  if (res.status !== 200) throw new Error(`sign-in of ${username} on ${site}: ${res.status} ${res.body}`);
  return (res.headers['set-cookie'] ?? [])
    .filter((cookie) => !cookie.includes('Max-Age=0'))
    .map((cookie) => cookie.split(';')[0])
    .join('; ');
}

export class VispClient {
  readonly frames: VispFrame[] = [];
  private readonly listeners = new Set<(frame: VispFrame) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as VispFrame;
      this.frames.push(frame);
      for (const listener of [...this.listeners]) listener(frame);
    });
  }

  /** Opens `ws://127.0.0.1:<port>/` as the page on `site` would, with its cookies. */
  static open(port: number, site: string, cookie: string): Promise<VispClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: site, origin: `http://${site}`, cookie } });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new VispClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`the upgrade was answered ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** `sendCommandToBackend` in promise form: resolves on the first frame with this requestId and cmd. */
  send(command: { cmd: string } & Record<string, unknown>, timeoutMs = 30_000): Promise<VispFrame> {
    return new Promise((resolve, reject) => {
      const requestId = randomBytes(10).toString('base64url'); // VISP's client uses nanoid()
      const timer = setTimeout(() => (this.listeners.delete(listen), reject(new Error(`no reply to ${command.cmd} within ${timeoutMs} ms`))), timeoutMs);
      const listen = (frame: VispFrame) => {
        if (frame.requestId !== requestId) return;
        this.listeners.delete(listen);
        clearTimeout(timer);
        if (frame.cmd !== command.cmd) reject(new Error(`the reply to ${command.cmd} names ${String(frame.cmd)}`));
        else resolve(frame);
      };
      this.listeners.add(listen);
      this.ws.send(JSON.stringify({ ...command, requestId }));
    });
  }

  /** `sendCommandToBackend` in observable form, as the launch tile uses it: every matching frame until `end`. */
  follow(command: { cmd: string } & Record<string, unknown>, timeoutMs = 120_000): Promise<VispFrame[]> {
    return new Promise((resolve, reject) => {
      const requestId = randomBytes(10).toString('base64url');
      const seen: VispFrame[] = [];
      const timer = setTimeout(() => (this.listeners.delete(listen), reject(new Error(`${command.cmd} did not end within ${timeoutMs} ms: ${JSON.stringify(seen)}`))), timeoutMs);
      const listen = (frame: VispFrame) => {
        if (frame.requestId !== requestId || frame.cmd !== command.cmd) return;
        seen.push(frame);
        if (frame.progress !== 'end') return;
        this.listeners.delete(listen);
        clearTimeout(timer);
        resolve(seen);
      };
      this.listeners.add(listen);
      this.ws.send(JSON.stringify({ ...command, requestId }));
    });
  }

  /** A legacy raw frame (`ws.send` with `type: "cmd"` and no requestId), answered by cmd alone. */
  sendRaw(command: { cmd: string } & Record<string, unknown>, timeoutMs = 30_000): Promise<VispFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (this.listeners.delete(listen), reject(new Error(`no ${command.cmd} result within ${timeoutMs} ms`))), timeoutMs);
      const listen = (frame: VispFrame) => {
        if (frame.type !== 'cmd-result' || frame.cmd !== command.cmd || frame.progress !== 'end') return;
        this.listeners.delete(listen);
        clearTimeout(timer);
        resolve(frame);
      };
      this.listeners.add(listen);
      this.ws.send(JSON.stringify({ type: 'cmd', ...command }));
    });
  }

  close(): void {
    this.ws.close();
  }
}
