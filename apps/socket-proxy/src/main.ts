import { loadConfigOrExit, loggerFor, socketProxyConfig } from '@visp/config';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { bootstrap, createService, runService, serviceBasics } from '@visp/service-kit';

bootstrap('socket-proxy', async () => {
  const config = loadConfigOrExit(socketProxyConfig);
  const logger = loggerFor(config);
  const podman = new PodmanClient(discoverPodman(config));

  const service = createService({
    ...serviceBasics(config, logger),
    readiness: { podman: () => podman.ping() },
  });
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
