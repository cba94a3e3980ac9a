// Every service image (containerfiles/services, built by the test runner) run as a container: it starts as user
// 1000 and passes its own HEALTHCHECK. The whisper-worker's also loads its model offline and becomes ready.
// Host networking only so that the containers reach the test's Redis and database on loopback.
import { LABEL } from '@visp/contracts';
import { PodmanClient, discoverPodman } from '@visp/podman-client';
import { testInstanceId, testMongoUri, testPodmanHost, testRedisUrl, waitFor } from '@visp/testing';
import { TEST_SECRETS } from './launch';

const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
const instance = testInstanceId();
const started: string[] = [];

afterAll(async () => {
  for (const id of started) await podman.removeContainer(id, { force: true });
});

/** Runs the image's health check now (Podman's timer for it needs systemd, which the test host lacks). */
const healthcheck = (id: string) =>
  new Promise<{ Status?: string }>((resolve, reject) =>
    podman.docker.modem.dial({ path: `/v4.0.0/libpod/containers/${id}/healthcheck`, method: 'GET', statusCodes: { 200: true, 409: true, 500: true } }, (err, result) => (err ? reject(err) : resolve(result as { Status?: string }))),
  );

/** The test's Podman socket, for the services that need one to start (as the socket proxy's in production). */
const podmanSocket = testPodmanHost().replace(/^unix:\/\//, '');

async function run(app: string, port: number, env: Record<string, string>): Promise<string> {
  const container = await podman.docker.createContainer({
    Image: `localhost/visp-${app}:1`,
    name: `visp-test-${app}-${instance}`,
    Labels: { [LABEL.managed]: 'true', [LABEL.instance]: instance },
    HostConfig: { NetworkMode: 'host', Binds: [`${podmanSocket}:/run/podman/podman.sock`] },
    Env: Object.entries({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', REDIS_URL: testRedisUrl(8), MONGO_URI: testMongoUri(`img${app.replace(/-/g, '')}`), ...TEST_SECRETS, ...env }).map(([k, v]) => `${k}=${v}`),
  });
  started.push(container.id);
  await container.start();
  return container.id;
}

describe('the service images', () => {
  it.each([
    // As in production: the development key is refused there.
    ['gateway', 18751, { AUTH_MODE: 'shibboleth', SSO_PROXY_SECRET: 'e2e-sso-proxy-secret-0123456789' }],
    // As the quadlets run them (local mode needs the session guard on the host, which no image carries).
    ['session-manager', 18752, { SESSION_MODE: 'network' }],
    ['recovery', 18753, { SESSION_MODE: 'network' }],
    ['socket-proxy', 18754, { SOCKET_PROXY_DIR: '/tmp/visp-sockets' }],
    ['whisper-worker', 18755, { TRANSCRIPTION_DATA_DIR: '/tmp' }],
  ])('%s runs as user 1000 and passes its health check', async (app, port, env) => {
    const id = await run(app, port, env);
    const health = await waitFor(`${app}'s health check`, async () => {
      const result = await healthcheck(id);
      return result.Status === 'healthy' && result;
    }, 60_000).catch(async (err: Error) => {
      const logs = await podman.docker.getContainer(id).logs({ stdout: true, stderr: true });
      throw new Error(`${err.message}; the container said: ${logs.toString().slice(-1500)}`);
    });
    expect(health.Status).toBe('healthy');
    const inspect = await podman.docker.getContainer(id).inspect();
    expect(inspect.Config.User).toBe('1000:1000');
    expect(inspect.Config.Healthcheck?.Test).toEqual(['CMD', 'node', '/opt/visp/healthcheck.js']);
  }, 90_000);

  it('the whisper-worker loads its model without a network and becomes ready', async () => {
    const ready = await waitFor('the worker in its container to be ready', async () => {
      const res = await fetch('http://127.0.0.1:18755/readyz').catch(() => undefined);
      return res?.status === 200 && ((await res.json()) as { checks: Record<string, { ok: boolean }> });
    }, 90_000);
    expect(Object.keys(ready.checks).sort()).toEqual(['engine:faster-whisper', 'mongo', 'redis', 'worker']);
    const inspect = await podman.docker.getContainer(`visp-test-whisper-worker-${instance}`).inspect();
    expect(inspect.Config.Env).toEqual(expect.arrayContaining(['HF_HUB_OFFLINE=1', 'WHISPER_MODEL_DIR=/opt/visp/whisper/model']));
  }, 120_000);
});
