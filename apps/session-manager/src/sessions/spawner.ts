import type { SessionLimits } from '@visp/contracts';
import type { SessionTypeConfig } from '@visp/config';
import { encodeSessionLabels, type ContainerSpec, type PodmanClient } from '@visp/podman-client';
import { containerName, expandTemplate, homeVolumeName, toResourceLimits, type TemplateValues } from './naming';

export interface SpawnSettings {
  instance: string;
  /** `local`: publish the app port on 127.0.0.1; `network`: join `network` only, reached by container name. */
  mode: 'local' | 'network';
  network: string;
  startTimeoutMs: number;
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

/** The environment variable every session container carries its token in, whatever the app: recovery reads it. */
export const TOKEN_ENV = 'VISP_SESSION_TOKEN';

/** Readiness polls start fast (a light app answers in tens of ms) and settle at a cheap pace. */
const POLL = { firstMs: 25, factor: 1.5, maxMs: 100 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates session containers and waits until their app answers. Knows Podman and HTTP, not the database. */
export class Spawner {
  constructor(
    private readonly podman: PodmanClient,
    private readonly settings: SpawnSettings,
  ) {}

  templateValues(request: Pick<SpawnRequest, 'sid' | 'owner' | 'token'>): TemplateValues {
    return { baseUrl: `/s/${request.sid}/`, token: request.token, user: request.owner };
  }

  /** The container spec: labels, limits, home volume, network or loopback port; security settings are implied. */
  containerSpec(request: SpawnRequest): ContainerSpec {
    const { type } = request;
    const values = this.templateValues(request);
    const env: Record<string, string> = { [TOKEN_ENV]: request.token, VISP_BASE_URL: values.baseUrl, VISP_USER: request.owner };
    for (const [name, template] of Object.entries(type.env)) env[name] = expandTemplate(template, values);
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
      cmd: type.command?.map((part) => expandTemplate(part, values)),
      env,
      workdir: type.homeDir,
      limits: toResourceLimits(request.limits),
      tmpfs: [{ target: '/tmp', sizeBytes: type.tmpfsMiB * 2 ** 20, mode: 0o1777 }],
      volumes: [{ name: homeVolumeName(request.owner), target: type.homeDir }],
      ...(this.settings.mode === 'network' ? { network: { name: this.settings.network, aliases: [name] } } : { publish: { containerPort: type.port } }),
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
    onStep('creating');
    const spec = this.containerSpec(request);
    const containerId = await this.podman.createContainer(spec);
    onStep('starting');
    await this.podman.startContainer(containerId);
    return { containerId, target: await this.targetOf(containerId, spec.name, request.type.port) };
  }

  /** Where the gateway (and the readiness probe) reaches the app. */
  async targetOf(containerId: string, name: string, port: number): Promise<string> {
    if (this.settings.mode === 'network') return `http://${name}:${port}`;
    const hostPort = (await this.podman.inspectContainer(containerId)).ports[`${port}/tcp`];
    if (!hostPort) throw new SpawnError('the container has no published port');
    return `http://127.0.0.1:${hostPort}`;
  }

  /**
   * Polls the app's readiness path until it answers below 400. Fails early, with the container's last log
   * lines, if the container exits; fails at the start timeout; stops quietly when `signal` aborts.
   */
  async waitReady(request: SpawnRequest, containerId: string, target: string, signal: AbortSignal): Promise<void> {
    const values = this.templateValues(request);
    const url = new URL(expandTemplate(request.type.readinessPath, values), target);
    const headers = Object.fromEntries(Object.entries(request.type.readinessHeaders).map(([k, v]) => [k, expandTemplate(v, values)]));
    const deadline = Date.now() + this.settings.startTimeoutMs;
    for (let pause = POLL.firstMs; !signal.aborted; pause = Math.min(pause * POLL.factor, POLL.maxMs)) {
      const answered = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]) }).then(
        (res) => (res.body?.cancel(), res.status < 400),
        () => false,
      );
      if (answered) return;
      const details = await this.podman.inspectContainer(containerId);
      if (!details.running) throw new SpawnError(`the container exited with code ${details.exitCode} before it was ready${await this.logTail(containerId)}`);
      if (Date.now() > deadline) throw new SpawnError(`the app did not answer within ${this.settings.startTimeoutMs / 1000} s${await this.logTail(containerId)}`);
      await sleep(pause);
    }
  }

  /** `; last log lines: …` for failure reasons, or nothing. */
  async logTail(containerId: string, lines = 10): Promise<string> {
    const logs = await this.podman.logs(containerId, { tail: lines }).catch(() => undefined);
    const text = logs ? `${logs.stdout}${logs.stderr}`.trim() : '';
    return text ? `; last log lines:\n${text.slice(-1500)}` : '';
  }

  /** Stops and removes the session's container if there is one; never its home volume. */
  async remove(typeName: string, sid: string): Promise<void> {
    const name = containerName(typeName, sid);
    await this.podman.stopContainer(name, 10).catch(() => undefined);
    await this.podman.removeContainer(name, { force: true });
  }
}
