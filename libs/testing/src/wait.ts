/**
 * Polls every `intervalMs` until `probe` returns a value other than undefined/false, or fails after `timeoutMs`.
 * A test that measures how soon something happens polls fast, or it measures its own polling. `what` may be a
 * function, asked on the timeout, to say how far things got. The one polling helper of the tests: use it rather
 * than a loop of your own.
 */
export async function waitFor<T>(what: string | (() => string), probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
