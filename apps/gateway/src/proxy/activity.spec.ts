import { EventEmitter } from 'node:events';
import type { ActivityLog } from '@visp/bus';
import type { Logger } from '@visp/config';
import { ActivityRecorder, countsAsActivity } from './activity';

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

describe('ActivityRecorder.watch', () => {
  const T0 = 1_765_000_000_000;
  beforeEach(() => jest.useFakeTimers({ now: T0 }));
  afterEach(() => jest.useRealTimers());

  it("records a proxied WebSocket's use when its user sent something since the last look, and as it closes; never what the app sends", () => {
    const written: number[] = [];
    const log = { touch: async (_sid: string, at: number) => void written.push(at) } as unknown as ActivityLog;
    const recorder = new ActivityRecorder(log, { warn: jest.fn() } as unknown as Logger);
    const userSocket = Object.assign(new EventEmitter(), { bytesRead: 300 });
    recorder.watch('abcdefghijkl', userSocket);
    expect(written).toEqual([T0]); // opened
    jest.advanceTimersByTime(10_000); // only the app sent: the user's socket read nothing
    expect(written).toEqual([T0]);
    userSocket.bytesRead += 40;
    jest.advanceTimersByTime(10_000);
    expect(written).toEqual([T0, T0 + 20_000]);
    jest.advanceTimersByTime(12_000);
    userSocket.bytesRead += 40;
    userSocket.emit('close'); // sent since the last look
    expect(written).toEqual([T0, T0 + 20_000, T0 + 32_000]);
    userSocket.bytesRead += 40;
    jest.advanceTimersByTime(60_000); // closed: looked at no more
    expect(written).toEqual([T0, T0 + 20_000, T0 + 32_000]);
  });
});
