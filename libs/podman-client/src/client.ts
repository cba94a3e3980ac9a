import { PassThrough, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { LABEL } from '@visp/contracts';
import { z } from 'zod';
import { ConflictError, NotFoundError, PodmanError, toPodmanError } from './errors';
import { managedLabels } from './labels';
import type { PodmanEndpoint } from './socket';
import { needsLibpod, toCreateOptions, toLibpodSpec, type ContainerSpec } from './spec';
import { demuxBuffer, demuxStream } from './streams';

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  state: string;
  labels: Record<string, string>;
  createdAt: Date;
}

export interface ContainerDetails extends ContainerSummary {
  running: boolean;
  exitCode: number | null;
  startedAt?: Date;
  user: string;
  env: Record<string, string>;
  /** Host port per `port/tcp`, when published. */
  ports: Record<string, number>;
  /** Address per attached network. */
  networks: Record<string, string>;
  hostConfig: Docker.HostConfig;
}

/** What an image runs when a container names nothing else: its ENTRYPOINT, then its CMD (either may be empty). */
export interface ImageCommand {
  entrypoint: string[];
  cmd: string[];
}

// Podman answers `null` for an image without either; Docker-format images may also hold a single string.
const commandPart = z.union([z.array(z.string()), z.string().transform((s) => [s]), z.null(), z.undefined()]).transform((v) => v ?? []);
const ImageCommandSchema = z.object({ Config: z.object({ Entrypoint: commandPart, Cmd: commandPart }).optional() });
/** libpod's answer to a create. */
const LibpodCreatedSchema = z.object({ Id: z.string().min(1) });

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface PodmanEvent {
  type: string;
  action: string;
  id: string;
  attributes: Record<string, string>;
  time: Date;
}

/** Label selector: a value, or `true` for "label present". */
export type LabelFilter = Record<string, string | true>;

const labelFilters = (labels: LabelFilter) => Object.entries(labels).map(([k, v]) => (v === true ? k : `${k}=${v}`));

