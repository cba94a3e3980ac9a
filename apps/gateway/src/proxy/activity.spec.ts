import { countsAsActivity } from './activity';

describe('countsAsActivity', () => {
  it.each([
    ['GET', '/api/kernels', false],
    ['GET', '/api/kernels/0b5c-11', false],
    ['GET', '/api/contents?type=directory', false],
    ['GET', '/api/status', false],
    ['POST', '/events/get_events', false],
    ['GET', '/notebooks/analysis.ipynb', true],
    ['GET', '/api/kernels/0b5c-11/channels', true],
    ['POST', '/api/kernels', true],
    ['PUT', '/api/contents/analysis.ipynb', true],
    ['GET', '/', true],
  ])('%s %s → %s', (method, path, expected) => expect(countsAsActivity(method, path)).toBe(expected));
});
