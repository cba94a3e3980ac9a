import { AppError } from '@visp/service-kit';
import { StreamLimit } from './stream-limit';

describe('StreamLimit', () => {
  it('refuses a user past the cap until one of theirs is released, and counts a release once', () => {
    const limit = new StreamLimit(2);
    const first = limit.take('ann');
    limit.take('ann');
    expect(() => limit.take('ann')).toThrow(AppError);
    limit.take('bo');
    expect(limit.count('bo')).toBe(1);
    first();
    first();
    expect(limit.count('ann')).toBe(1);
    limit.take('ann');
    expect(() => limit.take('ann')).toThrow(/2 open WebSockets and event streams/);
  });
});
