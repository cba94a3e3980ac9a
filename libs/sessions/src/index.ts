export { containerName, newSessionId, newSessionToken, sessionNetworkName, toResourceLimits } from './naming';
// The home volume's name is podman-client's, where the socket proxy computes it too: one function for both.
export { homeVolumeName } from '@visp/podman-client';
export { behindGuard } from './guard';
export { answersReadiness, sessionTarget, templateValues, TOKEN_ENV, type SessionHostDeps } from './runtime';
export { closeSessionNetwork, openSessionNetwork, sessionNetworking, type SessionNetworking } from './network';
export { SessionLeases } from './leases';
