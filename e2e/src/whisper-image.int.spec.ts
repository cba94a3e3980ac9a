// The whisper-worker's image (containerfiles/services, built by the test runner): it runs as a non-root user,
// carries Node, the Whisper venv and the model, needs no network to load the model, becomes ready against the
// test's Redis and database, and passes its own HEALTHCHECK.
import { LABEL, PodmanClient, discoverPodman } from '@visp/podman-client';
import { testInstanceId, testMongoUri, testPodmanHost, testRedisUrl, waitFor } from '@visp/testing';

const IMAGE = 'localhost/visp-whisper-worker:1';
const PORT = 18740;

describe('the whisper-worker image', () => {
  const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
  const instance = testInstanceId();
  let id = '';

  afterAll(async () => {
    if (id) await podman.removeContainer(id, { force: true });
  });

  it('runs as visp, loads its model offline, becomes ready and passes its health check', async () => {
    const container = await podman.docker.createContainer({
      Image: IMAGE,
      name: `visp-test-whisper-${instance}`,
      Labels: { [LABEL.managed]: 'true', [LABEL.instance]: instance },
      // Host networking only so that the container reaches the test's Redis and database on loopback.
      HostConfig: { NetworkMode: 'host' },
      Env: [`PORT=${PORT}`, `REDIS_URL=${testRedisUrl()}`, `MONGO_URI=${testMongoUri('whisperimage')}`, 'TRANSCRIPTION_DATA_DIR=/tmp', 'LOG_LEVEL=warn'],
    });
    id = container.id;
    await container.start();
    const ready = await waitFor('the worker in its container to be ready', async () => {
      const res = await fetch(`http://127.0.0.1:${PORT}/readyz`).catch(() => undefined);
      return res?.status === 200 && ((await res.json()) as { checks: Record<string, { ok: boolean }> });
    }, 90_000);
    expect(Object.keys(ready.checks).sort()).toEqual(['engine:faster-whisper', 'mongo', 'redis', 'worker']);

    const inspect = await container.inspect();
    expect(inspect.Config.User).toBe('1000:1000');
    expect(inspect.Config.Env).toEqual(expect.arrayContaining(['HF_HUB_OFFLINE=1', 'WHISPER_MODEL_DIR=/opt/visp/whisper/model']));
    // Podman runs the image's HEALTHCHECK on request (its timer needs systemd, which the test host lacks).
    const health = await new Promise((resolve, reject) =>
      podman.docker.modem.dial({ path: `/v4.0.0/libpod/containers/${id}/healthcheck`, method: 'GET', statusCodes: { 200: true } }, (err, result) => (err ? reject(err) : resolve(result))),
    );
    expect(health).toMatchObject({ Status: 'healthy' });
  }, 120_000);
});
