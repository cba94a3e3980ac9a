import { SESSION_GUARD_PORT } from '@visp/config';
import { SESSION_GUARD_PATH, type ContainerSpec, type ImageCommand } from '@visp/podman-client';

/**
 * A local-mode session's spec with the session guard (tools/session-guard) in front of its app: the guard's
 * binary mounted read-only from `guardBinary` on the host, run as the entrypoint, listening on
 * SESSION_GUARD_PORT (the only port published) and starting the app itself, as the container would have: the
 * image's ENTRYPOINT followed by the type's command, or by the image's CMD when the type has none. Only requests
 * with the session's credential reach the app; any other local process gets 403.
 */
export function behindGuard(spec: ContainerSpec, appPort: number, image: ImageCommand, guardBinary: string): ContainerSpec {
  const app = [...image.entrypoint, ...(spec.cmd ?? image.cmd)];
  if (app.length === 0) throw new Error(`image ${spec.image} names no command and its session type gives none`);
  return {
    ...spec,
    entrypoint: [SESSION_GUARD_PATH],
    cmd: ['-listen', `0.0.0.0:${SESSION_GUARD_PORT}`, '-app', `127.0.0.1:${appPort}`, '--', ...app],
    readOnlyBinds: [{ source: guardBinary, target: SESSION_GUARD_PATH }],
    publish: { containerPort: SESSION_GUARD_PORT },
  };
}
