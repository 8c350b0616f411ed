import { createHash, randomBytes } from 'node:crypto';

/** A new API token: `vmf_` + 32 random bytes, base64url. */
export function newToken(): string {
  return `vmf_${randomBytes(32).toString('base64url')}`;
}

/** What the database keeps of a token: its sha256, never the token. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
