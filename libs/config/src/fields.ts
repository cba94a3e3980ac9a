import { z } from 'zod';

/**
 * Field builders for config schemas. Each carries the human sentence of what it expects, used as the one-line
 * error when a setting is wrong. Values are never echoed in errors, so secrets cannot leak through them.
 */
const secretSchemas = new WeakSet<z.ZodType>();

export function isSecret(schema: z.ZodType): boolean {
  return secretSchemas.has(schema);
}

const nonEmpty = (s: string | undefined) => (s === undefined || s.trim() === '' ? undefined : s.trim());

export function port(defaultValue?: number) {
  const schema = z.preprocess(
    (v) => (typeof v === 'string' ? (/^\d+$/.test(v.trim()) ? Number(v) : v) : v),
    z.number({ error: 'must be an integer between 1 and 65535' }).int().min(1, 'must be an integer between 1 and 65535').max(65535, 'must be an integer between 1 and 65535'),
  );
  return defaultValue === undefined ? schema : z.preprocess(nonEmpty, schema.optional()).transform((v) => (v ?? defaultValue) as number);
}

export function int(opts: { min: number; max: number; default?: number }) {
  const message = `must be an integer between ${opts.min} and ${opts.max}`;
  const schema = z.preprocess(
    (v) => (typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v),
    z.number({ error: message }).int(message).min(opts.min, message).max(opts.max, message),
  );
  return opts.default === undefined ? schema : z.preprocess(nonEmpty, schema.optional()).transform((v) => (v ?? opts.default) as number);
}

/** A URL whose scheme is one of `protocols` (without the colon). */
export function url(protocols: readonly string[], defaultValue?: string) {
  const message = `must be a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`;
  const schema = z.string({ error: message }).refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol.slice(0, -1));
    } catch {
      return false;
    }
  }, message);
  return defaultValue === undefined ? schema : z.preprocess(nonEmpty, schema.optional()).transform((v) => v ?? defaultValue);
}

/** An optional {@link url}: unset or empty is undefined (a template's `NAME=` line turns nothing on). */
export function optionalUrl(protocols: readonly string[]) {
  return z.preprocess(nonEmpty, url(protocols).optional());
}

/** An optional {@link int}: unset or empty is undefined. */
export function optionalInt(opts: { min: number; max: number }) {
  return z.preprocess(nonEmpty, int(opts).optional());
}

export function str(defaultValue?: string) {
  const schema = z.string({ error: 'must be set' }).min(1, 'must not be empty');
  return defaultValue === undefined ? schema : z.preprocess(nonEmpty, schema.optional()).transform((v) => v ?? defaultValue);
}

export function optionalStr() {
  return z.preprocess(nonEmpty, z.string().optional());
}

/**
 * An absolute directory written the one way (no `.`, `..` or empty parts, no trailing `/`, not `/` itself) and
 * without `,` `:` or control characters, which Podman's mount syntaxes would read as separators: a path that other
 * code may compare as text, and join a name to, without resolving it.
 */
export function isCleanDirectory(value: string): boolean {
  const parts = value.split('/').slice(1);
  return value.startsWith('/') && parts.length > 0 && parts.every((part) => part !== '' && part !== '.' && part !== '..' && !/[,:\p{Cc}]/u.test(part));
}

/** An optional directory setting, refused unless `isCleanDirectory`. */
export function optionalDirectory() {
  return optionalStr().refine((dir) => dir === undefined || isCleanDirectory(dir), 'must be an absolute directory without . or .. parts or a trailing /, and without "," or ":"');
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number]) {
  const message = `must be one of ${values.join(', ')}`;
  return z.preprocess(nonEmpty, z.enum(values, { error: message }).optional()).transform((v) => v ?? defaultValue);
}

export function bool(defaultValue: boolean) {
  const message = 'must be true or false';
  return z
    .preprocess(nonEmpty, z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: message }).optional())
    .transform((v) => (v === undefined ? defaultValue : ['true', '1', 'yes'].includes(v)));
}

/** A secret: required, at least `minLength` characters, masked wherever config is shown. */
export function secret(minLength = 16) {
  const schema = z.string({ error: `must be set (a secret of at least ${minLength} characters; use NAME_FILE for a mounted secret)` }).min(minLength, `must be at least ${minLength} characters long`);
  secretSchemas.add(schema);
  return schema;
}

/** A secret that only some modes need (the service checks it is there when it is needed). */
export function optionalSecret(minLength = 16) {
  const schema = z.preprocess(nonEmpty, z.string().min(minLength, `must be at least ${minLength} characters long`).optional());
  secretSchemas.add(schema);
  return schema;
}

/** A comma-separated list; empty entries dropped. */
export function list(defaultValue = '') {
  return z
    .string()
    .default(defaultValue)
    .transform((v) => v.split(',').map((item) => item.trim()).filter(Boolean));
}

export const logLevel = () => oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info');
