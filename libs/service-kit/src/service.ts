import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '@visp/config';
import { checkReadiness, type ReadinessCheck } from './health';
import { errorHandler, requestContext, unroutedHandler } from './http';
import { refuseUpgrade } from './upgrades';
import { createMetricsRegistry, httpMetrics } from './metrics';
import { listenAddress, PeerList } from './peers';

export interface ServiceOptions {
  /** The component name: in logs, metrics and errors. */
  name: string;
  logger: Logger;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Besides loopback, the peers (CIDRs) that may read `/readyz` and `/metrics`. @defaultValue none */
  operationsPeers?: readonly string[];
  /** Dependencies `/readyz` probes. */
  readiness?: Record<string, ReadinessCheck>;
  /** How long one readiness probe may take. @defaultValue 2000 */
  readinessTimeoutMs?: number;
  /** Largest JSON body accepted. @defaultValue '100kb' */
  bodyLimit?: string;
  /** How long close() lets in-flight requests finish before cutting connections. @defaultValue 10000 */
  shutdownTimeoutMs?: number;
  /** Adds the service's own routes; called after the health routes, before the 404 and error handlers. */
  routes?: (app: Express, service: Service) => void;
  /** Closes what the service owns (database, Redis, workers), in the order given, after the server stops. */
  onClose?: Array<() => Promise<unknown>>;
  /**
   * Sees every request before express does and returns true when it has taken it: for a proxy, whose bodies must
   * stream untouched (express.json would consume them) and whose hot path should not pay for express.
   */
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** Handles HTTP upgrades (WebSockets); without it they are refused. */
  upgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

export interface Service {
  readonly name: string;
  readonly app: Express;
  readonly server: http.Server;
  readonly metrics: Registry;
  readonly logger: Logger;
  /** Listens; resolves with the bound address. */
  start(): Promise<AddressInfo>;
  /** Stops accepting, drains, closes dependencies. Idempotent: later calls return the same promise. */
  close(): Promise<void>;
}

const KEEP_ALIVE_MS = 65_000;

/** Whether a proxy forwarded the request: the front end adds these headers and a client cannot take them away. */
const forwarded = (req: http.IncomingMessage) => req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;

export function createService(options: ServiceOptions): Service {
  const { logger } = options;
  const app = express();
  const intercept = options.intercept;
  const server = http.createServer(intercept ? (req, res) => intercept(req, res) || app(req, res) : app);
  // Idle keep-alive connections outlive the clients' (undici drops them after about 4 s, proxies and load
  // balancers after up to 60 s): with Node's default of 5 s, a client on a busy machine could send its next
  // request just as the server closed the connection, and see EPIPE or a reset instead of an answer.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1000;
  server.on('upgrade', options.upgrade ?? ((_req: http.IncomingMessage, socket: Duplex) => refuseUpgrade(socket, 404)));
  const metrics = createMetricsRegistry(options.name);
  const readiness = options.readiness ?? {};
  // `/readyz` and `/metrics` tell how the host is built and doing (its dependencies, their errors, its counters):
  // they are for its own checks and scrapers, not for users' sessions or a client a proxy forwarded, who get the
  // 404 of any unknown path.
  const operators = new PeerList(['127.0.0.0/8', '::1/128', ...(options.operationsPeers ?? [])]);
  const operatorsOnly: RequestHandler = (req, _res, next) => next(operators.includes(req) && !forwarded(req) ? undefined : 'route');
  let draining = false;
  let closing: Promise<void> | undefined;

  // A keep-alive connection that goes idle during a drain would otherwise hold close() until its timeout.
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.once('finish', () => {
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });

  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // Every answer is what its content-type says, never sniffed into something executable.
  app.use((_req, res, next) => {
    res.setHeader('x-content-type-options', 'nosniff');
    next();
  });
  app.use(requestContext(logger));
  app.use(httpMetrics(metrics));
  app.use(express.json({ limit: options.bodyLimit ?? '100kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'alive' });
  });
  app.get('/readyz', operatorsOnly, async (_req, res) => {
    if (draining) {
      res.status(503).json({ status: 'unready', checks: {}, reason: 'shutting down' });
      return;
    }
    const report = await checkReadiness(readiness, options.readinessTimeoutMs ?? 2000);
    res.status(report.status === 'ready' ? 200 : 503).json(report);
  });
  app.get('/metrics', operatorsOnly, async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });

  const service: Service = {
    name: options.name,
    app,
    server,
    metrics,
    logger,
    async start() {
      server.listen(options.port, listenAddress(options.host, options.operationsPeers));
      await once(server, 'listening');
      const address = server.address() as AddressInfo;
      logger.info({ host: address.address, port: address.port }, `${options.name} listening`);
      return address;
    },
    close() {
      closing ??= (async () => {
        draining = true;
        logger.info('shutting down: draining requests');
        const stopped = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), options.shutdownTimeoutMs ?? 10_000);
        });
        if ((await Promise.race([stopped, deadline])) === 'timeout') {
          logger.warn('drain deadline passed: closing remaining connections');
          server.closeAllConnections();
          await stopped;
        }
        clearTimeout(timer);
        for (const close of options.onClose ?? []) {
          await close().catch((err: unknown) => logger.error({ err }, 'error while closing a dependency'));
        }
        logger.info('shut down');
      })();
      return closing;
    },
  };

  options.routes?.(app, service);
  app.use(unroutedHandler(app));
  app.use(errorHandler);
  return service;
}

/**
 * For `main.ts`: start, and on SIGTERM or SIGINT close gracefully and exit 0 (1 if closing overruns its deadline
 * or fails). Start-up failures exit 1 with the reason logged.
 */
export async function runService(service: Service, shutdownTimeoutMs = 10_000): Promise<void> {
  const stop = (signal: string) => {
    service.logger.info({ signal }, 'signal received');
    const hardStop = setTimeout(() => {
      service.logger.error('shutdown took too long: exiting');
      process.exit(1);
    }, shutdownTimeoutMs + 5_000);
    hardStop.unref();
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        service.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await service.start();
  } catch (err) {
    service.logger.fatal({ err }, 'could not start');
    process.exit(1);
  }
}

/** The options every service takes from its config. */
export function serviceBasics(config: { component: string; HOST: string; PORT: number; SHUTDOWN_TIMEOUT_MS: number; OPERATIONS_CIDRS?: readonly string[] }, logger: Logger) {
  return { name: config.component, logger, host: config.HOST, port: config.PORT, shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS, operationsPeers: config.OPERATIONS_CIDRS };
}

/**
 * Runs a service's `main`: a dependency that cannot be reached at start-up (database down, no Podman socket)
 * ends the process with one line and exit code 1, for systemd or the dev stack to restart; no stack trace.
 */
export function bootstrap(component: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${component}: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
