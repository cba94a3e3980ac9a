export { containerName, homeVolumeName, newSessionId, newSessionToken, toResourceLimits } from './naming';
export { answersReadiness, sessionTarget, templateValues, TOKEN_ENV, type SessionHostDeps, type SessionNetworking } from './runtime';
export { SessionLeases } from './leases';
