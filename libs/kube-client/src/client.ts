import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import type { KubeEndpoint } from './endpoint';

/** The API server's answer to a failed call (a `Status`): its HTTP status, its reason (`NotFound`, `Forbidden`, `AlreadyExists`, …) and message. */
export class KubeError extends Error {
  override readonly name = 'KubeError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The API server could not be reached (refused, reset, TLS): nothing was decided. */
export class KubeUnavailableError extends Error {
  override readonly name = 'KubeUnavailableError';
}

const StatusSchema = z.object({ kind: z.literal('Status'), message: z.string().optional(), reason: z.string().optional() });

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: unknown;
}
const WatchEventSchema = z.object({ type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']), object: z.unknown() });

type Query = Record<string, string | number | boolean | undefined>;

/** Calls take this long at most, the answer included (a watch is bounded by its own `timeoutSeconds`). */
const CALL_TIMEOUT_MS = 30_000;

/**
 * The Kubernetes API over HTTPS with undici: JSON in and out, every failure a KubeError with the server's reason,
 * answers checked against the caller's zod schema. Paths are the API's own (`/api/v1/namespaces/<ns>/pods`).
 */
export class KubeClient {
  private readonly agent: Agent;

  constructor(private readonly endpoint: KubeEndpoint) {
    this.agent = new Agent({ connect: { ca: endpoint.ca, cert: endpoint.cert, key: endpoint.key }, headersTimeout: CALL_TIMEOUT_MS, bodyTimeout: CALL_TIMEOUT_MS });
  }

  /** The namespace the endpoint names (the context's, or the service account's), if any. */
  get namespace(): string | undefined {
    return this.endpoint.namespace;
  }

  get<T>(path: string, schema: z.ZodType<T>, query?: Query): Promise<T> {
    return this.json('GET', path, schema, { query });
  }

  /** `query.dryRun: 'All'` has the API server check the object, admission included, and keep nothing. */
  create<T>(path: string, body: unknown, schema: z.ZodType<T>, query?: Query): Promise<T> {
    return this.json('POST', path, schema, { body, query });
  }

  /** A JSON merge patch (RFC 7386). */
  patch<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    return this.json('PATCH', path, schema, { body, contentType: 'application/merge-patch+json' });
  }

  /** Deletes; one already gone is not an error. `gracePeriodSeconds` as the API takes it. */
  async delete(path: string, options: { gracePeriodSeconds?: number } = {}): Promise<void> {
    try {
      await this.json('DELETE', path, z.unknown(), { query: { gracePeriodSeconds: options.gracePeriodSeconds, propagationPolicy: 'Background' } });
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
  }

  /** A plain-text answer (a pod's log). Accepting any type: the API server refuses `text/plain` (406), naming only its object encodings. */
  async text(path: string, query?: Query): Promise<string> {
    const res = await this.call('GET', path, { query, accept: '*/*' });
    return res.body.text();
  }

  /**
   * Follows a watch (`?watch=1`) until the server ends it, `signal` aborts, or `onEvent` throws; resolves when it
   * ends. The caller lists first and watches from that list's `resourceVersion`, relisting on 410 Gone.
   * `onConnected` once the server has answered: every change from then on comes.
   */
  async watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, signal: AbortSignal, onConnected?: () => void): Promise<void> {
    const res = await this.call('GET', path, { query: { ...query, watch: 1, allowWatchBookmarks: true }, signal, watching: true });
    onConnected?.();
    // A character may be split between chunks: decode as a stream. An ERROR event (410 Gone: relist) is a KubeError.
    const decoder = new TextDecoder();
    let rest = '';
    const emit = (line: string) => {
      if (!line.trim()) return;
      const event = WatchEventSchema.parse(JSON.parse(line));
      if (event.type === 'ERROR') {
        const status = StatusSchema.extend({ code: z.number().optional() }).safeParse(event.object);
        throw new KubeError(status.success ? (status.data.code ?? 500) : 500, status.success ? (status.data.reason ?? '') : '', `watch ${path}: ${status.success ? (status.data.message ?? '') : 'an error'}`);
      }
      onEvent(event);
    };
    try {
      for await (const chunk of res.body) {
        rest += decoder.decode(chunk as Buffer, { stream: true });
        for (let newline = rest.indexOf('\n'); newline >= 0; newline = rest.indexOf('\n')) {
          emit(rest.slice(0, newline));
          rest = rest.slice(newline + 1);
        }
      }
      emit(rest + decoder.decode());
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private async json<T>(method: Dispatcher.HttpMethod, path: string, schema: z.ZodType<T>, options: { query?: Query; body?: unknown; contentType?: string }): Promise<T> {
    const res = await this.call(method, path, options);
    const parsed = schema.safeParse(await res.body.json());
    if (!parsed.success) throw new Error(`${method} ${path}: the API server's answer is not what was expected: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }

  private async call(
    method: Dispatcher.HttpMethod,
    path: string,
    options: { query?: Query; body?: unknown; contentType?: string; accept?: string; signal?: AbortSignal; watching?: boolean },
  ): Promise<Dispatcher.ResponseData> {
    // Appended, not resolved: a server behind a path prefix (`https://host/k8s/clusters/c1`) keeps it.
    const url = new URL(`${this.endpoint.server}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
    const token = this.endpoint.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        dispatcher: this.agent,
        signal: options.signal ?? AbortSignal.timeout(CALL_TIMEOUT_MS),
        // A watch is quiet for as long as nothing changes; the server ends it after its timeoutSeconds.
        ...(options.watching ? { bodyTimeout: 0 } : {}),
      });
    } catch (err) {
      throw new KubeUnavailableError(`${method} ${url.pathname}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (res.statusCode < 400) return res;
    const text = await res.body.text();
    const status = StatusSchema.safeParse(safeJson(text));
    const reason = status.success ? (status.data.reason ?? '') : '';
    const message = status.success ? (status.data.message ?? text) : text.slice(0, 500);
    throw new KubeError(res.statusCode, reason, `${method} ${url.pathname}: ${res.statusCode}${reason ? ` ${reason}` : ''}: ${message}`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
