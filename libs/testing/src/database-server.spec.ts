import { databaseAnswers } from './database-server';

describe('databaseAnswers', () => {
  it('is false, within its wait and without throwing, where no server listens', async () => {
    const started = Date.now();
    // Nothing listens on port 1: refused at once, and no database is needed.
    await expect(databaseAnswers('mongodb://127.0.0.1:1/ping', 300)).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('is false for a URI that names no server, rather than throwing', async () => {
    await expect(databaseAnswers('not a mongodb uri')).resolves.toBe(false);
  });
});
