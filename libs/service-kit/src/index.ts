export { AppError, NotFoundError, ValidationError, parseOrThrow, requireJson, sessionIdParam } from './errors';
export { Forwarder, forwardedHeaders, type ForwardError, type ForwardedHeaders, type Upstream } from './forward';
export { bootstrap, createService, runService, serviceBasics, type Service, type ServiceOptions } from './service';
export { checkReadiness, type CheckResult, type ReadinessCheck, type ReadinessReport } from './health';
export { createMetricsRegistry } from './metrics';
export { currentRequestId, propagationHeaders, REQUEST_ID_HEADER, requestIdFrom, runWithRequestId } from './request-context';
export { errorHandler, notFoundHandler, requestContext, requireServiceToken } from './http';
export { joinUpgraded, rawResponseHead, refuseUpgrade } from './upgrades';
export { superviseWorkers, workerCount } from './workers';
