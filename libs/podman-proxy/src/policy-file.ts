import { readFileSync } from 'node:fs';
import { ConfigError, isCleanDirectory } from '@visp/config';
import { z } from 'zod';
import { OPERATIONS, type ClientPolicy } from './policy';

const ClientPolicySchema = z
  .object({
    operations: z.array(z.enum(OPERATIONS)),
    images: z.array(z.string()).default([]),
    capAdd: z.array(z.string().regex(/^[A-Z_]+$/)).default([]),
    bindRoots: z.array(z.string().regex(/^\/[^\0]*$/, 'an absolute path')).default([]),
    sessionGuard: z.string().regex(/^\/[^\0]*$/, 'an absolute path').optional(),
    projectRepositories: z.string().refine(isCleanDirectory, 'an absolute directory without . or .. parts or a trailing /, and without "," or ":"').optional(),
    networks: z.array(z.string()).default([]),
    sessionNetworks: z.boolean().default(false),
    userModeNetwork: z.boolean().default(false),
    joiners: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a container name')).default([]),
    volumes: z.array(z.string()).default([]),
    ownerHome: z.boolean().default(true),
    nonRoot: z.boolean().default(true),
    capDropAll: z.boolean().default(true),
  })
  .strict();

const PolicyFileSchema = z.object({ clients: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,30}$/), ClientPolicySchema) }).strict();

/** A name pattern; a broken one is a config error, at start. */
const compilePattern =
  (what: string) =>
  (pattern: string): RegExp => {
    try {
      return new RegExp(pattern);
    } catch {
      throw new ConfigError(`${what} pattern ${JSON.stringify(pattern)} is not a regular expression`);
    }
  };

/** An image pattern; a broken one is a config error, at start. */
export const compileImagePattern = compilePattern('image');

/**
 * Reads and validates a policy file: `{ "clients": { "<name>": { "operations": [...], "images": [...], … } } }`.
 * What is left out is the safe choice: no images, capabilities, binds, project repositories, networks or volumes;
 * non-root users, all capabilities dropped, only the owner's home.
 */
export function loadPolicyFile(file: string): Record<string, ClientPolicy> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = PolicyFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${file}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return Object.fromEntries(
    Object.entries(parsed.data.clients).map(([name, p]) => [
      name,
      {
        ...p,
        operations: new Set(p.operations),
        images: p.images.map(compileImagePattern),
        capAdd: new Set(p.capAdd),
        networks: new Set(p.networks),
        joiners: new Set(p.joiners),
        volumes: p.volumes.map(compilePattern('volume')),
      },
    ]),
  );
}
