import { ConfigError, type Logger, type SessionNetworkingSettings } from '@visp/config';
import { KubeClient, KubeConfigError, kubeEndpoint, type KubeSettings } from '@visp/kube-client';
import { discoverPodman, PodmanClient, type DiscoveryOptions } from '@visp/podman-client';
import { KubernetesRuntime } from './kubernetes-runtime';
import { sessionNetworking } from './network';
import { PodmanRuntime, type PodmanRuntimeSettings } from './podman-runtime';
import type { SessionRuntime } from './session-runtime';

export type SessionRuntimeSettings = SessionNetworkingSettings &
  DiscoveryOptions &
  KubeSettings & {
    INSTANCE_ID: string;
    SESSION_RUNTIME: 'podman' | 'kubernetes';
    KUBE_NAMESPACE?: string;
    KUBE_SERVICES_NAMESPACE: string;
    KUBE_IMAGE_PULL_POLICY: 'IfNotPresent' | 'Always' | 'Never';
    KUBE_HOME_SIZE: string;
    KUBE_HOME_STORAGE_CLASS?: string;
    /** Read by the service that starts sessions; recovery only adopts them. */
    SESSION_GUARD_BINARY?: string;
    PROJECT_REPOSITORIES_DIR?: string;
  };

/** The Podman runtime's part of a service's settings. */
export const podmanRuntimeSettings = (settings: SessionNetworkingSettings & Pick<SessionRuntimeSettings, 'INSTANCE_ID' | 'SESSION_GUARD_BINARY' | 'PROJECT_REPOSITORIES_DIR'>): PodmanRuntimeSettings => ({
  instance: settings.INSTANCE_ID,
  networking: sessionNetworking(settings),
  guardBinary: settings.SESSION_GUARD_BINARY,
  projectRepositories: settings.PROJECT_REPOSITORIES_DIR,
});

/**
 * The runtime a service's settings name: the one place that picks it. Podman at CONTAINER_HOST (or its usual
 * socket), or Kubernetes through KUBECONFIG or the pod's service account. A setting that cannot work is a
 * ConfigError, before the service starts.
 */
export function openSessionRuntime(settings: SessionRuntimeSettings, logger: Logger): SessionRuntime {
  const log = logger.child({ part: 'runtime' });
  if (settings.SESSION_RUNTIME === 'podman') return new PodmanRuntime(new PodmanClient(discoverPodman(settings)), podmanRuntimeSettings(settings), log);
  let kube: KubeClient;
  try {
    kube = new KubeClient(kubeEndpoint(settings));
  } catch (err) {
    throw err instanceof KubeConfigError ? new ConfigError(`SESSION_RUNTIME=kubernetes: ${err.message}`) : err;
  }
  const namespace = settings.KUBE_NAMESPACE ?? kube.namespace;
  if (!namespace) throw new ConfigError("KUBE_NAMESPACE must name the sessions' namespace: the kubeconfig's context names none");
  return new KubernetesRuntime(
    kube,
    {
      instance: settings.INSTANCE_ID,
      namespace,
      imagePullPolicy: settings.KUBE_IMAGE_PULL_POLICY,
      homeSize: settings.KUBE_HOME_SIZE,
      homeStorageClass: settings.KUBE_HOME_STORAGE_CLASS,
      servicesNamespace: settings.KUBE_SERVICES_NAMESPACE,
    },
    log,
  );
}
