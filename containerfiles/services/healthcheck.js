// The services' health check (the image's HEALTHCHECK and the quadlets' HealthCmd): /healthz on the service's
// port answers 2xx within two seconds, or the check fails.
const DEFAULT_PORTS = { gateway: 8080, 'session-manager': 8020, recovery: 8030, 'whisper-worker': 8040, 'socket-proxy': 8050 };
const port = process.env.PORT || DEFAULT_PORTS[process.env.APP];
fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);
