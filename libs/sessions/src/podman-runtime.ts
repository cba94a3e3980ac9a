import { expandLaunch, SESSION_GUARD_PORT, type Logger } from '@visp/config';
import { LABEL, SessionIdSchema, type SessionLimits } from '@visp/contracts';
import { encodeSessionLabels, homeVolumeName, NotFoundError, PodmanError, projectRepository, type ContainerSpec, type ImageCommand, type LabelFilter, type PodmanClient } from '@visp/podman-client';
import { behindGuard } from './guard';
import { containerName, sessionNetworkName, toResourceLimits } from './naming';
import { closeSessionNetwork, openSessionNetwork, type SessionNetworking } from './network';
import { followAlways, templateValues, TOKEN_ENV } from './runtime';
import { SpawnError, type FollowHandlers, type OnStep, type SessionPlumbing, type SessionRuntime, type SpawnRequest, type StartedWorkload, type Workload, type WorkloadDetails } from './session-runtime';

export interface PodmanRuntimeSettings {
  instance: string;
  networking: SessionNetworking;
  /** Local mode: the session guard's binary on the host, put in front of every session's published port. */
  guardBinary?: string;
  /**
   * PROJECT_REPOSITORIES_DIR, on the host: a session with a project gets `<dir>/<project>` at `<home>/project`.
   * Unset: a project is only a label (sessions without VISP).
   */
  projectRepositories?: string;
}

const PORT_RACE_ATTEMPTS = 3;
/**
 * How long what an image said (that it is there, its command) stands: the launches of a burst share one inspect
 * (each is a call the engine serialises), and an image rebuilt under its tag is read anew within seconds.
 */
const IMAGE_READ_TTL_MS = 5000;

/**
 * Where the gateway (and a readiness probe) reaches a session's app, or undefined when it cannot be reached: in
 * local mode its published port, in network mode its address on its own network (where the joiners are too).
 * Read from the container as the caller inspected it, when it did.
 */
async function sessionTarget(
  podman: PodmanClient,
  container: { id: string; ports?: Record<string, number>; networks?: Record<string, string> },
  session: { sid: string; port: number },
  networking: SessionNetworking,
): Promise<string | undefined> {
  const details = container.ports && container.networks ? { ports: container.ports, networks: container.networks } : await podman.inspectContainer(container.id);
  if (networking.mode === 'network') {
    const address = details.networks[sessionNetworkName(session.sid)];
    return address ? `http://${address}:${session.port}` : undefined;
  }
  // Local mode: the guard's port; the app's own is not published (behindGuard).
  const hostPort = details.ports[`${SESSION_GUARD_PORT}/tcp`];
  return hostPort ? `http://127.0.0.1:${hostPort}` : undefined;
}

/** Limits back from a container's HostConfig, for a record rebuilt from labels. */
function limitsOf(hostConfig: { Memory?: number; NanoCpus?: number; PidsLimit?: number | null }): SessionLimits {
  return {
    memoryMiB: Math.max(64, Math.round((hostConfig.Memory ?? 0) / 2 ** 20)),
    cpus: Math.max(0.1, (hostConfig.NanoCpus ?? 0) / 1e9),
    pids: Math.max(16, hostConfig.PidsLimit ?? 0),
  };
}

/** Podman's container events after which a session's container no longer runs. */
const ENDED_ACTIONS = new Set(['die', 'remove']);

/**
 * Sessions as Podman containers (through the socket proxy in production): labelled, limited, non-root, with a
 * home volume per user; isolated by user-mode networking behind the session guard (local mode) or by a network of
 * their own (network mode, libs/sessions network.ts).
 */
export class PodmanRuntime implements SessionRuntime {
  readonly name = 'podman';
  readonly plumbing: SessionPlumbing;
  /** Each image's command as lately read, or undefined for an image that is not there (never kept). */
  private readonly images = new Map<string, { at: number; read: Promise<ImageCommand | undefined> }>();

  constructor(
    private readonly podman: PodmanClient,
    private readonly settings: PodmanRuntimeSettings,
    private readonly logger: Logger,
  ) {
    const joiners = settings.networking.mode === 'network' ? settings.networking.joiners : [];
    this.plumbing = {
      joiners,
      list: async (instance) => {
        const networks = (await podman.listManagedNetworks(instance, { [LABEL.sessionId]: true }))
          .map((n) => ({ name: n.name, sid: n.labels[LABEL.sessionId] ?? '' }))
          .filter((n) => SessionIdSchema.safeParse(n.sid).success);
        // Who is on it matters only where services join: one inspect per session network, in network mode only. A
        // network gone since the list counts as complete: nothing is joined to it.
        return Promise.all(networks.map(async (n) => ({ ...n, members: joiners.length > 0 ? await podman.networkMembers(n.name).catch(() => [...joiners]) : [] })));
      },
      remove: (name) => podman.removeNetwork(name),
      join: (name, joiner) => podman.connectNetwork(name, joiner),
    };
  }

