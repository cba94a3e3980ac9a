export { containerRunArgs, DEVIATIONS, parseUnit, splitCommand, STAND_INS, type RunContext, type Unit, servicesNetworkPeers, startContainerStack, type ContainerStack, type StackService, type StackSettings } from './stack';
export { createPodmanSecret } from './secrets';
export { caddyfile, EDGE_REMOVED_HEADERS, type EdgeOptions } from './edge';
export { GATEWAY_REPOSITORIES_DROP_IN, gatewayRepositoriesDropIn } from './drop-ins';
