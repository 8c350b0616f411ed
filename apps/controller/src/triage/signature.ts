import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a webhook receiver checks: `sha256=` and the hex HMAC-SHA256 of the body bytes. */
export const SIGNATURE_HEADER = 'x-vmfarm-signature';

export function sign(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** What a receiver does: recompute and compare in constant time. */
export function verify(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(sign(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Exponential back-off: the wait after attempt n (1-based) failed, doubling from `baseMs` to `maxMs`. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
