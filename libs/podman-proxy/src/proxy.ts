import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@visp/config';
import { LABEL } from '@visp/contracts';
import { joinUpgraded, rawResponseHead, refuseUpgrade } from '@visp/service-kit';
import { Counter, type Registry } from 'prom-client';
import { checkCreate } from './container-create';
import { checkExecCreate, checkNetworkCreate, checkNetworkJoin, checkVolumeCreate } from './other-bodies';
import { parseRequest, queryRefusal, type Api, type ApiRequest, type ClientPolicy, type Operation } from './policy';
import { containerName, network, SESSION_NETWORK, volumeName } from './values';

export interface ProxyClient {
  name: string;
  /** The unix socket this client connects to (mode 0660). */
  socketPath: string;
  policy: ClientPolicy;
}

export interface SocketProxyOptions {
  /** The real Podman API socket. */
  podmanSocket: string;
  instance: string;
  logger: Logger;
}

/** Request bodies the proxy reads (creates); anything bigger is refused. */
const MAX_BODY_BYTES = 1024 * 1024;
/** How long a container's "is it ours" answer is trusted. */
const OWNERSHIP_TTL_MS = 5_000;

class Denied extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type BodyCheck = (api: Api, body: unknown, policy: ClientPolicy, instance: string) => { body: object } | { refused: string };

/** The operations whose bodies are read; every other body goes to Podman as sent (none of them matters). */
const BODY_CHECKS: Partial<Record<Operation, BodyCheck>> = {
  'container.create': checkCreate,
  'exec.create': (_api, body, policy) => checkExecCreate(body, policy),
  'volume.create': checkVolumeCreate,
  'network.create': checkNetworkCreate,
  'network.connect': (api, body, policy) => checkNetworkJoin(api, body, policy, false),
  'network.disconnect': (api, body, policy) => checkNetworkJoin(api, body, policy, true),
};

/** How an allowed call goes on: with the body the proxy read (and maybe rewrote), its list answer filtered. */
interface Decision {
  body?: Buffer;
  /** The path and query sent on, when the proxy wrote them (with a body it checked). */
  url?: string;
  filterList?: boolean;
}

/**
 * One listening socket per client, each forwarding to Podman only what that client's policy allows. Creates are
 * read and checked, calls on a container only reach managed containers of this instance, container lists are
 * filtered to them. Streams (logs, events, wait) and hijacked calls (exec start, attach) pass through.
 */
export class SocketProxy {
  private readonly servers: http.Server[] = [];
  private readonly ownership = new Map<string, { ours: boolean; at: number }>();
  private calls: Counter<'client' | 'decision'> | undefined;

  constructor(
    private readonly options: SocketProxyOptions,
    private readonly clients: ProxyClient[],
  ) {}

  countIn(registry: Registry): void {
    this.calls = new Counter({ name: 'visp_socket_proxy_calls_total', help: 'Podman API calls by client and decision', labelNames: ['client', 'decision'] as const, registers: [registry] });
  }

