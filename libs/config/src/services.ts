import { ModelNameSchema, TRANSCRIPTION_BACKENDS } from '@visp/contracts';
import { z } from 'zod';
import { bool, int, list, oneOf, optionalDirectory, optionalInt, optionalSecret, optionalStr, optionalUrl, port, secret, str, url } from './fields';
import { defineServiceConfig } from './define';

/** Where the Podman API is; all optional, discovered in libs/podman-client in the documented order. */
const podman = {
  CONTAINER_HOST: optionalStr(),
  DOCKER_HOST: optionalStr(),
  XDG_RUNTIME_DIR: optionalStr(),
};

const redis = { REDIS_URL: url(['redis', 'rediss'], 'redis://127.0.0.1:6379') };
const mongo = { MONGO_URI: url(['mongodb', 'mongodb+srv'], 'mongodb://127.0.0.1:27017/visp') };

/**
 * The services' containers that join every session's own network in network mode (libs/sessions `SessionNetworking`):
 * the gateway (the proxy), the session-manager and recovery (their readiness probes). The socket proxy lets its
 * clients connect these and no other container. Default: the quadlets' container names.
 */
const sessionNetworkJoiners = { SESSION_NETWORK_JOINERS: list('visp-gateway,visp-session-manager,visp-recovery') };

/** How sessions are reached: `local` publishes their port on 127.0.0.1; `network` has the joiners join their network. */
const sessionNetworking = { SESSION_MODE: oneOf(['local', 'network'], 'local'), ...sessionNetworkJoiners };

/** A Kubernetes namespace's name (a DNS label). */
const NAMESPACE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Which engine runs sessions (libs/sessions `openSessionRuntime`): Podman, or a Kubernetes cluster, reached through
 * `KUBECONFIG` or, in the cluster, the pod's service account (`KUBERNETES_SERVICE_HOST`/`PORT`, which Kubernetes sets).
 */
const sessionRuntime = {
  SESSION_RUNTIME: oneOf(['podman', 'kubernetes'], 'podman'),
  KUBECONFIG: optionalStr(),
  KUBERNETES_SERVICE_HOST: optionalStr(),
  KUBERNETES_SERVICE_PORT: optionalStr(),
  /** The sessions' namespace, theirs alone; the kubeconfig context's (or the service account's) when unset. */
  KUBE_NAMESPACE: optionalStr().pipe(z.string().regex(NAMESPACE, 'must be a namespace name').optional()),
  /** Where the gateway, session-manager and recovery pods run: each session's NetworkPolicy lets only them in. */
  KUBE_SERVICES_NAMESPACE: str('visp').pipe(z.string().regex(NAMESPACE, 'must be a namespace name')),
  KUBE_IMAGE_PULL_POLICY: oneOf(['IfNotPresent', 'Always', 'Never'], 'IfNotPresent'),
  /** Each user's home claim (ReadWriteOnce): its size and storage class (the cluster's default when unset). */
  KUBE_HOME_SIZE: str('10Gi').pipe(z.string().regex(/^\d+(Mi|Gi|Ti)$/, 'must be a size such as 10Gi')),
  KUBE_HOME_STORAGE_CLASS: optionalStr(),
};

/**
 * The session settings of the two services that run sessions: the session-manager starts them and recovery adopts
 * them after a crash, so both must see the same Podman, session types and networking. Declared once for both.
 */
const sessionHost = {
  ...podman,
  ...sessionRuntime,
  /** JSON file of session types replacing the built-in jupyter and rstudio; recovery probes and routes adopted sessions by it. */
  SESSION_TYPES_FILE: optionalStr(),
  ...sessionNetworking,
};

/**
 * Where projects' repositories are on the host (VISP's `mounts/repositories`): a session with a project gets
 * `<dir>/<project id>` bound read-write at `<home>/project`. A host path, since Podman on the host reads it; unset,
 * no project is mounted. The session-manager builds the bind; the socket proxy lets it mount that one directory,
 * of the project its container's label names; the gateway reads bundles' recordings there and writes their
 * transcripts beside them (VISP's transcription queue). Recovery only adopts containers, so it needs none.
 */
