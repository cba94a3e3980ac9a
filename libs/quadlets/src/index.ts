export { DEVIATIONS, parseUnit, splitCommand, startContainerStack, trustedProxyCidrs, type ContainerStack, type StackService, type StackSettings } from './stack';
export { createPodmanSecret } from './secrets';
