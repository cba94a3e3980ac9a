/**
 * Allow-list checks for JSON bodies, decided the way Podman will read them. Podman decodes bodies with Go's
 * encoding/json, which matches an object's keys to struct fields case-insensitively (with Unicode folding: `ſ` is
 * an `s`, the Kelvin sign a `k`) and ignores keys it does not know. So a key is accepted only when it is spelt
 * exactly as the API documents and listed here with a check for its value; anything else is a refusal, never a
 * guess. The proxy forwards its own re-serialisation of the parsed body, so Podman sees exactly what was checked
 * (duplicate keys collapse to the one JSON.parse kept).
 */

/** A refusal reason, or undefined when the value passes. `at` is the value's path, for the reason. */
export type Check = (value: unknown, at: string) => string | undefined;

export type JsonObject = Record<string, unknown>;

export const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

const join = (at: string, key: string) => (at ? `${at}.${key}` : key);
const show = (value: unknown) => JSON.stringify(value)?.slice(0, 80) ?? String(value);

/** Go's key folding (encoding/json since Go 1.21: upper, then lower, per character), a little wider for safety. */
export const foldKey = (key: string) => [...key].map((c) => c.toUpperCase().toLowerCase()).join('');

/**
 * Refuses any object, at any depth, with two keys Podman could take for one (`Image` and `image`): which of them
 * wins is Go's business, and it is not ours to guess.
 */
export function sameKeysToPodman(value: unknown, at = ''): string | undefined {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const reason = sameKeysToPodman(item, `${at}[${i}]`);
      if (reason) return reason;
    }
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const seen = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    const folded = foldKey(key);
    const earlier = seen.get(folded);
    if (earlier !== undefined) return `${join(at, key)}: keys ${show(earlier)} and ${show(key)} are one field to Podman`;
    seen.set(folded, key);
    const reason = sameKeysToPodman(item, join(at, key));
    if (reason) return reason;
  }
  return undefined;
}

/** An object whose keys must each be listed, spelt exactly; each value passes its own check. */
export function fields(spec: Record<string, Check>): Check {
  const allowed = new Map(Object.entries(spec)); // a Map: `__proto__` or `constructor` must not find anything
  const byFold = new Map([...allowed.keys()].map((key) => [foldKey(key), key]));
  return (value, at) => {
    if (!isObject(value)) return `${at || 'the body'} must be an object`;
    for (const [key, item] of Object.entries(value)) {
      const check = allowed.get(key);
      if (!check) {
        const meant = byFold.get(foldKey(key));
        return meant ? `${join(at, key)} is not spelt as the API documents (${meant})` : `${join(at, key)} is not a field this client may set`;
      }
      const reason = check(item, join(at, key));
      if (reason) return reason;
    }
    return undefined;
  };
}

/** A map (Go `map[string]…`): keys are data, matched by `key`; values by `item`. */
export function mapOf(key: Check, item: Check): Check {
  return (value, at) => {
    if (!isObject(value)) return `${at} must be an object`;
    for (const [k, v] of Object.entries(value)) {
      const reason = key(k, `${at} key ${show(k)}`) ?? item(v, join(at, k));
      if (reason) return reason;
    }
    return undefined;
  };
}

export function arrayOf(item: Check): Check {
  return (value, at) => {
    if (!Array.isArray(value)) return `${at} must be an array`;
    for (const [i, v] of value.entries()) {
      const reason = item(v, `${at}[${i}]`);
      if (reason) return reason;
    }
    return undefined;
  };
}

export function string(test: RegExp | ((s: string) => string | undefined) = /^/, what = 'allowed'): Check {
  return (value, at) => {
    if (typeof value !== 'string') return `${at} must be a string`;
    if (typeof test === 'function') return test(value);
    return test.test(value) ? undefined : `${at} ${show(value)} is not ${what}`;
  };
}

export function oneOf(...values: Array<string | boolean | number>): Check {
  return (value, at) => (values.includes(value as string) ? undefined : `${at} may only be ${values.map(show).join(' or ')}, not ${show(value)}`);
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Check {
  return (value, at) => (Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max ? undefined : `${at} must be an integer from ${min} to ${max}`);
}

export const boolean: Check = (value, at) => (typeof value === 'boolean' ? undefined : `${at} must be true or false`);

/** An object whose first check picks the shape by one field (a mount's `Type`). */
export function byField(field: string, shapes: Record<string, Check>): Check {
  const known = new Map(Object.entries(shapes));
  return (value, at) => {
    if (!isObject(value)) return `${at} must be an object`;
    const kind = value[field];
    const check = typeof kind === 'string' ? known.get(kind) : undefined;
    return check ? check(value, at) : `${join(at, field)} may only be ${[...known.keys()].map(show).join(' or ')}, not ${show(kind)}`;
  };
}

export const ABSOLUTE_PATH = /^\/[^\0]*$/;
export const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