const projectRepositories = { PROJECT_REPOSITORIES_DIR: optionalDirectory() };

/** SESSION_MODE and SESSION_NETWORK_JOINERS as parsed: what libs/sessions `sessionNetworking` reads. */
export type SessionNetworkingSettings = Readonly<z.infer<z.ZodObject<typeof sessionNetworking>>>;

/** Shared by the gateway and the services it calls; sent as `x-service-token`. */
const serviceToken = { SERVICE_TOKEN: secret(24) };

/** Where uploads and results live; the gateway writes uploads, the worker results (a shared volume in production). */
const transcriptionData = { TRANSCRIPTION_DATA_DIR: str('/var/lib/visp/transcriptions') };

/** A DNS name in lowercase (what browsers send), labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export const gatewayConfig = defineServiceConfig('gateway', {
  PORT: port(8080),
  ...redis,
  ...mongo,
  ...serviceToken,
  SESSION_MANAGER_URL: url(['http', 'https'], 'http://127.0.0.1:8020'),
  RECOVERY_URL: url(['http', 'https'], 'http://127.0.0.1:8030'),
  /** `shibboleth`: identity from the SP's headers (trusted proxies only); `dev-key`: POST /auth/login with a key. */
  AUTH_MODE: oneOf(['dev-key', 'shibboleth'], 'dev-key'),
  /** dev-key mode refuses NODE_ENV=production unless this is set. */
  ALLOW_DEV_KEY_IN_PRODUCTION: bool(false),
  TEST_USER_LOGIN_KEY: optionalSecret(16),
  /** Signs the session cookie. */
  COOKIE_SECRET: secret(32),
  /**
   * The Domain (e.g. `visp.example`) of the app hosts' sign-in cookie, so that it reaches APP_HOSTS below it. The
   * gateway's own cookie stays host-only.
   */
  COOKIE_DOMAIN: optionalStr(),
  /**
   * Hosts served whole by one session (VISP's `app.<host>`): the one `?token=` or the `SessionAccessCode` cookie
   * names, for its owner only. Each must be COOKIE_DOMAIN or below it.
   */
  APP_HOSTS: list(),
  /**
   * Each session on its own origin, `<sid>.<SESSIONS_HOST>` (any port), instead of `/s/<sid>/` on the gateway's:
   * a session's scripts then cannot use the viewer's gateway cookie. The gateway is served at SESSIONS_HOST itself
   * too (as JupyterHub's `subdomain_host`), where a session host sends a browser that lacks its cookie.
   */
  SESSIONS_HOST: optionalStr().refine((host) => host === undefined || HOST_NAME.test(host), 'must be a lowercase host name such as visp.example.org, without scheme or port'),
  /** Seconds a sign-in lasts. */
  LOGIN_TTL: int({ min: 60, max: 30 * 86_400, default: 12 * 3600 }),
  /** Addresses (CIDR) whose identity and X-Forwarded-* headers are believed: the SSO front proxy. */
  TRUSTED_PROXY_CIDRS: list(),
  SHIB_USER_HEADER: str('eppn'),
  SHIB_MAIL_HEADER: str('mail'),
  SHIB_NAME_HEADER: str('displayName'),
  SHIB_AFFILIATION_HEADER: str('affiliation'),
  /**
   * What the SP (quadlets/visp-sp.container) sends as `Visp-Sso-Secret` with every sign-in it vouches for; required
   * with AUTH_MODE=shibboleth. Identity headers count only with it, so a trusted address alone is not enough.
   */
  SSO_PROXY_SECRET: optionalSecret(24),
  /** Where the page sends users to sign in with SSO (the SP's session initiator, returning to /auth/sso). */
  SSO_LOGIN_URL: str('/Shibboleth.sso/Login?target=/auth/sso'),
  ADMIN_USERS: list(),
  /** Whether admins may open other users' sessions through the proxy. */
  ADMINS_OPEN_SESSIONS: bool(false),
  /** Origins besides the gateway's own allowed to make state-changing requests and WebSocket upgrades. */
  ALLOWED_ORIGINS: list(),
  /**
   * Sign-in attempts per client address per minute. Behind a trusted proxy the address is X-Forwarded-For's
   * right-most one that is not itself a trusted proxy (the left-most is whatever the client wrote).
   */
  LOGIN_RATE_LIMIT: int({ min: 1, max: 10_000, default: 10 }),
  /** Open WebSockets (webclient and sessions') and event streams per user, per gateway process. */
  MAX_STREAMS_PER_USER: int({ min: 1, max: 10_000, default: 50 }),
  /** Days an API token lasts when its creator names none. */
  API_TOKEN_TTL_DAYS: int({ min: 1, max: 3650, default: 90 }),
  /** Seconds a proxied WebSocket may stay silent both ways before it is closed; 0 never. */
  PROXY_WS_IDLE_TIMEOUT: int({ min: 0, max: 7 * 86_400, default: 0 }),
  /**
   * The VISP profile: VISP's webclient, unmodified, speaks its own protocol on `/` of the gateway's host (its
   * socket URL), beside ours on /api/v1/ws: its handshake, projects, sessions per project (apps/gateway/src/visp).
   */
  VISP_WEBCLIENT: bool(false),
  /** Only users on the access list may use VISP's commands (VISP's setting of the same name; its `loginAllowed`). */
  ACCESS_LIST_ENABLED: bool(false),
  /** Where projects and their members come from: the product's own database, or VISP's (VISP_MONGO_URI, read-only). */
  PROJECT_SOURCE: oneOf(['store', 'visp'], 'store'),
  /**
   * Seconds between rechecks that every live session's owner may keep it (on the access list, still working in its
   * project): how soon a change made in VISP's own database ends a session. The admin routes act at once.
   */
  ACCESS_RECHECK_INTERVAL: int({ min: 1, max: 3600, default: 30 }),
  /** VISP's MongoDB (its `users`, `projects` and `transcriptionqueueitems` collections, read-only), with PROJECT_SOURCE=visp. */
  VISP_MONGO_URI: optionalStr().refine((uri) => uri === undefined || /^mongodb(\+srv)?:\/\//.test(uri), 'must be a mongodb:// or mongodb+srv:// URI'),
  /**
   * VISP's transcription of a project's bundles reads the recording from `<dir>/<project>/Data/VISP_emuDB/…` and
   * writes `transcription.srt`/`.txt` beside it: the gateway needs the repositories too (read-write; `visp install
   * --project-repositories` mounts them into its container at the same path). Unset, VISP's `transcribe` is refused.
   */
  ...projectRepositories,
  /**
   * The model VISP's `model: "kb-whisper"` asks for: KBLab's Swedish Whisper as the backend below names it (with
   * `openai`, e.g. `KBLab/kb-whisper-large` on a speaches server that has it; with `faster-whisper`, the worker's
   * WHISPER_MODEL must be that model). Unset: the default model, transcribing Swedish.
   */
  VISP_KB_WHISPER_MODEL: optionalStr().refine((m) => m === undefined || ModelNameSchema.safeParse(m).success, 'must be a model name: letters, digits, ".", "_" and "-", with an owner before one "/" at most'),
  /** The backend that has VISP_KB_WHISPER_MODEL; unset, TRANSCRIPTION_BACKEND. */
  VISP_KB_WHISPER_BACKEND: optionalStr().pipe(z.enum(TRANSCRIPTION_BACKENDS, { error: 'must be faster-whisper or openai' }).optional()),
  /** Seconds between heartbeat pings; a client silent for two is dropped. */
  WEBCLIENT_HEARTBEAT_INTERVAL: int({ min: 1, max: 3600, default: 30 }),
  /** Messages per second a webclient socket may send on average (twice that in a burst). */
  WEBCLIENT_RATE_LIMIT: int({ min: 1, max: 10_000, default: 20 }),
  /** Processes serving the gateway's port (it is stateless); 0: one per core. */
  GATEWAY_WORKERS: int({ min: 0, max: 64, default: 1 }),
  ...transcriptionData,
  /** Largest upload, in MiB. */
  TRANSCRIPTION_MAX_MIB: int({ min: 1, max: 10_240, default: 500 }),
  /** Longest recording, in seconds. */
  TRANSCRIPTION_MAX_SECONDS: int({ min: 1, max: 86_400, default: 4 * 3600 }),
  /** Jobs one user may have queued or running at once. */
  TRANSCRIPTION_MAX_PENDING: int({ min: 1, max: 10_000, default: 10 }),
  /** MiB of uploads one user may keep stored (finished jobs' until they expire, see TRANSCRIPTION_RETENTION). */
  TRANSCRIPTION_QUOTA_MIB: int({ min: 1, max: 1_048_576, default: 5120 }),
  /** MiB that must stay free on the data dir's disk: an upload that would go below is refused (507). */
  TRANSCRIPTION_MIN_FREE_MIB: int({ min: 0, max: 10_485_760, default: 1024 }),
  /** Seconds a finished job's files (upload and transcript) are kept before they are deleted. */
  TRANSCRIPTION_RETENTION: int({ min: 1, max: 10 * 365 * 86_400, default: 30 * 86_400 }),
  /** The backend for uploads that name none. */
  TRANSCRIPTION_BACKEND: oneOf(TRANSCRIPTION_BACKENDS, 'faster-whisper'),
  /** Attempts per job, and the first retry's delay (doubling after). */
  TRANSCRIPTION_ATTEMPTS: int({ min: 1, max: 20, default: 3 }),
  TRANSCRIPTION_BACKOFF_MS: int({ min: 0, max: 3_600_000, default: 2000 }),
  /**
   * Matomo (usage analytics), off unless both this and MATOMO_SITE_ID are set: the base URL of the Matomo server
   * (where `matomo.php` and `matomo.js` are). The start page then loads Matomo's tracker, and the gateway reports
   * product events (sign-in, session launched/ready/failed, transcription finished) to its HTTP Tracking API.
   */
  MATOMO_URL: optionalUrl(['http', 'https']),
  /** The Matomo site (`idsite`) the gateway's page views and events are recorded under. */
  MATOMO_SITE_ID: optionalInt({ min: 1, max: 2_147_483_647 }),
  /** Lets the page tracker set Matomo's cookies; without it the tracker runs cookieless (`disableCookies`). */
  MATOMO_COOKIES: bool(false),
  /**
   * Sends the user name as Matomo's User ID (`uid`) with the gateway's events. Off: each user is an opaque
   * visitor id (a keyed hash of the name), the same across events but not the name.
   */
  MATOMO_USER_IDS: bool(false),
});

