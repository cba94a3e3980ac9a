export { PodmanClient, type ContainerDetails, type ImageCommand, type ContainerSummary, type ExecResult, type LabelFilter, type PodmanEvent } from './client';
export { ConflictError, NotFoundError, PodmanError, PodmanUnavailableError, toPodmanError } from './errors';
export { decodeSessionLabels, encodeSessionLabels, managedLabels, type DecodedLabels } from './labels';
export { discoverPodman, type DiscoveryOptions, type PodmanEndpoint } from './socket';
export { toCreateOptions, type ContainerSpec, type ResourceLimits, type TmpfsMount } from './spec';
export { demuxBuffer } from './streams';
export { homeVolumeName, SESSION_GUARD_PATH } from './home';
