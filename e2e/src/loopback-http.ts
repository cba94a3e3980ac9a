// HTTP to named hosts that all live on loopback (`visp.localhost`, `idp.localhost`), with headers sent exactly as
// given: names in their case, repeated names as repeated lines. What an attacker's client does, and what the SAML
// tests need without DNS.
import http from 'node:http';

export interface LoopbackResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface LoopbackOptions {
  method?: string;
  /** Raw header lines, `[name, value]`, in order; Host comes from the URL unless given. */
  headers?: Array<[string, string]>;
  body?: string;
  /** The port on 127.0.0.1 to connect to; the URL's by default. */
  port?: number;
  /** The request target as sent, unnormalised (`/auth//sso`, `/./auth/sso`); the URL's by default. */
  path?: string;
}

export function loopbackRequest(url: string, options: LoopbackOptions = {}): Promise<LoopbackResponse> {
  const target = new URL(url);
  const lines = options.headers ?? [];
  const raw = [...(lines.some(([name]) => name.toLowerCase() === 'host') ? [] : ['Host', target.host]), ...lines.flat()];
  if (options.body !== undefined) raw.push('Content-Length', String(Buffer.byteLength(options.body)));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: options.port ?? Number(target.port || 80), method: options.method ?? 'GET', path: options.path ?? `${target.pathname}${target.search}`, headers: raw, setHost: false, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer from ${url} in 20 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
