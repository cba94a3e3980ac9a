import { parseRequest, queryRefusal, type Operation } from './policy';

describe('parseRequest', () => {
  it.each([
    ['GET', '/containers/json?all=1', { api: 'compat', operation: 'container.list' }],
    ['GET', '/v1.41/containers/abc/json', { api: 'compat', operation: 'container.inspect', subject: 'abc' }],
    ['GET', '/v4.3.1/libpod/containers/abc/json', { api: 'libpod', operation: 'container.inspect', subject: 'abc' }],
    ['POST', '/libpod/containers/create', { api: 'libpod', operation: 'container.create' }],
    ['DELETE', '/containers/abc?force=true', { api: 'compat', operation: 'container.remove', subject: 'abc' }],
    ['POST', '/exec/e1/start', { api: 'compat', operation: 'exec.start', subject: 'e1' }],
    ['GET', '/images/localhost/visp-testbox:1/json', { api: 'compat', operation: 'image.inspect', subject: 'localhost/visp-testbox:1' }],
    ['GET', '/libpod/images/localhost%2Fvisp-testbox:1/exists', { refused: expect.stringMatching(/path tricks/) }],
    ['POST', '/v4.3.1/libpod/images/pull', { api: 'libpod', operation: 'image.pull' }],
  ])('%s %s', (method, url, expected) => {
    expect(parseRequest(method, url)).toEqual(expected);
  });

  it.each([
    ['POST', '/libpod/system/reset'],
    ['POST', '/system/prune'],
    ['POST', '/containers/prune'],
    ['GET', '/containers/abc/../def/json'],
    ['GET', '/containers/abc%2F..%2Fdef/json'],
    ['GET', '/containers//json'],
    ['GET', '/containers/%zz/json'],
    ['DELETE', '/v1.41/containers/abc/..'],
    ['PUT', '/containers/abc/archive'],
  ])('refuses %s %s', (method, url) => {
    expect(parseRequest(method, url)).toHaveProperty('refused');
  });

  it.each([
    ['DELETE', '/networks/visp-session-net-aaaaaaaaaaaa?force=true'],
    ['DELETE', '/v4.3.1/libpod/networks/visp-session-net-aaaaaaaaaaaa?force=1'],
    ['DELETE', '/volumes/visp-home-ann?force=true'],
    ['DELETE', '/containers/abc?force=true&link=true'],
    ['GET', '/containers/json?all=1&FILTERS=x'],
  ])('refuses parameters an operation does not take, above all a forced removal of what uses a network: %s %s', (method, url) => {
    const request = parseRequest(method, url) as { operation: Operation };
    expect(queryRefusal(request.operation, url)).toEqual(expect.stringMatching(/takes no/));
  });

  it('passes the parameters the services send', () => {
    expect(queryRefusal('container.remove', '/containers/abc?force=true&v=false')).toBeUndefined();
    expect(queryRefusal('container.logs', '/containers/abc/logs?stdout=true&stderr=true&follow=false&tail=100')).toBeUndefined();
    expect(queryRefusal('network.remove', '/networks/x')).toBeUndefined();
  });
});