  async start(): Promise<void> {
    for (const client of this.clients) {
      mkdirSync(path.dirname(client.socketPath), { recursive: true, mode: 0o750 });
      rmSync(client.socketPath, { force: true });
      const server = http.createServer((req, res) => void this.web(client, req, res));
      server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.upgrade(client, req, socket, head));
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(client.socketPath, resolve));
      chmodSync(client.socketPath, 0o660);
      this.servers.push(server);
      this.options.logger.info({ client: client.name, socket: client.socketPath }, 'socket proxy listening');
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())))));
  }

  private async web(client: ProxyClient, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const audit = (decision: string, status: number, reason?: string, request?: ApiRequest) => this.audit(client, req, { decision, status, reason, request, ms: performance.now() - started });
    let request: ApiRequest | undefined;
    try {
      request = this.admit(client, req);
      const decision = await this.decide(client, req, request);
      const upstream = http.request({ socketPath: this.options.podmanSocket, method: req.method, path: decision.url ?? req.url, headers: withBody(req.headers, decision.body) });
      upstream.on('error', (err) => {
        audit('error', 502, err.message, request);
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Podman is not reachable' }));
        else res.destroy();
      });
      upstream.on('response', (answer) => {
        audit('allow', answer.statusCode ?? 0, undefined, request);
        if (decision.filterList && answer.statusCode === 200) return void this.filterList(answer, res);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      res.on('close', () => upstream.destroy());
      if (decision.body) upstream.end(decision.body);
      else req.pipe(upstream);
    } catch (err) {
      const denied = err instanceof Denied ? err : new Denied(500, err instanceof Error ? err.message : String(err));
      audit('deny', denied.status, denied.message, request);
      res.writeHead(denied.status, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `socket-proxy: ${denied.message}`, cause: 'denied' }));
    }
  }

  /** Hijacked calls (exec start, attach): checked like any other, then the two sockets are joined. */
  private async upgrade(client: ProxyClient, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const started = performance.now();
    let request: ApiRequest | undefined;
    try {
      request = this.admit(client, req);
      if (request.operation !== 'exec.start' && request.operation !== 'container.attach') throw new Denied(403, `${request.operation} cannot be upgraded`);
      await this.decide(client, req, request);
    } catch (err) {
      const denied = err instanceof Denied ? err : new Denied(500, String(err));
      this.audit(client, req, { decision: 'deny', status: denied.status, reason: denied.message, request, ms: performance.now() - started });
      return refuseUpgrade(socket, denied.status, { message: `socket-proxy: ${denied.message}` });
    }
    // The request's own body (exec start's options) comes with the upgrade's first bytes: it goes first, alone.
    const { body, rest } = await readUpgradeBody(socket, head, Number(req.headers['content-length'] ?? 0));
    const upstream = http.request({ socketPath: this.options.podmanSocket, method: req.method, path: req.url, headers: req.headers });
    upstream.on('upgrade', (answer, podman, podmanHead) => {
      this.audit(client, req, { decision: 'allow', status: answer.statusCode ?? 0, request, ms: performance.now() - started });
      joinUpgraded(socket, answer, podman, podmanHead, rest);
    });
    // Podman may answer a hijack with a plain 200 and then stream: passed on as it comes.
    upstream.on('response', (answer) => {
      this.audit(client, req, { decision: 'allow', status: answer.statusCode ?? 0, request, ms: performance.now() - started });
      socket.write(rawResponseHead(answer));
      answer.pipe(socket);
      socket.on('data', (chunk: Buffer) => answer.socket.write(chunk));
    });
    upstream.on('error', () => socket.destroy());
    upstream.end(body);
  }

  /** The operation asked for, if the client's policy has it at all. */
  private admit(client: ProxyClient, req: IncomingMessage): ApiRequest {
    const parsed = parseRequest(req.method ?? 'GET', req.url ?? '/');
    if ('refused' in parsed) throw new Denied(403, parsed.refused);
    if (!client.policy.operations.has(parsed.operation)) throw new Denied(403, `${parsed.operation} is not allowed for ${client.name}`);
    return parsed;
  }

  /** The checks that depend on what is asked about: the container, the create body, the network. */
  private async decide(client: ProxyClient, req: IncomingMessage, request: ApiRequest): Promise<Decision> {
    const { operation, subject } = request;
    // Bodies that can change what a container may do are read, checked field by field and sent on as re-written
    // here, so Podman decodes exactly what was checked.
    const bodyCheck = BODY_CHECKS[operation];
    let body: Buffer | undefined;
    let url: string | undefined;
    if (bodyCheck) {
      const checked = bodyCheck(request.api, parseBody(await readBody(req)), client.policy, this.options.instance);
      if ('refused' in checked) throw new Denied(403, checked.refused);
      body = Buffer.from(JSON.stringify(checked.body));
      url = checkedUrl(req.url ?? '/', operation, request.api, checked.body, client.policy);
    } else {
      const refused = queryRefusal(operation, req.url ?? '/');
      if (refused) throw new Denied(403, refused);
    }
    if (operation === 'container.list') return { filterList: true };
    if (subject && (operation === 'volume.inspect' || operation === 'volume.remove')) {
      const refused = volumeName(client.policy)(subject, 'volume');
      if (refused) throw new Denied(403, refused);
    }
    if (subject && (operation.startsWith('container.') || operation === 'exec.create')) await this.requireOurs(`/containers/${encodeURIComponent(subject)}/json`, subject);
    if (subject && (operation === 'exec.start' || operation === 'exec.inspect')) {
      const exec = await this.podmanJson(`/exec/${encodeURIComponent(subject)}/json`);
      const container = String((exec as { ContainerID?: unknown }).ContainerID ?? '');
      await this.requireOurs(`/containers/${encodeURIComponent(container)}/json`, container);
    }
    if (subject && operation === 'volume.remove') await this.requireOurs(`/volumes/${encodeURIComponent(subject)}`, `volume:${subject}`);
    // A network the policy names (a session's own, for the session-manager and recovery), and this instance's.
    // Joiners are put on sessions' own networks only: on any other they could bridge what sessions must not reach.
    if (subject && (operation === 'network.remove' || operation === 'network.inspect' || operation === 'network.connect' || operation === 'network.disconnect')) {
      const refused = network(client.policy)(subject, 'network') ?? (operation.endsWith('connect') && !SESSION_NETWORK.test(subject) ? `containers join only sessions' own networks, not ${JSON.stringify(subject)}` : undefined);
      if (refused) throw new Denied(403, refused);
      await this.requireOurs(`/networks/${encodeURIComponent(subject)}`, `network:${subject}`);
    }
    return body ? { body, url } : {};
  }

  /** Refuses calls on anything that is not labelled as this instance's. */
  private async requireOurs(inspectPath: string, key: string): Promise<void> {
    const cached = this.ownership.get(key);
    if (cached && performance.now() - cached.at < OWNERSHIP_TTL_MS) {
      if (!cached.ours) throw new Denied(403, `${key} is not managed by this instance`);
      return;
    }
    const details = (await this.podmanJson(inspectPath)) as { Config?: { Labels?: Record<string, string> }; Labels?: Record<string, string> };
    const labels = details.Config?.Labels ?? details.Labels ?? {};
    const ours = labels[LABEL.managed] === 'true' && labels[LABEL.instance] === this.options.instance;
    this.ownership.set(key, { ours, at: performance.now() });
    if (!ours) throw new Denied(403, `${key} is not managed by this instance`);
  }

  private podmanJson(path: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      http
        .get({ socketPath: this.options.podmanSocket, path }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            if (res.statusCode === 404) return reject(new Denied(404, `no such object (${path})`));
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString()));
            } catch {
              reject(new Denied(502, `Podman answered ${res.statusCode} to ${path}`));
            }
          });
        })
        .on('error', (err) => reject(new Denied(502, err.message)));
    });
  }

  /** Only this instance's managed containers, whatever was asked. */
  private filterList(answer: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    answer.on('data', (chunk: Buffer) => chunks.push(chunk));
    answer.on('end', () => {
      const list = JSON.parse(Buffer.concat(chunks).toString() || '[]') as Array<{ Labels?: Record<string, string> | null }>;
      const ours = list.filter((c) => c.Labels?.[LABEL.managed] === 'true' && c.Labels[LABEL.instance] === this.options.instance);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ours));
    });
  }

  private audit(client: ProxyClient, req: IncomingMessage, entry: { decision: string; status: number; reason?: string; request?: ApiRequest; ms: number }): void {
    this.calls?.inc({ client: client.name, decision: entry.decision });
    const level = entry.decision === 'allow' ? 'info' : 'warn';
    this.options.logger[level](
      { audit: true, client: client.name, method: req.method, path: req.url, operation: entry.request?.operation, decision: entry.decision, reason: entry.reason, status: entry.status, ms: Math.round(entry.ms * 10) / 10 },
      `${client.name} ${req.method} ${req.url}: ${entry.decision}`,
    );
  }
}

