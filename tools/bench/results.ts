// What a benchmark hands back besides what it prints: its figures, each beside its reference's, for `bench all`'s
// table in docs/benchmarks.md (tools/bench/all.ts).

/** A goal for a figure: on the ratio to the reference, or on the figure itself (in its unit). */
export interface Target {
  of: 'ratio' | 'figure';
  op: '≤' | '≥';
  value: number;
}

/** One measured figure. */
export interface Measure {
  /** What was measured, as the table says it (e.g. `box, 10 at once: start until ready`). */
  name: string;
  /** The figure's unit, as printed after it (`ms`, `s`, `MB`, `req/s`…). */
  unit: string;
  /** VISP's figure. */
  visp: number;
  /** The same measured on what a user could pick instead (or the floor), in the same run and unit. */
  reference?: { name: string; value: number };
  /** Issue 25's target for this figure, where it sets one. */
  target?: Target;
}

export interface BenchResult {
  measures: Measure[];
  /** Why the run did not measure what it should (the command then exits 1); not set when it did. */
  failed?: string;
}

/** The exit code of a `bench` command. */
export const exitCode = (result: BenchResult): number => (result.failed === undefined ? 0 : 1);

/** Issue 25's targets ("Faster than anything a user could pick instead"). */
export const ISSUE_25 = {
  /** WebSocket echo through /s/<sid>/ at 10 and 100 clients, messages/s against configurable-http-proxy. */
  wsThroughput: { of: 'ratio', op: '≥', value: 1.5 },
  /** The same, p50 added to a direct connection's, ms. */
  wsP50Added: { of: 'figure', op: '≤', value: 1 },
  /** HTTP through /s/<sid>/ at 10 and 100 connections, requests/s against configurable-http-proxy. */
  httpThroughput: { of: 'ratio', op: '≥', value: 2.5 },
  /** HTTP p99 added at 1,000 requests/s, ms. */
  httpP99Added: { of: 'figure', op: '≤', value: 1 },
  /** Ten sessions at once against ten bare `podman run`s until ready. */
  spawnBurst: { of: 'ratio', op: '≤', value: 1.2 },
  /** One session against a bare `podman run` until ready. */
  spawnOne: { of: 'ratio', op: '≤', value: 1.05 },
  /** Launch to ready with a warm pool (Jupyter), ms. */
  spawnWarm: { of: 'figure', op: '≤', value: 300 },
  /** The clips through the API against the engine run once over them. */
  transcribeVsEngine: { of: 'ratio', op: '≤', value: 1.1 },
  /** Throughput with two workers against one. */
  transcribeConcurrency: { of: 'ratio', op: '≥', value: 1.8 },
  /** The queue's overhead per job, ms. */
  transcribeOverhead: { of: 'figure', op: '≤', value: 20 },
} as const satisfies Record<string, Target>;