export const sessionManagerConfig = defineServiceConfig('session-manager', {
  PORT: port(8020),
  ...redis,
  ...mongo,
  ...serviceToken,
  ...sessionHost,
  /**
   * The session guard's binary on the host (tools/session-guard, built by bootstrap into .visp/bin): required in
   * local mode, where it is mounted read-only into every session and stands in front of its published port.
   */
  SESSION_GUARD_BINARY: optionalStr(),
  ...projectRepositories,
  /** Seconds a session may take to answer its readiness path. */
  SESSION_START_TIMEOUT: int({ min: 5, max: 3600, default: 180 }),
  MAX_SESSIONS_PER_USER: int({ min: 1, max: 100, default: 2 }),
  /** Sessions starting or running at once; more requests wait in line. */
  MAX_SESSIONS_TOTAL: int({ min: 1, max: 10_000, default: 20 }),
  /** Seconds without activity before a session is stopped; 0 never. */
  IDLE_TIMEOUT: int({ min: 0, max: 30 * 86_400, default: 3600 }),
  /** Seconds a session may live at most; 0 no limit. */
  MAX_SESSION_AGE: int({ min: 0, max: 365 * 86_400, default: 12 * 3600 }),
  CULL_INTERVAL: int({ min: 1, max: 86_400, default: 60 }),
  /** Seconds before culling that the owner is warned. */
  CULL_WARNING: int({ min: 0, max: 86_400, default: 300 }),
  /**
   * The warm pool: the most sessions this instance holds prepared at once, each for one user who signed in or
   * opened the start page, adopted by that user's next launch of its type in moments. 0 (the default) turns it off.
   * Prepared sessions hold capacity, and give it up to any launch that would otherwise wait.
   */
  WARM_SESSIONS: int({ min: 0, max: 10_000, default: 0 }),
  /** The session types prepared for each user, without a project and with the type's default limits. */
  WARM_SESSION_TYPES: list('jupyter'),
  /** Seconds a prepared session waits for its user's launch before it is stopped. */
  WARM_UNUSED_TIMEOUT: int({ min: 10, max: 86_400, default: 600 }),
});

