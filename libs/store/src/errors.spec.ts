import { isDuplicateKey } from './errors';

describe('isDuplicateKey', () => {
  it('recognises MongoDB and FerretDB unique violations, and nothing else', () => {
    expect(isDuplicateKey({ code: 11000, message: 'E11000 duplicate key error' })).toBe(true);
    expect(isDuplicateKey({ codeName: 'DuplicateKey' })).toBe(true);
    expect(isDuplicateKey({ code: 1, message: 'UNIQUE constraint failed: users.username' })).toBe(true);
    expect(isDuplicateKey({ code: 1, message: 'some other failure' })).toBe(false);
    expect(isDuplicateKey(new Error('network'))).toBe(false);
    expect(isDuplicateKey(undefined)).toBe(false);
  });
});
