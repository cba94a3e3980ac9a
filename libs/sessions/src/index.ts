export { containerName, homeVolumeName, newSessionId, newSessionToken, sessionNetworkName, toResourceLimits } from './naming';
export { answersReadiness, sessionTarget, templateValues, TOKEN_ENV, type SessionHostDeps, type SessionNetworking } from './runtime';
export { SessionLeases } from './leases';
