import { Registry } from 'prom-client';
import { memoryLogger } from '@visp/testing';
import { MatomoReporter, type ReporterOptions } from './reporter';

const ENDPOINT = new URL('http://matomo.test/matomo.php');
const params = (n: number) => new URLSearchParams({ idsite: '1', rec: '1', e_c: 'test', e_a: String(n) });

/** A fetch whose answers the test decides, one request at a time. */
function fakeMatomo() {
  const requests: Array<{ url: string; init: RequestInit; answer: (status: number) => void; fail: (err: Error) => void }> = [];
  const fetch = ((url: URL, init: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      init.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error));
      requests.push({ url: String(url), init, answer: (status) => resolve(new Response(null, { status })), fail: reject });
    })) as unknown as typeof globalThis.fetch;
  return { fetch, requests };
}

async function counts(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('visp_analytics_reports_total')?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.outcome), v.value]));
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function reporter(options: ReporterOptions = {}) {
  const matomo = fakeMatomo();
  const { logger, lines } = memoryLogger();
  const registry = new Registry();
  const r = new MatomoReporter(ENDPOINT, logger, { fetch: matomo.fetch, ...options });
  r.countIn(registry);
  return { r, matomo, lines, registry };
}

describe('MatomoReporter', () => {
  it('posts each report form-encoded to matomo.php and counts it sent', async () => {
    const { r, matomo, registry } = reporter();
    r.send(params(1));
    expect(matomo.requests).toHaveLength(1);
    const [request] = matomo.requests;
    expect(request!.url).toBe(ENDPOINT.href);
    expect(request!.init.method).toBe('POST');
    expect(String(request!.init.body)).toBe('idsite=1&rec=1&e_c=test&e_a=1');
    request!.answer(204);
    await settle();
    expect(await counts(registry)).toEqual({ sent: 1, failed: 0, dropped: 0 });
  });

  it('returns at once whatever Matomo does, and keeps at most `concurrency` requests open', () => {
    const { r, matomo } = reporter({ concurrency: 2 });
    const started = Date.now();
    for (let n = 0; n < 5; n++) r.send(params(n));
    expect(Date.now() - started).toBeLessThan(50);
    expect(matomo.requests).toHaveLength(2);
  });

  it('counts refusals, errors and timeouts as failed, and logs them at most once per period', async () => {
    const { r, matomo, lines, registry } = reporter({ timeoutMs: 50, logEveryMs: 60_000 });
    r.send(params(1));
    r.send(params(2));
    matomo.requests[0]!.answer(500);
    matomo.requests[1]!.fail(new Error('connect ECONNREFUSED'));
    await settle();
    r.send(params(3)); // never answered: the timeout ends it
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await counts(registry)).toEqual({ sent: 0, failed: 3, dropped: 0 });
    const warnings = lines.filter((l) => l.msg === 'could not report to Matomo (counted in visp_analytics_reports_total)');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^(Matomo answered 500|connect ECONNREFUSED)$/) });
  });

  it('drops reports beyond its queue instead of holding them without end', async () => {
    const { r, matomo, registry } = reporter({ concurrency: 1, maxQueued: 2 });
    for (let n = 0; n < 5; n++) r.send(params(n));
    // One in flight, two waiting, two dropped.
    expect(matomo.requests).toHaveLength(1);
    expect(await counts(registry)).toMatchObject({ dropped: 2 });
  });

  it('lets queued reports out on close, then drops what is left after its deadline; close is idempotent', async () => {
    const { r, matomo, registry } = reporter({ concurrency: 1, drainMs: 100 });
    r.send(params(1));
    r.send(params(2));
    const closed = r.close();
    expect(r.close()).toBe(closed);
    matomo.requests[0]!.answer(204);
    await settle();
    // The second went out; Matomo never answers it, and the third comes too late.
    expect(matomo.requests).toHaveLength(2);
    r.send(params(3));
    await closed;
    expect(await counts(registry)).toMatchObject({ sent: 1, dropped: 1 });
    matomo.requests[1]!.answer(204);
  });
});
