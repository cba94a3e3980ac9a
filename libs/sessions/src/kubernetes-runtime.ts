import { expandLaunch, type Logger } from '@visp/config';
import { LABEL, SessionIdSchema, SessionLimitsSchema, type SessionLimits } from '@visp/contracts';
import { parseJson } from '@visp/bus';
import { KubeError, type KubeClient } from '@visp/kube-client';
import { encodeSessionLabels, homeVolumeName } from '@visp/podman-client';
import { z } from 'zod';
import { containerName } from './naming';
import { followAlways, templateValues, TOKEN_ENV } from './runtime';
import { SpawnError, type FollowHandlers, type OnStep, type SessionPlumbing, type SessionRuntime, type SpawnRequest, type StartedWorkload, type Workload, type WorkloadDetails } from './session-runtime';

export interface KubernetesRuntimeSettings {
  instance: string;
  /** The sessions' namespace: nothing else of the product's lives there. */
  namespace: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** Each user's home claim: its size, and its storage class (the cluster's default when absent). */
  homeSize: string;
  homeStorageClass?: string;
  /** The services' namespace: its gateway, session-manager and recovery pods are the only ones a session lets in. */
  servicesNamespace: string;
}

// The pod's fields this runtime reads; the rest of what the API server sends is not looked at.
const ContainerStateSchema = z.object({
  waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).optional(),
  terminated: z.object({ exitCode: z.number(), reason: z.string().optional(), message: z.string().optional() }).optional(),
});
const PodSchema = z.object({
  metadata: z.object({ name: z.string(), labels: z.record(z.string(), z.string()).optional(), annotations: z.record(z.string(), z.string()).optional(), deletionTimestamp: z.string().optional() }),
  spec: z.object({ nodeName: z.string().optional(), containers: z.array(z.object({ env: z.array(z.object({ name: z.string(), value: z.string().optional() })).optional(), resources: z.object({ limits: z.record(z.string(), z.string()).optional() }).optional() })) }),
  status: z
    .object({
      phase: z.string().optional(),
      podIP: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      conditions: z.array(z.object({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() })).optional(),
      containerStatuses: z.array(z.object({ state: ContainerStateSchema.optional() })).optional(),
    })
    .optional(),
});
type Pod = z.infer<typeof PodSchema>;
const PodListSchema = z.object({ items: z.array(PodSchema) });
const NamedListSchema = z.object({ items: z.array(z.object({ metadata: z.object({ name: z.string(), labels: z.record(z.string(), z.string()).optional() }) })) });
const SecretSchema = z.object({ data: z.record(z.string(), z.string()).optional() });
/** A pod's phases after which it never runs again. */
const FINAL_PHASES = new Set(['Succeeded', 'Failed']);
/** A list's, or a watched object's (a bookmark's too), resourceVersion. */
const VersionSchema = z.object({ metadata: z.object({ resourceVersion: z.string() }) });

/**
 * Waiting reasons after which a pod never runs without someone changing something: a start fails at once with
 * Kubernetes' words rather than at the timeout (KubeSpawner waits the whole start_timeout on them). Not the
 * reasons a retry may clear (ErrImagePull, which becomes ImagePullBackOff once it has failed for good;
 * CreateContainerError).
 */
const HOPELESS = new Set(['ErrImageNeverPull', 'InvalidImageName', 'ImageInspectError', 'ImagePullBackOff', 'CreateContainerConfigError']);

/** The session labels a pod carries as labels: those a label value can hold, and that lists select by. */
const SELECTABLE: readonly string[] = [LABEL.managed, LABEL.instance, LABEL.schema, LABEL.sessionId, LABEL.sessionType];

