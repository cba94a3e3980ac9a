/**
 * Reads a server-sent event stream, each `data:` frame parsed as JSON, until `until` holds for one (or the
 * stream ends); returns every message read. Leaving the loop cancels the stream.
 */
export async function readSse<T>(url: string, headers: Record<string, string>, until: (message: T) => boolean): Promise<T[]> {
  const res = await fetch(url, { headers });
  if (res.headers.get('content-type') !== 'text/event-stream' || !res.body) {
    throw new Error(`the event stream ${url} answered ${res.status} ${res.headers.get('content-type') ?? ''}`);
  }
  const messages: T[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    const frames = buffered.split('\n\n');
    buffered = frames.pop() ?? '';
    for (const frame of frames) {
      if (!frame.startsWith('data: ')) continue;
      const message = JSON.parse(frame.slice(6)) as T;
      messages.push(message);
      if (until(message)) return messages;
    }
  }
  return messages;
}
