import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { KubeClient, KubeError, KubeUnavailableError, type WatchEvent } from './client';

// A stand-in API server over plain HTTP: what a pure unit test of the client's HTTP handling needs. The runtime's
// tests run against the real cluster.
let server: Server;
let handle: (req: IncomingMessage, res: ServerResponse, body: string) => void;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handle(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const Pod = z.object({ metadata: z.object({ name: z.string() }) });

describe('KubeClient', () => {
  it('sends JSON with the bearer token of the moment, and checks the answer against the schema', async () => {
    const seen: string[] = [];
    handle = (req, res, body) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization} ${req.headers['content-type'] ?? ''} ${body}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url?.startsWith('/bad') ? { metadata: {} } : { metadata: { name: 'p1' } }));
    };
    let token = 'one';
    const client = new KubeClient({ server: base, token: () => token });
    await expect(client.create('/api/v1/namespaces/n/pods', { a: 1 }, Pod)).resolves.toEqual({ metadata: { name: 'p1' } });
    token = 'two';
    await client.patch('/api/v1/namespaces/n/pods/p1', { b: 2 }, Pod);
    await client.get('/api/v1/namespaces/n/pods', Pod, { labelSelector: 'app=visp', limit: undefined });
    expect(seen).toEqual([
      'POST /api/v1/namespaces/n/pods Bearer one application/json {"a":1}',
      'PATCH /api/v1/namespaces/n/pods/p1 Bearer two application/merge-patch+json {"b":2}',
      'GET /api/v1/namespaces/n/pods?labelSelector=app%3Dvisp Bearer two  ',
    ]);
    await expect(client.get('/bad', Pod)).rejects.toThrow("GET /bad: the API server's answer is not what was expected: metadata.name");
    await client.close();
  });

  it("turns a Status into a KubeError with the server's reason; a delete of what is gone succeeds", async () => {
    handle = (req, res) => {
      res.statusCode = req.method === 'DELETE' ? 404 : 403;
      res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: req.method === 'DELETE' ? 'NotFound' : 'Forbidden', message: 'pods is forbidden: User "system:serviceaccount:v:r" cannot create resource "pods"' }));
    };
    const client = new KubeClient({ server: base });
    const refused = await client.create('/api/v1/namespaces/n/pods', {}, Pod).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(KubeError);
    expect(refused).toMatchObject({ status: 403, reason: 'Forbidden', message: expect.stringContaining('cannot create resource "pods"') });
    await expect(client.delete('/api/v1/namespaces/n/pods/gone')).resolves.toBeUndefined();
    await client.close();
  });

  it('reads a watch as one event per line, whatever the chunks, until the server ends it', async () => {
    handle = (req, res) => {
      expect(req.url).toContain('watch=1');
      const lines = [{ type: 'ADDED', object: { n: 1 } }, { type: 'MODIFIED', object: { n: 2 } }, { type: 'DELETED', object: { n: 3 } }].map((e) => JSON.stringify(e)).join('\n') + '\n';
      // Split in the middle of lines, as a network may.
      res.write(lines.slice(0, 10));
      setTimeout(() => res.write(lines.slice(10, 50)), 10);
      setTimeout(() => res.end(lines.slice(50)), 20);
    };
    const client = new KubeClient({ server: base });
    const events: WatchEvent[] = [];
    await client.watch('/api/v1/namespaces/n/pods', { resourceVersion: '5' }, (e) => events.push(e), new AbortController().signal);
    expect(events).toEqual([
      { type: 'ADDED', object: { n: 1 } },
      { type: 'MODIFIED', object: { n: 2 } },
      { type: 'DELETED', object: { n: 3 } },
    ]);
    await client.close();
  });

  it('keeps a server path prefix; decodes a character split between chunks; takes a last line without a newline; makes an ERROR event a KubeError', async () => {
    const seen: string[] = [];
    handle = (req, res) => {
      seen.push(req.url ?? '');
      if (!req.url?.includes('watch=1')) return void res.end('{}');
      const text = `${JSON.stringify({ type: 'ADDED', object: { owner: 'åsa' } })}\n${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } })}`;
      const bytes = Buffer.from(text);
      const split = bytes.indexOf(Buffer.from('å')) + 1;
      res.write(bytes.subarray(0, split));
      setTimeout(() => res.end(bytes.subarray(split)), 10);
    };
    const client = new KubeClient({ server: `${base}/k8s/clusters/c1` });
    await client.get('/api/v1/pods', z.unknown());
    const events: WatchEvent[] = [];
    const watching = client.watch('/api/v1/pods', {}, (e) => events.push(e), new AbortController().signal);
    await expect(watching).rejects.toMatchObject({ status: 410, reason: 'Expired' });
    expect(events).toEqual([{ type: 'ADDED', object: { owner: 'åsa' } }]);
    expect(seen[0]).toBe('/k8s/clusters/c1/api/v1/pods');
    await client.close();
  });

  it('says the server could not be reached, apart from what it refused', async () => {
    const client = new KubeClient({ server: 'http://127.0.0.1:1' });
    await expect(client.get('/api', z.unknown())).rejects.toBeInstanceOf(KubeUnavailableError);
    await client.close();
  });
});
