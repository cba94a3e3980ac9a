import type { SessionLimits } from '@visp/contracts';
import { expandLaunch, type SessionTypeConfig } from '@visp/config';
import { encodeSessionLabels, LABEL, type ContainerSpec, type PodmanClient } from '@visp/podman-client';
import { answersReadiness, behindGuard, containerName, homeVolumeName, sessionNetworkName, sessionTarget, templateValues, toResourceLimits, TOKEN_ENV } from '@visp/sessions';

export interface SpawnSettings {
  instance: string;
  /**
   * `local`: the app port published on 127.0.0.1, the container alone on an isolated network of its own;
   * `network`: join `network` only, reached by container name.
   */
  mode: 'local' | 'network';
  network: string;
  startTimeoutMs: number;
  /** Local mode: the session guard's binary on the host, put in front of every session's published port. */
  guardBinary?: string;
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
  ) {}

  /** The container spec: labels, limits, home volume, network or loopback port; security settings are implied. */
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
      ...(this.settings.mode === 'network'
        ? { network: { name: this.settings.network, aliases: [name] } }
        : { network: { name: sessionNetworkName(request.sid) }, publish: { containerPort: type.port } }),
    };
  }

  /** Checks what can be checked before anything is created. */
  async preflight(request: SpawnRequest): Promise<void> {
    if (!(await this.podman.imageExists(request.type.image))) {
      throw new SpawnError(`image ${request.type.image} is not available on this host`);
    }
  }

  /** Creates the home volume (owned by the app's user), the network if needed, and the container; starts it. */
  async createAndStart(request: SpawnRequest, onStep: (step: 'creating' | 'starting') => void): Promise<{ containerId: string; target: string }> {
    const [uid = '1000', gid = '1000'] = request.type.user.split(':');
    await this.podman.ensureVolume(homeVolumeName(request.owner), { instance: this.settings.instance, owner: { uid: Number(uid), gid: Number(gid) } });
    if (this.settings.mode === 'network') await this.podman.ensureNetwork(this.settings.network, { instance: this.settings.instance, internal: true });
    // Not internal: Podman publishes no port of an internal network's container.
    else await this.podman.ensureNetwork(sessionNetworkName(request.sid), { instance: this.settings.instance, internal: false, isolated: true, labels: { [LABEL.sessionId]: request.sid } });
    const spec = this.settings.mode === 'local' ? await this.guarded(request) : this.containerSpec(request);
    for (let attempt = 1; ; attempt++) {
      onStep('creating');
      const containerId = await this.podman.createContainer(spec);
      onStep('starting');
      try {
        await this.podman.startContainer(containerId);
        return { containerId, target: await this.targetOf(containerId, spec.name, request.type.port) };
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
  async targetOf(containerId: string, name: string, port: number): Promise<string> {
    const target = await sessionTarget(this.podman, { id: containerId, name }, port, this.settings);
    if (!target) throw new SpawnError('the container has no published port');
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
    if (this.settings.mode === 'local') await this.podman.removeNetwork(sessionNetworkName(sid));
  }
}
