import cluster from 'node:cluster';
import { closeRedis, createRedis } from '@visp/bus';
import { ConfigError, exitOnConfigError, gatewayConfig, loadConfigOrExit, loggerFor } from '@visp/config';
import { bootstrap, runService, superviseWorkers, workerCount } from '@visp/service-kit';
import { openStore, VispDirectory } from '@visp/store';
import { matomoSettingsProblem } from './analytics/analytics';
import { buildGateway } from './app';
import { cookieReaches } from './auth/cookies';

bootstrap('gateway', async () => {
  const config = loadConfigOrExit(gatewayConfig);
  exitOnConfigError(config.component, () => {
    const outside = config.APP_HOSTS.filter((host) => !cookieReaches(config.COOKIE_DOMAIN, host));
    if (outside.length) throw new ConfigError(`APP_HOSTS ${outside.join(', ')}: the sign-in cookie would not reach them; set COOKIE_DOMAIN to a domain they are in`);
    if (config.PROJECT_SOURCE === 'visp' && !config.VISP_MONGO_URI) throw new ConfigError("PROJECT_SOURCE=visp needs VISP_MONGO_URI (VISP's MongoDB, read-only)");
    const matomo = matomoSettingsProblem(config);
    if (matomo) throw new ConfigError(matomo);
    if (config.AUTH_MODE === 'shibboleth') {
      if (!config.SSO_PROXY_SECRET) throw new ConfigError('SSO_PROXY_SECRET must be set in AUTH_MODE=shibboleth (the secret the SP sends with each sign-in)');
      return;
    }
    if (!config.TEST_USER_LOGIN_KEY) throw new ConfigError('TEST_USER_LOGIN_KEY must be set in AUTH_MODE=dev-key');
    if (config.NODE_ENV === 'production' && !config.ALLOW_DEV_KEY_IN_PRODUCTION) {
      throw new ConfigError('AUTH_MODE=dev-key is refused with NODE_ENV=production (anyone with the key is anyone); use shibboleth, or set ALLOW_DEV_KEY_IN_PRODUCTION=true');
    }
  });
  const logger = loggerFor(config);
  const workers = workerCount(config.GATEWAY_WORKERS);
  if (workers > 1 && cluster.isPrimary) return superviseWorkers(workers, logger, config.SHUTDOWN_TIMEOUT_MS);
  const redis = createRedis(config.REDIS_URL, { name: config.component, logger });
  const store = await openStore(config.MONGO_URI, { logger });
  const directory = config.PROJECT_SOURCE === 'visp' && config.VISP_MONGO_URI ? await VispDirectory.open(config.VISP_MONGO_URI, logger) : undefined;
  const { service } = await buildGateway(config, { store, redis, logger, directory, closeAfter: [() => store.close(), async () => directory?.close(), () => closeRedis(redis)] });
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
