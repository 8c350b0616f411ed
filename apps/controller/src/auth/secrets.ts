import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';

/** A new API token: `vmf_` + 32 random bytes, base64url. */
export function newToken(): string {
  return `vmf_${randomBytes(32).toString('base64url')}`;
}

/** What the database keeps of a token or a session id: its sha256, never the secret. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A dashboard session id: `vms_` + 32 random bytes, base64url (another prefix than tokens: never one for the other). */
export function newSessionId(): string {
  return `vms_${randomBytes(32).toString('base64url')}`;
}

export const sessionIdSchema = z.string().regex(/^vms_[A-Za-z0-9_-]{43}$/);