  ping(): Promise<void> {
    return this.podman.ping();
  }

  /**
   * The container spec: labels, limits, home volume, its project's repository, its own network (libs/sessions
   * network.ts), a loopback port in local mode; security settings are implied.
   */
  containerSpec(request: SpawnRequest): ContainerSpec {
    const { type } = request;
    const values = templateValues(request);
    const launch = expandLaunch(type, values);
    const env: Record<string, string> = { [TOKEN_ENV]: request.token, VISP_BASE_URL: values.baseUrl, VISP_USER: request.owner, ...launch.env };
    return {
      name: containerName(request.typeName, request.sid),
      image: type.image,
      labels: encodeSessionLabels({
        instance: this.settings.instance,
        id: request.sid,
        type: request.typeName,
        owner: request.owner,
        project: request.project,
        created: request.createdAt.toISOString(),
        warm: request.warm,
      }),
      user: type.user,
      cmd: launch.command,
      env,
      workdir: type.homeDir,
      limits: toResourceLimits(request.limits),
      tmpfs: [{ target: '/tmp', sizeBytes: type.tmpfsMiB * 2 ** 20, mode: 0o1777 }],
      volumes: [{ name: homeVolumeName(request.owner), target: type.homeDir }],
      ...this.projectMount(request),
      ...(this.settings.networking.mode === 'local' ? { network: 'slirp4netns' as const, publish: { containerPort: type.port } } : { network: { name: sessionNetworkName(request.sid) } }),
    };
  }

  /** The project's repository, read-write at `<home>/project`, when there is a project and a place for repositories. */
  private projectMount(request: SpawnRequest): Pick<ContainerSpec, 'writableBinds'> {
    const root = this.settings.projectRepositories;
    if (root === undefined || request.project === undefined) return {};
    return { writableBinds: [projectRepository(root, request.project, request.type.homeDir)] };
  }

  /**
   * Podman's refusal of a project repository that is not there (libpod: `statfs <source>: no such file or
   * directory`; it never makes one) as the user should read it: VISP's "mount path not found", without the host
   * path, which the log keeps.
   */
  private missingProject(request: SpawnRequest, err: unknown): SpawnError | undefined {
    const source = this.projectMount(request).writableBinds?.[0]?.source;
    if (source === undefined || !(err instanceof PodmanError) || !err.message.includes(source) || !/no such file or directory/i.test(err.message)) return undefined;
    this.logger.warn({ sid: request.sid, project: request.project, source }, "the project's repository is not there");
    return new SpawnError(`project ${request.project ?? ''} has no repository on this host: mount path not found`);
  }

  async preflight(request: SpawnRequest): Promise<void> {
    await this.imageCommand(request.type.image);
  }

  /** The image's command, one inspect shared by the launches within {@link IMAGE_READ_TTL_MS}; a missing image fails the start. */
  private async imageCommand(image: string): Promise<ImageCommand> {
    const kept = this.images.get(image);
    const entry = kept && Date.now() - kept.at < IMAGE_READ_TTL_MS ? kept : { at: Date.now(), read: this.podman.imageCommand(image).catch((err: unknown) => (err instanceof NotFoundError ? undefined : Promise.reject(err))) };
    this.images.set(image, entry);
    const command = await entry.read.catch((err: unknown) => {
      if (this.images.get(image) === entry) this.images.delete(image);
      throw err;
    });
    if (command) return command;
    if (this.images.get(image) === entry) this.images.delete(image);
    throw new SpawnError(`image ${image} is not available on this host`);
  }

