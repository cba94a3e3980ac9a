export { containerName, newSessionId, newSessionToken, sessionNetworkName, toResourceLimits } from './naming';
// The home volume's name is podman-client's, where the socket proxy computes it too: one function for both.
export { homeVolumeName } from '@visp/podman-client';
export { behindGuard } from './guard';
export { answersReadiness, templateValues, TOKEN_ENV, type SessionHostDeps } from './runtime';
export { sessionNetworking, type SessionNetworking } from './network';
export { SessionLeases } from './leases';
export { SpawnError, type FollowHandlers, type OnStep, type RuntimeStep, type SessionPlumbing, type SessionRuntime, type SpawnRequest, type StartedWorkload, type Workload, type WorkloadDetails } from './session-runtime';
export { PodmanRuntime, type PodmanRuntimeSettings } from './podman-runtime';
export { KubernetesRuntime, type KubernetesRuntimeSettings } from './kubernetes-runtime';
export { openSessionRuntime, podmanRuntimeSettings, type SessionRuntimeSettings } from './open-runtime';
