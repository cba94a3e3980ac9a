/**
 * How each service's Node.js runs, wherever it runs: `npm start`, the e2e tests, the benches, and the images
 * (containerfiles/services/Containerfile repeats these in its CMDs; a test checks that they agree).
 */
const SERVICE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  // The gateway scales by worker processes, one per core: the garbage collector's helper threads only compete
  // with them. On the proxy's hot path their wake-ups (a young-generation collection about every 90 requests) cost
  // more than they save: without them, 5–19 % less CPU per proxied request (apps/gateway/README.md).
  gateway: ['--single-threaded-gc'],
};

/** The arguments before a service's main.js. */
export const nodeArgsFor = (app: string): string[] => ['--enable-source-maps', ...(SERVICE_FLAGS[app] ?? [])];
