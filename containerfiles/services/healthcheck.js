// The services' health check (the image's HEALTHCHECK and the quadlets' HealthCmd): /healthz on the service's
// address and port answers 2xx within two seconds, or the check fails. The address is HOST's when it is one;
// loopback for a service on every address; for `@OPERATIONS_CIDRS` or a CIDR (a service on its visp-net address
// only, see libs/service-kit listenAddress), every address of this container, one of which is it.
const { networkInterfaces } = require('node:os');
const DEFAULT_PORTS = { gateway: 8080, 'session-manager': 8020, recovery: 8030, 'whisper-worker': 8040, 'socket-proxy': 8050 };
const port = process.env.PORT || DEFAULT_PORTS[process.env.APP];
const HOST = process.env.HOST || '0.0.0.0';
const hosts = ['0.0.0.0', '::'].includes(HOST)
  ? ['127.0.0.1']
  : HOST.startsWith('@') || HOST.includes('/')
    ? Object.values(networkInterfaces()).flat().filter((i) => i.family === 'IPv4').map((i) => i.address)
    : [HOST];
const answers = (host) => fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then((res) => res.ok, () => false);
Promise.all(hosts.map(answers)).then((results) => process.exit(results.some(Boolean) ? 0 : 1));