/** How long a session's app has to exit after SIGTERM, as on Podman (stop timeout). */
const STOP_GRACE_SECONDS = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const selector = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
/** Where the services reach a pod's app: its IP (bracketed when IPv6) and the app's port. */
const podTarget = (ip: string, port: number) => `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
/**
 * A session's Secret and NetworkPolicy share one name: whatever recovery finds left of a session, it removes both.
 * The Secret is made before the policy and removed after it, so a policy never outlives its Secret.
 */
const ownName = (sid: string) => `visp-session-${sid}`;
/** The services that reach a session's app: the gateway (the proxy), the session-manager and recovery (their readiness probes). */
const SERVICES = ['visp-gateway', 'visp-session-manager', 'visp-recovery'];
const NETWORKING = 'networking.k8s.io/v1';

/**
 * Sessions as Kubernetes pods in a namespace of their own: one pod per session (restartPolicy Never), non-root,
 * every capability dropped, no privilege escalation, a read-only root filesystem, requests equal to limits; its
 * token in a Secret; the owner's home on a PersistentVolumeClaim that outlives the session. Labels carry what lists
 * select by; owner, project and creation time, which a label value cannot always hold, ride in annotations with
 * every other session label.
 * Isolation is two layers of NetworkPolicy: the namespace's own (deploy/kubernetes/namespaces.yaml) denies everything
 * in and out of every pod, before the first session and after the last; each session's own lets the services in,
 * to its pod and its app's port only. Its policy is made before its pod and removed after it is gone, so a missing
 * policy leaves a pod closed, never open.
 */
export class KubernetesRuntime implements SessionRuntime {
  readonly name = 'kubernetes';
  readonly plumbing: SessionPlumbing;

  constructor(
    private readonly kube: KubeClient,
    private readonly settings: KubernetesRuntimeSettings,
    private readonly logger: Logger,
  ) {
    this.plumbing = {
      joiners: [],
      // A session's Secret that outlived its pod (a session-manager killed between the two).
      list: async (instance) => {
        const secrets = await this.kube.get(this.path('secrets'), NamedListSchema, { labelSelector: selector({ [LABEL.managed]: 'true', [LABEL.instance]: instance }) });
        return secrets.items.flatMap((item) => {
          const sid = item.metadata.labels?.[LABEL.sessionId] ?? '';
          return SessionIdSchema.safeParse(sid).success ? [{ name: item.metadata.name, sid, members: [] }] : [];
        });
      },
      remove: async (name) => {
        await this.kube.delete(this.path('networkpolicies', NETWORKING, name));
        await this.kube.delete(this.path('secrets', 'v1', name));
      },
      join: () => Promise.reject(new SpawnError('sessions on Kubernetes have nothing to join')),
    };
  }

  private path(kind: string, group = 'v1', name?: string): string {
    const base = group === 'v1' ? '/api/v1' : `/apis/${group}`;
    return `${base}/namespaces/${this.settings.namespace}/${kind}${name === undefined ? '' : `/${name}`}`;
  }

  async ping(): Promise<void> {
    await this.kube.get('/version', z.object({ gitVersion: z.string() }));
  }

  /** Nothing to check before: which images a node has is the node's to say (ErrImageNeverPull fails the start at once). */
  async preflight(): Promise<void> {}

  async start(request: SpawnRequest, onStep: OnStep, limits: { signal: AbortSignal; deadline: number }): Promise<StartedWorkload> {
    onStep('creating', 'creating the pod');
    await this.ensureHome(request);
    await this.kube.create(this.path('secrets'), { metadata: { name: ownName(request.sid), labels: this.owned(request.sid) }, type: 'Opaque', stringData: { token: request.token } }, z.unknown());
    await this.kube.create(this.path('networkpolicies', NETWORKING), this.policySpec(request), z.unknown());
    const pod = await this.kube.create(this.path('pods'), this.podSpec(request), PodSchema);
    return { id: pod.metadata.name, target: await this.untilRunning(pod.metadata.name, request, onStep, limits) };
  }

  /** The owner's home claim; one that exists stays as it is. */
  private async ensureHome(request: SpawnRequest): Promise<void> {
    const claim = {
      metadata: { name: homeVolumeName(request.owner), labels: { [LABEL.managed]: 'true', [LABEL.instance]: this.settings.instance }, annotations: { [LABEL.owner]: request.owner } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: this.settings.homeSize } }, ...(this.settings.homeStorageClass ? { storageClassName: this.settings.homeStorageClass } : {}) },
    };
    await this.kube.create(this.path('persistentvolumeclaims'), claim, z.unknown()).catch((err: unknown) => {
      if (!(err instanceof KubeError && err.reason === 'AlreadyExists')) throw err;
    });
  }

  /** The labels of what a session owns, and what selects its pod. */
  private owned(sid: string): Record<string, string> {
    return { [LABEL.managed]: 'true', [LABEL.instance]: this.settings.instance, [LABEL.sessionId]: sid };
  }

  /** The session's own way in: from the services' pods, to this session's pod and its app's port; nothing else. */
  policySpec(request: SpawnRequest): object {
    return {
      metadata: { name: ownName(request.sid), labels: this.owned(request.sid) },
      spec: {
        podSelector: { matchLabels: this.owned(request.sid) },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': this.settings.servicesNamespace } }, podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: SERVICES }] } }],
            ports: [{ protocol: 'TCP', port: request.type.port }],
          },
        ],
      },
    };
  }

  /** The pod: the same command, environment, limits and home as the Podman runtime's container. */
  podSpec(request: SpawnRequest): object {
    const { type } = request;
    const values = templateValues(request);
    const launch = expandLaunch(type, values);
    const [uid = 1000, gid = 1000] = type.user.split(':').map(Number);
    const labels = encodeSessionLabels({ instance: this.settings.instance, id: request.sid, type: request.typeName, owner: request.owner, project: request.project, created: request.createdAt.toISOString(), warm: request.warm });
    // The token never in the pod spec in clear: VISP_SESSION_TOKEN reads the Secret, and wherever the type's command
    // or variables carry it (JUPYTER_TOKEN, a `--token=…` argument) Kubernetes puts it in from there: $(VAR) in a
    // container's args and in a later variable's value is expanded when the container starts.
    const hidden = (text: string) => text.split(request.token).join(`$(${TOKEN_ENV})`);
    const env = Object.entries({ VISP_BASE_URL: values.baseUrl, VISP_USER: request.owner, ...launch.env }).map(([name, value]) => ({ name, value: hidden(value) }));
    const args = launch.command?.map(hidden);
    const resources = { memory: `${request.limits.memoryMiB}Mi`, cpu: String(request.limits.cpus) };
    return {
      metadata: {
        name: containerName(request.typeName, request.sid),
        labels: Object.fromEntries(Object.entries(labels).filter(([key]) => SELECTABLE.includes(key))),
        annotations: { ...labels, [LABEL.limits]: JSON.stringify(request.limits) },
      },
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        // fsGroup makes the home claim the user's; OnRootMismatch spares a chown of the whole home at every start.
        securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, fsGroup: gid, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'app',
            image: type.image,
            imagePullPolicy: this.settings.imagePullPolicy,
            ...(args ? { args } : {}),
            workingDir: type.homeDir,
            env: [{ name: TOKEN_ENV, valueFrom: { secretKeyRef: { name: ownName(request.sid), key: 'token' } } }, ...env],
            ports: [{ name: 'app', containerPort: type.port }],
            resources: { requests: resources, limits: resources },
            securityContext: { allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: !type.writableRoot, capabilities: { drop: ['ALL'] } },
            volumeMounts: [
              { name: 'home', mountPath: type.homeDir },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          },
        ],
        volumes: [
          { name: 'home', persistentVolumeClaim: { claimName: homeVolumeName(request.owner) } },
          { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: `${type.tmpfsMiB}Mi` } },
        ],
      },
    };
  }

  /**
   * Waits until the pod's container runs, telling the steps on the way: scheduled (a node took it; not which),
   * pulling (only when the kubelet pulls the image), starting. A reason it can never run (its image cannot be had,
   * the kubelet refused it) fails at once, in Kubernetes' words; still waiting at the deadline fails with the
   * scheduler's or the kubelet's. A stop (the signal) ends the wait at once.
   */
  private async untilRunning(name: string, request: SpawnRequest, onStep: OnStep, { signal, deadline }: { signal: AbortSignal; deadline: number }): Promise<string> {
    let told: 'created' | 'scheduled' | 'pulling' = 'created';
    let nextPullCheck = 0;
    for (;;) {
      if (signal.aborted) throw new SpawnError('the session was stopped while its pod started');
      const pod = await this.kube.get(this.path('pods', 'v1', name), PodSchema);
      const { state, failure, waiting } = podStatus(pod);
      if (failure) throw new SpawnError(failure);
      if (state === 'exited') throw new SpawnError(`the pod ended before it started${pod.status?.reason ? `: ${pod.status.reason}: ${pod.status.message ?? ''}` : ''}`);
      if (told === 'created' && pod.spec.nodeName) {
        told = 'scheduled';
        onStep('scheduled', 'scheduled on a node');
      }
      // The pod's status does not say that its image is being pulled; the kubelet's event does. Asked at most once a second.
      if (told === 'scheduled' && state === 'pending' && Date.now() >= nextPullCheck) {
        nextPullCheck = Date.now() + 1000;
        const pulling = await this.pulling(name);
        // Events that cannot be read now will not be readable a second later: asked no more for this start.
        if (pulling === undefined) nextPullCheck = Infinity;
        if (pulling) {
          told = 'pulling';
          onStep('pulling', `pulling ${request.type.image}`);
        }
      }
      const ip = pod.status?.podIP;
      if (state === 'running' && ip) {
        onStep('starting', 'the container started');
        return podTarget(ip, request.type.port);
      }
      if (Date.now() > deadline) throw new SpawnError(`the pod did not start in time${waiting ? `: ${waiting}` : ''}`);
      await sleep(250);
    }
  }

  /**
   * Whether the kubelet has begun pulling the pod's image (its `Pulling` event); undefined when events cannot be
   * read (a Role without `events: list`). Only a step for the user: that fails no start, and is said in the log.
   */
  private async pulling(name: string): Promise<boolean | undefined> {
    const events = await this.kube.get(this.path('events'), z.object({ items: z.array(z.unknown()) }), { fieldSelector: `involvedObject.name=${name},reason=Pulling` }).catch((err: unknown) => {
      this.logger.warn({ err, pod: name }, "the pod's events cannot be read: no pulling step");
      return undefined;
    });
    return events && events.items.length > 0;
  }

  async inspect(id: string, port: number, options: { token?: boolean } = {}): Promise<WorkloadDetails | undefined> {
    const pod = await this.kube.get(this.path('pods', 'v1', id), PodSchema).catch((err: unknown) => (err instanceof KubeError && err.status === 404 ? undefined : Promise.reject(err)));
    if (!pod) return undefined;
    const status = podStatus(pod);
    const { state, failure, exitCode } = status;
    const ip = pod.status?.podIP;
    return {
      ...workloadOf(pod, status),
      running: state === 'running',
      exitCode,
      failure,
      token: options.token ? await this.tokenOf(pod.metadata.labels?.[LABEL.sessionId]) : undefined,
      limits: limitsOf(pod),
      target: ip ? podTarget(ip, port) : undefined,
    };
  }

  private async tokenOf(sid: string | undefined): Promise<string | undefined> {
    if (!sid) return undefined;
    const secret = await this.kube.get(this.path('secrets', 'v1', ownName(sid)), SecretSchema).catch((err: unknown) => (err instanceof KubeError && err.status === 404 ? undefined : Promise.reject(err)));
    const encoded = secret?.data?.token;
    return encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;
  }

  async list(filter: { instance?: string; sid?: string } = {}): Promise<Workload[]> {
    const labels: Record<string, string> = { [LABEL.managed]: 'true' };
    if (filter.instance !== undefined) labels[LABEL.instance] = filter.instance;
    if (filter.sid !== undefined) labels[LABEL.sessionId] = filter.sid;
    const pods = await this.kube.get(this.path('pods'), PodListSchema, { labelSelector: selector(labels) });
    return pods.items.map((pod) => workloadOf(pod, podStatus(pod)));
  }

  /**
   * A watch of the instance's pods: one whose phase is over, or that is deleted. A pod that is only terminating is
   * not told: it has its grace period to shut down in, and its end comes as DELETED. Resumed from the last
   * resourceVersion seen (the server's bookmarks keep it fresh); started anew from a list when there is none or it
   * is too old (410 Gone).
   */
  follow(instance: string, on: FollowHandlers, signal: AbortSignal): Promise<void> {
    const labelSelector = selector({ [LABEL.managed]: 'true', [LABEL.instance]: instance });
    let resourceVersion: string | undefined;
    return followAlways(
      async () => {
        resourceVersion ??= (await this.kube.get(this.path('pods'), VersionSchema, { labelSelector, limit: 1 })).metadata.resourceVersion;
        const watching = this.kube.watch(
          this.path('pods'),
          { labelSelector, resourceVersion, timeoutSeconds: 300 },
          (event) => {
            resourceVersion = VersionSchema.safeParse(event.object).data?.metadata.resourceVersion ?? resourceVersion;
            const pod = PodSchema.safeParse(event.object);
            const sid = pod.data?.metadata.labels?.[LABEL.sessionId];
            if (pod.success && sid && (event.type === 'DELETED' || FINAL_PHASES.has(pod.data.status?.phase ?? ''))) on.ended(sid, endedBecause(pod.data));
          },
          signal,
          () => on.watching(),
        );
        return watching.then(
          () => true,
          (err: unknown) => {
            // Too old to resume from: start again from a list (`watching` then asks for a pass).
            if (!(err instanceof KubeError && err.status === 410)) throw err;
            resourceVersion = undefined;
            return true;
          },
        );
      },
      signal,
      this.logger,
    );
  }

  async logTail(id: string, lines: number): Promise<string> {
    return (await this.kube.text(this.path('pods', 'v1', `${id}/log`), { tailLines: lines }).catch(() => '')).trim();
  }

  /** Deletes the pod and waits until it is gone, as Podman's removal does: a stopped session has nothing left running. */
  async remove(session: { typeName: string; sid: string }): Promise<void> {
    const pod = this.path('pods', 'v1', containerName(session.typeName, session.sid));
    await this.kube.delete(pod, { gracePeriodSeconds: STOP_GRACE_SECONDS });
    const deadline = Date.now() + (STOP_GRACE_SECONDS + 20) * 1000;
    while (await this.kube.get(pod, z.unknown()).then(() => true, (err: unknown) => (err instanceof KubeError && err.status === 404 ? false : Promise.reject(err)))) {
      if (Date.now() > deadline) throw new SpawnError(`pod ${containerName(session.typeName, session.sid)} was still there ${STOP_GRACE_SECONDS + 20} s after it was deleted`);
      await sleep(250);
    }
    await this.plumbing.remove(ownName(session.sid));
  }

  /**
   * At once, but a pod already terminating keeps the grace period whoever deleted it gave (an eviction, a drain, an
   * operator): its app may be saving. Its Secret and policy go now; without the policy it is closed, not open.
   */
  async removeRemains(session: { sid: string; workloadId?: string }): Promise<void> {
    if (session.workloadId !== undefined) {
      const pod = this.path('pods', 'v1', session.workloadId);
      const terminating = await this.kube.get(pod, PodSchema).then((found) => found.metadata.deletionTimestamp !== undefined, () => false);
      if (!terminating) await this.kube.delete(pod, { gracePeriodSeconds: 0 });
    }
    await this.plumbing.remove(ownName(session.sid));
  }
}

/** A pod as a workload. Annotations first: the labels are a copy of some of them, and what lists select by must win. */
const workloadOf = (pod: Pod, { state, ended }: { state: string; ended?: string }): Workload => ({
  id: pod.metadata.name,
  name: pod.metadata.name,
  state,
  labels: { ...pod.metadata.annotations, ...pod.metadata.labels },
  ...(ended ? { ended } : {}),
});

/**
 * A pod as the runtime reads it: `running`, `pending` (not yet), or over (`exited`); why it cannot run if it cannot;
 * why it is over, in Kubernetes' words, when it says: a disruption (an eviction, a node's taint, preemption), the
 * kubelet's own eviction (`Evicted`), or how its container ended when that was not a plain exit (`OOMKilled`).
 */
function podStatus(pod: Pod): { state: string; failure?: string; waiting?: string; ended?: string; exitCode: number | null } {
  const container = pod.status?.containerStatuses?.[0]?.state;
  const waitingReason = container?.waiting?.reason;
  const terminated = container?.terminated;
  const conditions = pod.status?.conditions ?? [];
  const unscheduled = conditions.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  const waiting = waitingReason ? `${waitingReason}${container?.waiting?.message ? `: ${container.waiting.message}` : ''}` : unscheduled ? `${unscheduled.reason ?? 'not scheduled'}: ${unscheduled.message ?? ''}` : undefined;
  const failure = waitingReason && HOPELESS.has(waitingReason) ? waiting : undefined;
  const exitCode = terminated?.exitCode ?? null;
  if (pod.metadata.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return { state: 'exited', exitCode, failure, waiting, ended: endedBecause(pod) };
  if (pod.status?.phase === 'Running' && !terminated) return { state: 'running', exitCode, failure, waiting };
  return { state: 'pending', exitCode, failure, waiting };
}

/** Why a pod that is over ended, when Kubernetes says more than that its container exited. */
function endedBecause(pod: Pod): string | undefined {
  const said = (reason?: string, message?: string) => (reason ? `${reason}${message ? `: ${message}` : ''}` : undefined);
  const disrupted = pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  const containerEnded = terminated?.reason === 'OOMKilled' ? `OOMKilled, exit code ${terminated.exitCode}` : undefined;
  return said(disrupted?.reason, disrupted?.message) ?? said(pod.status?.reason, pod.status?.message) ?? containerEnded;
}

/**
 * Limits back from a pod, for a record rebuilt from its labels: as the session-manager asked for them (the
 * annotation), else its container's memory and CPU with the smallest pids a session may have.
 */
function limitsOf(pod: Pod): SessionLimits {
  const annotated = parseJson(SessionLimitsSchema, pod.metadata.annotations?.[LABEL.limits] ?? null);
  if (annotated) return annotated;
  const { memory = '', cpu = '' } = pod.spec.containers[0]?.resources?.limits ?? {};
  const mib = memory.endsWith('Mi') ? Number(memory.slice(0, -2)) : memory.endsWith('Gi') ? Number(memory.slice(0, -2)) * 1024 : Number(memory) / 2 ** 20;
  const cpus = cpu.endsWith('m') ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
  return { memoryMiB: Math.max(64, Math.round(mib) || 0), cpus: Math.max(0.1, cpus || 0), pids: 16 };
}

