import type { SessionLimits } from '@visp/contracts';
import { expandLaunch, type Logger, type SessionTypeConfig } from '@visp/config';
import { encodeSessionLabels, PodmanError, projectRepository, type ContainerSpec, type PodmanClient } from '@visp/podman-client';
import { answersReadiness, behindGuard, closeSessionNetwork, containerName, homeVolumeName, openSessionNetwork, sessionNetworkName, sessionTarget, templateValues, toResourceLimits, TOKEN_ENV, type SessionNetworking } from '@visp/sessions';

export interface SpawnSettings {
  instance: string;
  networking: SessionNetworking;
  startTimeoutMs: number;
  /** Local mode: the session guard's binary on the host, put in front of every session's published port. */
  guardBinary?: string;
  /**
   * PROJECT_REPOSITORIES_DIR, on the host: a session with a project gets `<dir>/<project>` at `<home>/project`.
   * Unset: a project is only a label (sessions without VISP).
   */
  projectRepositories?: string;
}

export interface SpawnRequest {
  sid: string;
  owner: string;
  typeName: string;
  type: SessionTypeConfig;
  project?: string;
  limits: SessionLimits;
  createdAt: Date;
  token: string;
}

/** Why a start failed, in words for the user; `logs` are the container's last lines when there are any. */
export class SpawnError extends Error {
  override readonly name = 'SpawnError';
}

/** Readiness polls start fast (a light app answers in tens of ms) and settle at a cheap pace. */
const POLL = { firstMs: 25, factor: 1.5, maxMs: 100 };
/** How often a start that is still waiting asks Podman whether the container died: inspect costs Podman CPU. */
const LIVENESS_CHECK_MS = 1000;
const PORT_RACE_ATTEMPTS = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates session containers and waits until their app answers. Knows Podman and HTTP, not the database. */
export class Spawner {
  constructor(
    private readonly podman: PodmanClient,
    private readonly settings: SpawnSettings,
    private readonly logger: Logger,
  ) {}

  /**
   * The container spec: labels, limits, home volume, its project's repository, its own network (libs/sessions
   * network.ts), a loopback port in local mode; security settings are implied.
   */
  containerSpec(request: SpawnRequest): ContainerSpec {
    const { type } = request;
    const values = templateValues(request);
    const launch = expandLaunch(type, values);
    const env: Record<string, string> = { [TOKEN_ENV]: request.token, VISP_BASE_URL: values.baseUrl, VISP_USER: request.owner, ...launch.env };
    const name = containerName(request.typeName, request.sid);
    return {
      name,
      image: type.image,
      labels: encodeSessionLabels({
        instance: this.settings.instance,
        id: request.sid,
        type: request.typeName,
        owner: request.owner,
        project: request.project,
        created: request.createdAt.toISOString(),
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

  /** Checks what can be checked before anything is created. */
  async preflight(request: SpawnRequest): Promise<void> {
    if (!(await this.podman.imageExists(request.type.image))) {
      throw new SpawnError(`image ${request.type.image} is not available on this host`);
    }
  }

  /** Creates the home volume (owned by the app's user), the session's own network in network mode, and the container; starts it. */
  async createAndStart(request: SpawnRequest, onStep: (step: 'creating' | 'starting') => void): Promise<{ containerId: string; target: string }> {
    const [uid = '1000', gid = '1000'] = request.type.user.split(':');
    await this.podman.ensureVolume(homeVolumeName(request.owner), { instance: this.settings.instance, owner: { uid: Number(uid), gid: Number(gid) } });
    const missing = await openSessionNetwork(this.podman, request.sid, this.settings.instance, this.settings.networking);
    if (missing.length > 0) this.logger.warn({ sid: request.sid, missing }, 'services to join the session network are not there: recovery joins them when they are back');
    const spec = this.settings.networking.mode === 'local' ? await this.guarded(request) : this.containerSpec(request);
    for (let attempt = 1; ; attempt++) {
      onStep('creating');
      const containerId = await this.podman.createContainer(spec).catch((err: unknown) => Promise.reject(this.missingProject(request, err) ?? err));
      onStep('starting');
      try {
        await this.podman.startContainer(containerId);
        return { containerId, target: await this.targetOf(containerId, request.sid, request.type.port) };
      } catch (err) {
        // Podman picks a free host port at create and binds it at start: parallel starts can pick the same one.
        if (attempt === PORT_RACE_ATTEMPTS || !(err instanceof Error && /address already in use/.test(err.message))) throw err;
        await this.podman.removeContainer(containerId, { force: true });
      }
    }
  }

  /**
   * Local mode: the spec with the session guard in front of the app, so that its published port serves only
   * requests with the session's credential; the guard starts the image's own command when the type names none.
   */
  private async guarded(request: SpawnRequest): Promise<ContainerSpec> {
    if (!this.settings.guardBinary) throw new SpawnError('local mode needs the session guard: SESSION_GUARD_BINARY is not set');
    return behindGuard(this.containerSpec(request), request.type.port, await this.podman.imageCommand(request.type.image), this.settings.guardBinary);
  }

  /** Where the gateway (and the readiness probe) reaches the app. */
  async targetOf(containerId: string, sid: string, port: number): Promise<string> {
    const target = await sessionTarget(this.podman, { id: containerId }, { sid, port }, this.settings.networking);
    if (!target) throw new SpawnError(this.settings.networking.mode === 'local' ? 'the container has no published port' : 'the container has no address on its network');
    return target;
  }

  /**
   * Polls the app's readiness path until it answers below 400. Fails early, with the container's last log
   * lines, if the container exits; fails at the start timeout; stops quietly when `signal` aborts.
   */
  async waitReady(request: SpawnRequest, containerId: string, target: string, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.settings.startTimeoutMs;
    let nextLivenessCheck = Date.now() + LIVENESS_CHECK_MS;
    for (let pause = POLL.firstMs; !signal.aborted; pause = Math.min(pause * POLL.factor, POLL.maxMs)) {
      const answered = await answersReadiness(request.type, request, target, signal);
      if (answered) return;
      const timedOut = Date.now() > deadline;
      if (timedOut || Date.now() >= nextLivenessCheck) {
        nextLivenessCheck = Date.now() + LIVENESS_CHECK_MS;
        const details = await this.podman.inspectContainer(containerId);
        if (!details.running) throw new SpawnError(`the container exited with code ${details.exitCode} before it was ready${await this.logTail(containerId)}`);
      }
      if (timedOut) throw new SpawnError(`the app did not answer within ${this.settings.startTimeoutMs / 1000} s${await this.logTail(containerId)}`);
      await sleep(pause);
    }
  }

  /** `; last log lines: …` for failure reasons, or nothing. */
  async logTail(containerId: string, lines = 10): Promise<string> {
    const logs = await this.podman.logs(containerId, { tail: lines }).catch(() => undefined);
    const text = logs ? `${logs.stdout}${logs.stderr}`.trim() : '';
    return text ? `; last log lines:\n${text.slice(-1500)}` : '';
  }

  /** Stops and removes the session's container and its own network if there are any; never its home volume. */
  async remove(typeName: string, sid: string): Promise<void> {
    const name = containerName(typeName, sid);
    await this.podman.stopContainer(name, 10).catch(() => undefined);
    await this.podman.removeContainer(name, { force: true });
    await closeSessionNetwork(this.podman, sid, this.settings.networking);
  }
}
