import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

/** Starts a kernel through Jupyter's REST API under `baseUrl` (e.g. `http://127.0.0.1:1234/s/<sid>/`). */
export async function startKernel(baseUrl: string, token: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(new URL('api/kernels', baseUrl), {
    method: 'POST',
    headers: { authorization: `token ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name: 'python3' }),
  });
  if (res.status !== 201) throw new Error(`starting a kernel answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Opens the kernel's channels WebSocket; `wsUrl` is the kernel's `…/channels` URL with any query it needs. */
export function openKernel(wsUrl: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade answered ${res.statusCode}`)));
  });
}

/** Sends an execute request for `code` on an open kernel channel; returns its message id. */
export function sendExecuteRequest(ws: WebSocket, code: string): string {
  const msgId = randomUUID();
  ws.send(
    JSON.stringify({
      header: { msg_id: msgId, username: 'test', session: randomUUID(), msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
      parent_header: {},
      metadata: {},
      content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      channel: 'shell',
      buffers: [],
    }),
  );
  return msgId;
}

/** Executes `code` on an open kernel channel and resolves with its `text/plain` result. */
export function execute(ws: WebSocket, code: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let msgId = '';
    const timer = setTimeout(() => (ws.off('message', onMessage), reject(new Error(`no result for ${code} within ${timeoutMs} ms`))), timeoutMs);
    const onMessage = (data: WebSocket.RawData) => {
      const msg = JSON.parse(String(data)) as { msg_type?: string; header?: { msg_type?: string }; parent_header?: { msg_id?: string }; content?: { data?: Record<string, string>; ename?: string; evalue?: string } };
      if (msg.parent_header?.msg_id !== msgId) return;
      const type = msg.msg_type ?? msg.header?.msg_type;
      if (type === 'execute_result') {
        clearTimeout(timer);
        ws.off('message', onMessage);
        resolve(msg.content?.data?.['text/plain'] ?? '');
      } else if (type === 'error') {
        clearTimeout(timer);
        ws.off('message', onMessage);
        reject(new Error(`${msg.content?.ename}: ${msg.content?.evalue}`));
      }
    };
    ws.on('message', onMessage);
    msgId = sendExecuteRequest(ws, code);
  });
}
