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

/**
 * Merges `.env`, `.env.secrets` and the environment (later wins), then resolves `NAME_FILE`
 * (how Podman and systemd hand over secrets, e.g. `/run/secrets/…`) into `NAME`.
 */
export function loadEnvSource(options: EnvSourceOptions = {}): EnvSource {
  const cwd = options.cwd ?? process.cwd();
  const merged: Record<string, string | undefined> = {
    ...readDotenv(path.join(cwd, '.env')),
    ...readDotenv(path.join(cwd, '.env.secrets')),
    ...(options.env ?? process.env),
  };
  for (const [key, file] of Object.entries(merged)) {
    if (!key.endsWith('_FILE') || file === undefined || file === '') continue;
    const name = key.slice(0, -'_FILE'.length);
    if (merged[name] !== undefined && merged[name] !== '') {
      throw new ConfigError(`${name} and ${key} are both set: set only one of them`);
    }
    try {
      merged[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${key} points to ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return Object.freeze(merged);
}
