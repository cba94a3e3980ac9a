// The containerised stack for the e2e specs (libs/quadlets builds it from quadlets/), with the test's instance
// label and the test runner's Podman socket, so the runner removes whatever a failed test leaves.
import path from 'node:path';
import { startContainerStack as start, type ContainerStack, type StackSettings } from '@visp/quadlets';
import { testInstanceId, testPodmanHost } from '@visp/testing';

export type { ContainerStack } from '@visp/quadlets';

export function startContainerStack(settings: Pick<StackSettings, 'gatewayPort' | 'env' | 'projectRepositories'>): Promise<ContainerStack> {
  // The local podman (same storage as the runner's service): some commands exist only locally.
  const { CONTAINER_HOST: _remote, ...podmanEnv } = process.env;
  return start({
    podmanEnv,
    ...settings,
    quadlets: path.resolve(__dirname, '../../quadlets'),
    instance: testInstanceId(),
    podmanSocket: testPodmanHost().replace(/^unix:\/\//, ''),
  });
}
