import type { z } from 'zod';

/** Parses JSON and validates it; undefined for anything malformed (messages from Redis are not trusted). */
export function parseJson<T extends z.ZodType>(schema: T, text: string | null): z.infer<T> | undefined {
  if (text === null) return undefined;
  try {
    const result = schema.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
