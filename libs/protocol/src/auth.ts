import { z } from 'zod';
import { nameSchema } from './api';

/** Tokens, roles and sessions: the auth part of the REST contract. */

export const ROLES = ['admin', 'vendor', 'viewer', 'agent'] as const;
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

/** A tenant is a vendor's name; it owns images, targets and matrices. */
export const tenantSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1-64 of a-z 0-9 . _ - starting with a letter or digit');

/** `vmf_` + 32 random bytes in base64url. */
export const tokenSecretSchema = z.string().regex(/^vmf_[A-Za-z0-9_-]{43}$/, 'not a vmfarm token');

export const tokenCreateSchema = z
  .object({
    name: nameSchema(100),
    role: roleSchema,
    tenant: tenantSchema.optional(),
  })
  .strict()
  .refine((t) => (t.role === 'vendor') === (t.tenant !== undefined), {
    message: 'a vendor token needs a tenant; other roles take none',
    path: ['tenant'],
  });
export type TokenCreate = z.infer<typeof tokenCreateSchema>;

export const meSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: roleSchema,
  tenant: z.string().nullable(),
});
export type Me = z.infer<typeof meSchema>;

/** The answer to `POST /api/tokens`: the only time the secret is shown. */
export const tokenCreatedSchema = meSchema.extend({ token: tokenSecretSchema });
export type TokenCreated = z.infer<typeof tokenCreatedSchema>;

export const tokenViewSchema = meSchema.extend({
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type TokenView = z.infer<typeof tokenViewSchema>;

export const sessionCreateSchema = z.object({ token: z.string().min(1).max(200) }).strict();

/** The cookie `POST /api/session` sets (the dashboard's credential: EventSource sends no headers). */
export const SESSION_COOKIE = 'vmfarm_session';