export const recoveryConfig = defineServiceConfig('recovery', {
  PORT: port(8030),
  ...redis,
  ...mongo,
  ...serviceToken,
  ...sessionHost,
  /** Seconds between reconcile passes. */
  RECOVERY_INTERVAL: int({ min: 1, max: 86_400, default: 30 }),
  /** Plan and report only: nothing is changed. */
  RECOVERY_DRY_RUN: bool(false),
});

/** The session-manager's settings as parsed. */
export type SessionManagerConfig = ReturnType<typeof sessionManagerConfig.parse>;
/** Recovery's settings as parsed. */
export type RecoveryConfig = ReturnType<typeof recoveryConfig.parse>;

export const whisperWorkerConfig = defineServiceConfig('whisper-worker', {
  PORT: port(8040),
  ...redis,
  ...mongo,
  ...transcriptionData,
  /** Jobs this worker runs at once. */
  WORKER_CONCURRENCY: int({ min: 1, max: 64, default: 1 }),
  /** Seconds one attempt may run before its engine is killed and the attempt fails. */
  TRANSCRIPTION_TIMEOUT: int({ min: 1, max: 86_400, default: 3600 }),
  /** Milliseconds a job's lock lasts without renewal: after a worker dies, its job runs again about this much later. */
  TRANSCRIPTION_LOCK_MS: int({ min: 1000, max: 600_000, default: 30_000 }),
  /** The offline engine: whisper-ctranslate2 (its venv's Python runs the warm engines) with a CTranslate2 model directory. */
  WHISPER_CLI: str('whisper-ctranslate2'),
  WHISPER_MODEL_DIR: str('/opt/visp/whisper/model'),
  /** The model's name as the CLI knows it (tiny.en, small, large-v3, …): it picks the tokenizer and languages. */
  WHISPER_MODEL: str('tiny.en'),
  WHISPER_BEAM_SIZE: int({ min: 1, max: 20, default: 5 }),
  WHISPER_COMPUTE_TYPE: oneOf(['default', 'auto', 'int8', 'int8_float32', 'int16', 'float32'], 'int8'),
  /** CPU threads per engine run; 0: the engine decides. */
  WHISPER_THREADS: int({ min: 0, max: 256, default: 0 }),
  /** An OpenAI-compatible server (speaches, whisper.cpp server, OpenAI): base URL without `/v1`. */
  OPENAI_BASE_URL: url(['http', 'https'], 'https://api.openai.com'),
  OPENAI_API_KEY: optionalSecret(1),
  OPENAI_MODEL: str('whisper-1'),
  /** Seconds to wait for the server's answer to one file. */
  OPENAI_TIMEOUT: int({ min: 1, max: 86_400, default: 600 }),
  /** Which backends this worker takes jobs for; the first is the self-test's and the default. */
  TRANSCRIPTION_BACKENDS: list('faster-whisper').pipe(z.array(z.enum(TRANSCRIPTION_BACKENDS), { error: 'must list faster-whisper and/or openai' }).min(1, 'must name at least one backend')),
});

export const socketProxyConfig = defineServiceConfig('socket-proxy', {
  PORT: port(8050),
  ...podman,
  /** Where each client's socket is made: `<dir>/<client>/<client>.sock`, a directory per client (session-manager, recovery, readonly). */
  SOCKET_PROXY_DIR: str('/run/visp'),
  /** Regular expressions (comma-separated) for the images a create may name. */
  SOCKET_PROXY_IMAGES: list('^localhost/visp-'),
  /** A JSON file of client policies replacing the built-in ones (see apps/socket-proxy/README.md). */
  SOCKET_PROXY_POLICY_FILE: optionalStr(),
  ...sessionNetworkJoiners,
  /** The session guard's binary on the host: the session-manager's built-in policy may mount it read-only, nothing else. */
  SESSION_GUARD_BINARY: optionalStr(),
  ...projectRepositories,
});