/**
 * A checked body's request as sent on: its path, and no query but the compat create's `name`, which Podman reads
 * from the query alone: taken from the checked body (dockerode repeats the body in the query; a different name
 * there is refused).
 */
function checkedUrl(rawUrl: string, operation: Operation, api: Api, body: object, policy: ClientPolicy): string {
  const [path = '/', query = ''] = rawUrl.split('?', 2);
  if (operation !== 'container.create' || api !== 'compat') return path;
  const inBody = (body as { name?: unknown }).name;
  const asked = new URLSearchParams(query).getAll('name');
  if (asked.length > 1 || (asked.length === 1 && inBody !== undefined && asked[0] !== inBody)) throw new Denied(403, 'the name in the query is not the one in the body');
  const name = inBody ?? asked[0];
  if (name === undefined) return path;
  const refused = containerName(policy)(name, 'name');
  if (refused) throw new Denied(403, refused);
  return `${path}?name=${encodeURIComponent(String(name))}`;
}

/** The first `length` bytes of an upgraded connection (the request body), and whatever came after them. */
function readUpgradeBody(socket: Socket, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  if (length > MAX_BODY_BYTES) return Promise.reject(new Denied(413, 'request body too large'));
  return new Promise((resolve) => {
    let received = head;
    const done = () => {
      socket.off('data', more);
      resolve({ body: received.subarray(0, length), rest: received.subarray(length) });
    };
    const more = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= length) done();
    };
    if (received.length >= length) return done();
    socket.on('data', more);
  });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return reject(new Denied(413, 'request body too large'));
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString() || '{}') as unknown;
  } catch {
    throw new Denied(400, 'the request body is not JSON');
  }
}

/** The client's headers, with the length of a body the proxy rewrote. */
function withBody(headers: IncomingMessage['headers'], body: Buffer | undefined): OutgoingHttpHeaders {
  if (!body) return headers;
  const { 'transfer-encoding': _chunked, ...rest } = headers;
  return { ...rest, 'content-length': String(body.length) };
}
