// The services' health check (the image's HEALTHCHECK and the quadlets' HealthCmd): /healthz on the service's
// address and port answers 2xx within two seconds, or the check fails. The address is HOST's (a service that
// listens on its visp-net name only is not on loopback), or loopback for a service on every address.
const DEFAULT_PORTS = { gateway: 8080, 'session-manager': 8020, recovery: 8030, 'whisper-worker': 8040, 'socket-proxy': 8050 };
const port = process.env.PORT || DEFAULT_PORTS[process.env.APP];
const host = !process.env.HOST || ['0.0.0.0', '::'].includes(process.env.HOST) ? '127.0.0.1' : process.env.HOST;
fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);
