export { PodmanClient, type ContainerDetails, type ImageCommand, type ContainerSummary, type ExecResult, type LabelFilter, type PodmanEvent } from './client';
export { ConflictError, NotFoundError, PodmanError, PodmanUnavailableError, toPodmanError } from './errors';
export { decodeSessionLabels, encodeSessionLabels, managedLabels, type DecodedLabels } from './labels';
export { discoverPodman, type DiscoveryOptions, type PodmanEndpoint } from './socket';
export { needsLibpod, toCreateOptions, toLibpodSpec, type ContainerSpec, type ResourceLimits, type TmpfsMount } from './spec';
export { demuxBuffer } from './streams';
export { homeVolumeName, projectRepository, SESSION_GUARD_PATH } from './home';
