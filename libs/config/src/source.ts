import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';

export type EnvSource = Readonly<Record<string, string | undefined>>;

export interface EnvSourceOptions {
  /** Directory holding `.env` and `.env.secrets`. @defaultValue process.cwd() */
  cwd?: string;
  /** The process environment; wins over both files. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

/** A setting that cannot be read or parsed; main prints its message as one line and exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function readDotenv(file: string): Record<string, string> {
  return existsSync(file) ? parse(readFileSync(file)) : {};
}

/** Merges `.env`, `.env.secrets` and the environment; later wins. */
export function loadEnvSource(options: EnvSourceOptions = {}): EnvSource {
  const cwd = options.cwd ?? process.cwd();
  return Object.freeze({
    ...readDotenv(path.join(cwd, '.env')),
    ...readDotenv(path.join(cwd, '.env.secrets')),
    ...(options.env ?? process.env),
  });
}

/**
 * For each setting in `names`, reads `NAME_FILE` into `NAME` (how Podman and systemd hand over secrets, e.g.
 * `/run/secrets/…`). Only the service's own settings: other programs' `*_FILE` variables are none of its business.
 */
export function resolveFileSettings(source: EnvSource, names: readonly string[]): EnvSource {
  const resolved: Record<string, string | undefined> = { ...source };
  for (const name of names) {
    const key = `${name}_FILE`;
    const file = source[key];
    if (file === undefined || file === '') continue;
    if (source[name] !== undefined && source[name] !== '') {
      throw new ConfigError(`${name} and ${key} are both set: set only one of them`);
    }
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${key} points to ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return Object.freeze(resolved);
}
