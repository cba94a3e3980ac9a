import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { closeRedis, createRedis } from '@visp/bus';
import { openStore, type Store } from '@visp/store';
import { testMongoUri, testRedisUrl, waitFor } from '@visp/testing';
import { LOGIN_COOKIE } from './cookies';
import { Authenticator, type Principal } from './principal';

const settings = { COOKIE_SECRET: 'principal-test-secret-0123456789abcdef', LOGIN_TTL: 3600, ADMIN_USERS: [], TRUSTED_PROXY_CIDRS: [] };
const redis = createRedis(testRedisUrl(), { name: 'principal-test' });
let store: Store;
/** Two gateways on the same Redis and database. */
let here: Authenticator;
let there: Authenticator;

function requestWith(headers: Record<string, string>): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers = headers;
  return req;
}
const bearer = (token: string) => requestWith({ authorization: `Bearer ${token}` });
const withCookie = (signed: string) => requestWith({ cookie: `${LOGIN_COOKIE}=${signed}` });

/** A connection held on `gateway` for `principal`: how it ended, once it has. */
function heldOn(gateway: Authenticator, principal: Readonly<Principal> | undefined) {
  if (!principal) throw new Error('not signed in');
  const connection: { ended?: string } = {};
  gateway.holdWhileValid(principal, (reason) => (connection.ended = reason));
  return connection;
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

describe('long-lived connections', () => {
  it('end on every gateway when the login they opened with signs out, and only those', async () => {
    const [signedIn, other] = [(await here.signIn('lena')).gateway, (await here.signIn('lena')).gateway];
    const onThere = heldOn(there, await there.identify(withCookie(signedIn)));
    const otherLogin = heldOn(there, await there.identify(withCookie(other)));
    const onHere = heldOn(here, await here.identify(withCookie(signedIn)));

    await here.signOut(withCookie(signedIn));
    expect(onHere.ended).toBe('revoked');
    await waitFor('the other gateway to end the connection', async () => onThere.ended === 'revoked', 1000, 5);
    expect(otherLogin.ended).toBeUndefined();
  });

  it('end on every gateway when the token they opened with is revoked', async () => {
    const { token, record } = await store.tokens.create('tess', 'notebook socket');
    const onThere = heldOn(there, await there.identify(bearer(token)));
    await here.revokeToken('tess', record.id);
    await waitFor('the other gateway to end the connection', async () => onThere.ended === 'revoked', 1000, 5);
  });

  it('end when the login expires, which also stops the login while remembered', async () => {
    const shortLived = new Authenticator(redis, store, { ...settings, LOGIN_TTL: 1 });
    const signedIn = (await shortLived.signIn('lena')).gateway;
    const principal = await shortLived.identify(withCookie(signedIn));
    expect(principal).toMatchObject({ username: 'lena', via: 'login' });
    const connection = heldOn(shortLived, principal);
    await waitFor('the login to expire', async () => connection.ended === 'expired', 2000, 20);
    expect(shortLived.recognise(withCookie(signedIn))).toBeUndefined();
    expect(await shortLived.identify(withCookie(signedIn))).toBeUndefined();
  });
});
