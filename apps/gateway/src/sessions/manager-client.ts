import {
  ErrorBodySchema,
  type CapacityView,
  type Owner,
  type PrepareSessionsView,
  type PublicCreateSessionRequest,
  type SessionState,
  type SessionTypesView,
  type SessionView,
  type StopReason,
} from '@visp/contracts';
import { AppError, propagationHeaders } from '@visp/service-kit';

/** An internal service, called with the service token; its error answers become AppErrors. */
export class ServiceClient {
  constructor(
    private readonly name: string,
    private readonly baseUrl: string,
    private readonly serviceToken: string,
  ) {}

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, path, body);
    if (!res.ok) throw await this.toAppError(res);
    return (await res.json()) as T;
  }

  /** The answer as it is, for streams; an error answer becomes an AppError. */
  async stream(path: string, signal: AbortSignal): Promise<Response> {
    const res = await this.fetch('GET', path, undefined, signal);
    if (!res.ok) throw await this.toAppError(res);
    return res;
  }

  private async fetch(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(new URL(path, this.baseUrl), {
        method,
        signal,
        headers: { 'x-service-token': this.serviceToken, ...propagationHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new AppError('unavailable', `the ${this.name} is not reachable; try again shortly`, { cause: err });
    }
  }

  /** The service's own error, passed on (its messages are written for users); anything else is a 502. */
  private async toAppError(res: Response): Promise<AppError> {
    const parsed = ErrorBodySchema.safeParse(await res.json().catch(() => undefined));
    if (parsed.success && parsed.data.error.code !== 'internal') return new AppError(parsed.data.error.code, parsed.data.error.message);
    return new AppError('bad_gateway', `the ${this.name} answered ${res.status}`);
  }
}

/** The session-manager's internal API, on behalf of one owner or (for admins) of the system. */
export class SessionManagerClient {
  constructor(private readonly service: ServiceClient) {}

  private json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.service.json(method, path, body);
  }

  create(owner: Owner, request: PublicCreateSessionRequest): Promise<SessionView> {
    return this.json('POST', '/api/v1/sessions', { ...request, owner });
  }

  /** Prepares what `owner` may launch next (the warm pool); answers at once. */
  prepare(owner: Owner): Promise<PrepareSessionsView> {
    return this.json('POST', '/api/v1/sessions/prepare', { owner });
  }

  async list(filter: { owner?: Owner; state?: SessionState }): Promise<SessionView[]> {
    return (await this.json<{ sessions: SessionView[] }>('GET', `/api/v1/sessions${query(filter)}`)).sessions;
  }

  get(sid: string, owner?: Owner): Promise<SessionView> {
    return this.json('GET', `/api/v1/sessions/${encodeURIComponent(sid)}${query({ owner })}`);
  }

  /** `reason`: why, from the allow-list (unset: its owner asked). */
  stop(sid: string, owner?: Owner, reason?: StopReason): Promise<SessionView> {
    return this.json('DELETE', `/api/v1/sessions/${encodeURIComponent(sid)}${query({ owner, reason })}`);
  }

  capacity(): Promise<CapacityView> {
    return this.json('GET', '/api/v1/capacity');
  }

  sessionTypes(): Promise<SessionTypesView> {
    return this.json('GET', '/api/v1/session-types');
  }

  /** The SSE stream of one session, to pass on as it is. */
  events(sid: string, owner: Owner, signal: AbortSignal): Promise<Response> {
    return this.service.stream(`/api/v1/sessions/${encodeURIComponent(sid)}/events${query({ owner })}`, signal);
  }
}

const query = (params: Record<string, string | undefined>) => {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries)}` : '';
};
