import { exitOnConfigError, loadConfigOrExit, loggerFor, socketProxyConfig } from '@visp/config';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { bootstrap, createService, runService, serviceBasics } from '@visp/service-kit';
import { clientSocketPath, compileImagePattern, defaultPolicies, loadPolicyFile, SocketProxy } from '@visp/podman-proxy';

bootstrap('socket-proxy', async () => {
  const config = loadConfigOrExit(socketProxyConfig);
  const logger = loggerFor(config);
  const endpoint = discoverPodman(config);
  if (!('socketPath' in endpoint)) throw new Error('the socket proxy needs Podman on a unix socket (CONTAINER_HOST=unix://…)');
  const policies = exitOnConfigError(config.component, () =>
    config.SOCKET_PROXY_POLICY_FILE
      ? loadPolicyFile(config.SOCKET_PROXY_POLICY_FILE)
      : defaultPolicies(config.SOCKET_PROXY_IMAGES.map(compileImagePattern), { joiners: config.SESSION_NETWORK_JOINERS, sessionGuard: config.SESSION_GUARD_BINARY, projectRepositories: config.PROJECT_REPOSITORIES_DIR }),
  );
  const clients = Object.entries(policies).map(([name, policy]) => ({ name, policy, socketPath: clientSocketPath(config.SOCKET_PROXY_DIR, name) }));
  const proxy = new SocketProxy({ podmanSocket: endpoint.socketPath, instance: config.INSTANCE_ID, logger }, clients);
  const podman = new PodmanClient(endpoint);

  const service = createService({
    ...serviceBasics(config, logger),
    readiness: { podman: () => podman.ping() },
    onClose: [() => proxy.close()],
  });
  proxy.countIn(service.metrics);
  await proxy.start();
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
