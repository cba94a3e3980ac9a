import { z } from 'zod';
import { OwnerSchema } from './sessions';

/** POST /auth/login (dev-key mode). */
export const DevLoginRequestSchema = z.object({ username: OwnerSchema, key: z.string().min(1).max(512) }).strict();

/** GET /auth/config: how the page offers sign-in. */
export const AuthConfigSchema = z.object({ mode: z.enum(['dev-key', 'shibboleth']), ssoUrl: z.string().optional() });
export type AuthConfig = z.infer<typeof AuthConfigSchema>;

export const MeSchema = z.object({
  username: OwnerSchema,
  admin: z.boolean(),
  via: z.enum(['login', 'token']),
  displayName: z.string().optional(),
  email: z.string().optional(),
});
export type Me = z.infer<typeof MeSchema>;

/** POST /api/v1/tokens. */
export const CreateTokenRequestSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    /** Days until it expires; none: until revoked. */
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();

export const ApiTokenViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().optional(),
  lastUsedAt: z.iso.datetime().optional(),
});
export type ApiTokenView = z.infer<typeof ApiTokenViewSchema>;
