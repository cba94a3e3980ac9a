// The gateway's REST API as the page uses it: same-origin, with the sign-in cookie; errors carry the server's
// message (every 4xx answers `{error: {message}}`).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const data: unknown = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, (data as { error?: { message?: string } }).error?.message ?? `the server answered ${res.status}`);
  return data as T;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer<T>(res);
}

/** A multipart upload (a recording is megabytes: it goes over HTTP, not the socket). */
export async function upload<T>(path: string, fields: FormData): Promise<T> {
  return answer<T>(await fetch(path, { method: 'POST', credentials: 'same-origin', body: fields }));
}