  /**
   * Creates the home volume (owned by the app's user), the session's own network in network mode, and the container;
   * starts it. Podman answers within the call: nothing to wait for, so neither the deadline nor the signal is read.
   */
  async start(request: SpawnRequest, onStep: OnStep): Promise<StartedWorkload> {
    const [uid = '1000', gid = '1000'] = request.type.user.split(':');
    await this.podman.ensureVolume(homeVolumeName(request.owner), { instance: this.settings.instance, owner: { uid: Number(uid), gid: Number(gid) } });
    const missing = await openSessionNetwork(this.podman, request.sid, this.settings.instance, this.settings.networking);
    if (missing.length > 0) this.logger.warn({ sid: request.sid, missing }, 'services to join the session network are not there: recovery joins them when they are back');
    const spec = this.settings.networking.mode === 'local' ? await this.guarded(request) : this.containerSpec(request);
    for (let attempt = 1; ; attempt++) {
      onStep('creating', 'creating the container');
      const id = await this.podman.createContainer(spec).catch((err: unknown) => Promise.reject(this.missingProject(request, err) ?? err));
      onStep('starting', 'starting the container');
      try {
        await this.podman.startContainer(id);
        const target = await sessionTarget(this.podman, { id }, { sid: request.sid, port: request.type.port }, this.settings.networking);
        if (!target) throw new SpawnError(this.settings.networking.mode === 'local' ? 'the container has no published port' : 'the container has no address on its network');
        return { id, target };
      } catch (err) {
        // Podman picks a free host port at create and binds it at start: parallel starts can pick the same one.
        if (attempt === PORT_RACE_ATTEMPTS || !(err instanceof Error && /address already in use/.test(err.message))) throw err;
        await this.podman.removeContainer(id, { force: true });
      }
    }
  }

  /**
   * Local mode: the spec with the session guard in front of the app, so that its published port serves only
   * requests with the session's credential; the guard starts the image's own command when the type names none.
   */
  private async guarded(request: SpawnRequest): Promise<ContainerSpec> {
    if (!this.settings.guardBinary) throw new SpawnError('local mode needs the session guard: SESSION_GUARD_BINARY is not set');
    return behindGuard(this.containerSpec(request), request.type.port, await this.imageCommand(request.type.image), this.settings.guardBinary);
  }

  async inspect(id: string, port: number): Promise<WorkloadDetails | undefined> {
    const details = await this.podman.inspectContainer(id).catch((err: unknown) => (err instanceof NotFoundError ? undefined : Promise.reject(err)));
    if (!details) return undefined;
    const sid = details.labels[LABEL.sessionId] ?? '';
    return {
      id: details.id,
      name: details.name,
      state: details.state,
      labels: details.labels,
      running: details.running,
      exitCode: details.exitCode,
      token: details.env[TOKEN_ENV],
      limits: limitsOf(details.hostConfig),
      target: await sessionTarget(this.podman, details, { sid, port }, this.settings.networking),
    };
  }

  async list(filter: { instance?: string; sid?: string } = {}): Promise<Workload[]> {
    const labels: LabelFilter = { [LABEL.managed]: 'true' };
    if (filter.instance !== undefined) labels[LABEL.instance] = filter.instance;
    if (filter.sid !== undefined) labels[LABEL.sessionId] = filter.sid;
    return (await this.podman.listContainers(labels)).map(({ id, name, state, labels: own }) => ({ id, name, state, labels: own }));
  }

  /** Podman's container events of the instance: a container that died or was removed. */
  follow(instance: string, on: FollowHandlers, signal: AbortSignal): Promise<void> {
    return followAlways(
      async () => {
        const events = this.podman.events({ labels: { [LABEL.managed]: 'true', [LABEL.instance]: instance }, signal, onConnected: () => on.watching() });
        for await (const event of events) {
          const sid = event.attributes[LABEL.sessionId];
          if (sid && ENDED_ACTIONS.has(event.action)) on.ended(sid);
        }
        return true;
      },
      signal,
      this.logger,
    );
  }

  async logTail(id: string, lines: number): Promise<string> {
    const logs = await this.podman.logs(id, { tail: lines }).catch(() => undefined);
    return logs ? `${logs.stdout}${logs.stderr}`.trim() : '';
  }

  /** Stops and removes the session's container and its own network if there are any; never its home volume. */
  async remove(session: { typeName: string; sid: string }): Promise<void> {
    const name = containerName(session.typeName, session.sid);
    await this.podman.stopContainer(name, 10).catch(() => undefined);
    await this.podman.removeContainer(name, { force: true });
    await closeSessionNetwork(this.podman, session.sid, this.settings.networking);
  }

  async removeRemains(session: { sid: string; workloadId?: string }): Promise<void> {
    if (session.workloadId !== undefined) await this.podman.removeContainer(session.workloadId, { force: true });
    await closeSessionNetwork(this.podman, session.sid, this.settings.networking);
  }
}
