export { DEVIATIONS, parseUnit, splitCommand, startContainerStack, type ContainerStack, type StackService, type StackSettings } from './stack';
export { createPodmanSecret } from './secrets';