function parseEnv(env: string[] | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of env ?? []) {
    const at = entry.indexOf('=');
    if (at > 0) result[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return result;
}

/**
 * The container operations the services need, over Podman's Docker-compatible API. Every failure is one of
 * the typed errors in errors.ts; Podman's quirks (docs/architecture.md, Facts the code relies on) are absorbed
 * here and nowhere else.
 */
export class PodmanClient {
  readonly docker: Docker;

  constructor(endpoint: PodmanEndpoint) {
    this.docker = new Docker(endpoint);
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toPodmanError(err, operation);
    }
  }

  /** For removals: something already gone is what the caller wanted. */
  private async ignoringNotFound(operation: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await this.call(operation, fn);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.docker.ping());
  }

  async version(): Promise<{ version: string; apiVersion: string }> {
    const v = await this.call('version', () => this.docker.version());
    return { version: v.Version, apiVersion: v.ApiVersion };
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.call(`inspect image ${image}`, () => this.docker.getImage(image).inspect());
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** The image's own ENTRYPOINT and CMD, for a launcher (the session guard) that starts them itself. */
  async imageCommand(image: string): Promise<ImageCommand> {
    const info = ImageCommandSchema.parse(await this.call(`inspect image ${image}`, () => this.docker.getImage(image).inspect()));
    return { entrypoint: info.Config?.Entrypoint ?? [], cmd: info.Config?.Cmd ?? [] };
  }

  /** Creates (does not start) a container with the non-negotiable security settings; returns its id. */
  async createContainer(spec: ContainerSpec): Promise<string> {
    if (needsLibpod(spec)) return this.createThroughLibpod(spec);
    const options = toCreateOptions(spec);
    const container = await this.call(`create ${spec.name}`, () => this.docker.createContainer(options));
    return container.id;
  }

  /**
   * A container with a writable host directory, through libpod's create: Podman's compatible create would make a
   * missing one (spec.ts `writableBinds`). A missing source is then Podman's `statfs <source>: no such file or
   * directory`, and nothing is created.
   */
  private async createThroughLibpod(spec: ContainerSpec): Promise<string> {
    const body = toLibpodSpec(spec);
    const created = await this.call(`create ${spec.name}`, () =>
      new Promise((resolve, reject) =>
        this.docker.modem.dial({ path: '/v4.0.0/libpod/containers/create', method: 'POST', options: body, statusCodes: { 201: true, 400: 'bad parameter', 404: 'not found', 409: 'conflict', 500: 'server error' } }, (err, data) => (err ? reject(err) : resolve(data))),
      ),
    );
    return LibpodCreatedSchema.parse(created).Id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call(`start ${id}`, async () => {
      try {
        await this.docker.getContainer(id).start();
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 304) throw err; // already running
      }
    });
  }

  /** Stops gracefully within `timeoutSeconds`, then kills. Stopping a stopped container is not an error. */
  async stopContainer(id: string, timeoutSeconds = 10): Promise<void> {
    await this.call(`stop ${id}`, async () => {
      try {
        await this.docker.getContainer(id).stop({ t: timeoutSeconds });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 304) throw err;
      }
    });
  }

  /** Removes a container (never its named volumes). Removing one that is already gone is not an error. */
  async removeContainer(id: string, options: { force?: boolean } = {}): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ignoringNotFound(`remove ${id}`, () => this.docker.getContainer(id).remove({ force: options.force ?? false, v: false }));
      } catch (err) {
        // Podman 4.3 fails a forced remove of a container that exits at that very moment ("container state
        // improper: stopped", 500); a moment later it is plainly stopped and goes.
        if (!options.force || attempt === 5 || !(err instanceof PodmanError) || !/state improper/.test(err.message)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  async inspectContainer(id: string): Promise<ContainerDetails> {
    const info = await this.call(`inspect ${id}`, () => this.docker.getContainer(id).inspect());
    const ports: Record<string, number> = {};
    for (const [port, bindings] of Object.entries(info.NetworkSettings.Ports ?? {})) {
      const hostPort = bindings?.[0]?.HostPort;
      if (hostPort) ports[port] = Number(hostPort);
    }
    const networks: Record<string, string> = {};
    for (const [name, net] of Object.entries(info.NetworkSettings.Networks ?? {})) networks[name] = net.IPAddress;
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      image: info.Config.Image,
      state: info.State.Status,
      running: info.State.Running,
      exitCode: info.State.Running ? null : info.State.ExitCode,
      startedAt: info.State.StartedAt ? new Date(info.State.StartedAt) : undefined,
      labels: info.Config.Labels ?? {},
      createdAt: new Date(info.Created),
      user: info.Config.User,
      env: parseEnv(info.Config.Env),
      ports,
      networks,
      hostConfig: info.HostConfig,
    };
  }

  /** Containers carrying every given label, running or not. */
  async listContainers(labels: LabelFilter): Promise<ContainerSummary[]> {
    const list = await this.call('list containers', () => this.docker.listContainers({ all: true, filters: { label: labelFilters(labels) } }));
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      image: c.Image,
      state: c.State,
      labels: c.Labels ?? {},
      createdAt: new Date(c.Created * 1000),
    }));
  }

  /** The last log lines so far (no follow). */
  async logs(id: string, options: { tail?: number } = {}): Promise<{ stdout: string; stderr: string }> {
    const raw = await this.call(`logs ${id}`, () =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false, tail: options.tail ?? 100 }),
    );
    return demuxBuffer(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
  }

  /**
   * Follows the logs (stdout and stderr together). Returns at once: Podman sends no response headers until
   * the container prints its first line, so awaiting the request could hang. Abort with `signal`.
   */
  followLogs(id: string, options: { signal?: AbortSignal; tail?: number } = {}): Readable {
    const output = new PassThrough();
    this.call(`follow logs ${id}`, () =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: true, tail: options.tail ?? 0, abortSignal: options.signal }),
    ).then(
      (response) => {
        const stream = response as unknown as Readable; // typed as a web stream; at run time a Node stream
        demuxStream(stream, output, output);
        stream.once('end', () => output.end());
        stream.once('error', () => output.end());
        output.once('close', () => stream.destroy());
      },
      (err: Error) => (options.signal?.aborted ? output.end() : output.destroy(err)),
    );
    options.signal?.addEventListener('abort', () => output.end(), { once: true });
    return output;
  }

  /** Runs a command in a running container and waits for it; non-zero exits are results, not errors. */
  async exec(id: string, cmd: string[], options: { user?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecResult> {
    const exec = await this.call(`exec in ${id}`, () =>
      this.docker.getContainer(id).exec({
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        User: options.user,
        Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
      }),
    );
    const stream = await this.call(`exec start in ${id}`, () => exec.start({ hijack: true, stdin: false }));
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const collect = (into: Buffer[]) => new PassThrough().on('data', (d: Buffer) => into.push(d));
    demuxStream(stream, collect(stdout), collect(stderr));
    await new Promise<void>((resolve, reject) => {
      const timer = options.timeoutMs ? setTimeout(() => (stream.destroy(), reject(new Error(`exec in ${id}: no exit within ${options.timeoutMs} ms`))), options.timeoutMs) : undefined;
      const done = () => (clearTimeout(timer), resolve());
      stream.once('end', done);
      stream.once('close', done);
      stream.once('error', (err) => (clearTimeout(timer), reject(toPodmanError(err, `exec in ${id}`))));
    });
    // The exit code can lag the end of the stream by a moment.
    for (let attempt = 0; ; attempt++) {
      const info = await this.call(`exec inspect in ${id}`, () => exec.inspect());
      if (!info.Running && info.ExitCode !== null) {
        return { exitCode: info.ExitCode, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
      }
      if (attempt > 50) throw new Error(`exec in ${id}: still running after its output ended`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Container events (create, start, die, remove…) for containers with these labels, until `signal` aborts.
   * `onConnected` once Podman has answered: every event from then on comes.
   */
  async *events(options: { labels?: LabelFilter; signal?: AbortSignal; onConnected?: () => void } = {}): AsyncGenerator<PodmanEvent> {
    const filters = { type: ['container' as const], ...(options.labels ? { label: labelFilters(options.labels) } : {}) };
    const stream = (await this.call('events', () => this.docker.getEvents({ filters, abortSignal: options.signal }))) as Readable;
    options.onConnected?.();
    let buffered = '';
    try {
      for await (const chunk of stream) {
        buffered += String(chunk);
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          const e = JSON.parse(line) as { Type: string; Action: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; time?: number; timeNano?: number };
          yield { type: e.Type, action: e.Action, id: e.Actor?.ID ?? '', attributes: e.Actor?.Attributes ?? {}, time: new Date(e.timeNano ? e.timeNano / 1e6 : (e.time ?? 0) * 1000) };
        }
      }
    } catch (err) {
      if (!options.signal?.aborted) throw toPodmanError(err, 'events');
    }
  }

  /** Creates the network unless it exists; `internal` networks have no route out. */
  async ensureNetwork(name: string, options: { instance: string; internal: boolean; labels?: Record<string, string> }): Promise<void> {
    try {
      await this.call(`create network ${name}`, () =>
        this.docker.createNetwork({ Name: name, Internal: options.internal, Labels: managedLabels(options.instance, options.labels), CheckDuplicate: true }),
      );
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }

  /**
   * Creates a session's own network unless it exists: internal (no route anywhere), isolated (netavark's `isolate`:
   * no traffic with other isolated networks) and without DNS, through libpod (the compat API cannot turn DNS off):
   * the services that join it would otherwise ask its DNS server too, which answers their own names with their
   * addresses on this network, where they do not listen (measured: the gateway's calls to `visp-session-manager`
   * went to its session-network address).
   */
  async ensureSessionNetwork(name: string, options: { instance: string; labels?: Record<string, string> }): Promise<void> {
    const body = { name, driver: 'bridge', internal: true, dns_enabled: false, options: { isolate: 'true' }, labels: managedLabels(options.instance, options.labels) };
    try {
      await this.call(`create network ${name}`, () =>
        new Promise((resolve, reject) =>
          this.docker.modem.dial({ path: '/v4.0.0/libpod/networks/create', method: 'POST', options: body, statusCodes: { 200: true, 201: true, 404: 'not found', 409: 'conflict', 500: 'server error' } }, (err, data) => (err ? reject(err) : resolve(data))),
        ),
      );
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }

  /**
   * Removes a network by name (Podman wants names). Containers still on it are disconnected first (never removed:
   * Podman's forced removal would remove them, the services joined to a session's network among them).
   */
  async removeNetwork(name: string): Promise<void> {
    for (const member of await this.networkMembers(name).catch((err: unknown) => (err instanceof NotFoundError ? [] : Promise.reject(err)))) {
      await this.disconnectNetwork(name, member);
    }
    await this.ignoringNotFound(`remove network ${name}`, () => this.docker.getNetwork(name).remove());
  }

  /** Puts a running or stopped container on a network; one that is on it already stays as it is. */
  async connectNetwork(network: string, container: string): Promise<void> {
    try {
      await this.call(`connect ${container} to network ${network}`, () => this.docker.getNetwork(network).connect({ Container: container }));
    } catch (err) {
      if (!(err instanceof PodmanError && /already connected/.test(err.message))) throw err;
    }
  }

  /** Takes a container off a network; one that is not on it, or gone, is fine. */
  async disconnectNetwork(network: string, container: string): Promise<void> {
    try {
      await this.call(`disconnect ${container} from network ${network}`, () => this.docker.getNetwork(network).disconnect({ Container: container }));
    } catch (err) {
      if (!(err instanceof NotFoundError || (err instanceof PodmanError && /is not connected/.test(err.message)))) throw err;
    }
  }

  /** The names of the containers on a network, running or not. */
  async networkMembers(network: string): Promise<string[]> {
    const details = (await this.call(`inspect network ${network}`, () => this.docker.getNetwork(network).inspect())) as { Containers?: Record<string, { Name?: string }> | null };
    return Object.values(details.Containers ?? {}).flatMap((c) => (c.Name ? [c.Name] : []));
  }

  /**
   * Creates the named volume unless it exists. `owner` makes its root directory belong to the container user
   * (Podman's local driver takes `uid`/`gid` in `o`); otherwise it is root's and a non-root app cannot write.
   */
  async ensureVolume(name: string, options: { instance: string; labels?: Record<string, string>; owner?: { uid: number; gid: number } }): Promise<void> {
    try {
      await this.call(`inspect volume ${name}`, () => this.docker.getVolume(name).inspect());
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      try {
        await this.call(`create volume ${name}`, () => this.docker.createVolume({
            Name: name,
            Labels: managedLabels(options.instance, options.labels),
            DriverOpts: options.owner ? { o: `uid=${options.owner.uid},gid=${options.owner.gid}` } : {},
          }));
      } catch (createErr) {
        if (!(createErr instanceof ConflictError)) throw createErr;
      }
    }
  }

  async removeVolume(name: string): Promise<void> {
    await this.ignoringNotFound(`remove volume ${name}`, () => this.docker.getVolume(name).remove());
  }

  /** Managed containers of one instance: the only ones this deployment may touch. */
  listManaged(instance: string, extra: LabelFilter = {}): Promise<ContainerSummary[]> {
    return this.listContainers({ [LABEL.managed]: 'true', [LABEL.instance]: instance, ...extra });
  }

  /** Managed networks of one instance, with their labels. */
  async listManagedNetworks(instance: string, extra: LabelFilter = {}): Promise<Array<{ name: string; labels: Record<string, string> }>> {
    const label = labelFilters({ [LABEL.managed]: 'true', [LABEL.instance]: instance, ...extra });
    const networks = await this.call('list networks', () => this.docker.listNetworks({ filters: { label } }));
    return networks.map((n) => ({ name: n.Name, labels: n.Labels ?? {} }));
  }
}
