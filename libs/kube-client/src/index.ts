export { KubeClient, KubeError, KubeUnavailableError, type WatchEvent } from './client';
export { kubeEndpoint, KubeConfigError, type KubeEndpoint, type KubeSettings } from './endpoint';
