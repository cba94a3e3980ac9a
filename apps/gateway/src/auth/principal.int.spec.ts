import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { closeRedis, createRedis } from '@visp/bus';
import { openStore, type Store } from '@visp/store';
import { testMongoUri, testRedisUrl, waitFor } from '@visp/testing';
import { Authenticator } from './principal';

const settings = { COOKIE_SECRET: 'principal-test-secret-0123456789abcdef', LOGIN_TTL: 3600, ADMIN_USERS: [], TRUSTED_PROXY_CIDRS: [] };
const redis = createRedis(testRedisUrl(), { name: 'principal-test' });
let store: Store;
/** Two gateways on the same Redis and database. */
let here: Authenticator;
let there: Authenticator;

function bearer(token: string): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers = { authorization: `Bearer ${token}` };
  return req;
}

beforeAll(async () => {
  store = await openStore(testMongoUri('principal'));
  [here, there] = [new Authenticator(redis, store, settings), new Authenticator(redis, store, settings)];
  await Promise.all([here.start(), there.start()]);
});
afterAll(async () => {
  await Promise.all([here.close(), there.close()]);
  await store.connection.dropDatabase();
  await store.close();
  await closeRedis(redis);
});

describe('API tokens', () => {
  it('are remembered once verified, and forgotten on every gateway the moment one is revoked', async () => {
    const { token, record } = await store.tokens.create('tess', 'script');
    for (const gateway of [here, there]) {
      expect(gateway.recognise(bearer(token))).toBeUndefined(); // not read yet
      expect(await gateway.identify(bearer(token))).toMatchObject({ username: 'tess', via: 'token', admin: false });
      expect(gateway.recognise(bearer(token))).toMatchObject({ username: 'tess' });
    }
    expect(await here.revokeToken('someone-else', record.id)).toBe(false);
    expect(here.recognise(bearer(token))).toBeDefined();

    expect(await here.revokeToken('tess', record.id)).toBe(true);
    expect(here.recognise(bearer(token))).toBeUndefined();
    await waitFor('the other gateway to forget the token', async () => there.recognise(bearer(token)) === undefined, 1000, 5);
    for (const gateway of [here, there]) expect(await gateway.identify(bearer(token))).toBeUndefined();
    expect(await here.revokeToken('tess', record.id)).toBe(false);
  });

  it('stop working when they expire, even while remembered', async () => {
    const { token } = await store.tokens.create('tess', 'short-lived', new Date(Date.now() + 500));
    expect(await here.identify(bearer(token))).toMatchObject({ username: 'tess' });
    expect(here.recognise(bearer(token))).toMatchObject({ username: 'tess' });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(here.recognise(bearer(token))).toBeUndefined();
    expect(await here.identify(bearer(token))).toBeUndefined();
  });

  it('are never remembered when wrong', async () => {
    const { token } = await store.tokens.create('tess', 'real');
    const forged = `${token.slice(0, -4)}AAAA`;
    expect(await here.identify(bearer(forged))).toBeUndefined();
    expect(here.recognise(bearer(forged))).toBeUndefined();
    expect(await here.identify(bearer('not-a-token'))).toBeUndefined();
  });
});
