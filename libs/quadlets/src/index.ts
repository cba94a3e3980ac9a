export { DEVIATIONS, parseUnit, splitCommand, servicesNetworkPeers, startContainerStack, type ContainerStack, type StackService, type StackSettings } from './stack';
export { createPodmanSecret } from './secrets';
