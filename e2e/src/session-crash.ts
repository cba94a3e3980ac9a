import { LABEL } from '@visp/contracts';
import type { PodmanClient } from '@visp/podman-client';
import type { SessionRecord, Store } from '@visp/store';
import { waitFor } from '@visp/testing';

/**
 * Kills a session's container through Podman, as an app crash or an OOM kill would, and waits (15 s at most) for
 * recovery, which must be running, to end the session in the store.
 */
export async function crashSession(podman: PodmanClient, store: Store, instance: string, sid: string): Promise<SessionRecord> {
  const [container] = await podman.listManaged(instance, { [LABEL.sessionId]: sid });
  await podman.docker.getContainer(container?.id ?? 'none').kill();
  return waitFor('recovery to end the session', async () => {
    const record = await store.sessions.getAnyOwner(sid);
    return record?.state === 'stopped' ? record : undefined;
  }, 15_000, 100);
}
