import { BootError } from '@vmfarm/session';
import type { FileLookup } from './host-files';

/** A host file a boot needs: accepts() said it was there, so a miss now is a BootError. */
export function bootFile(found: FileLookup): string {
  if (!found.ok) throw new BootError(found.reason);
  return found.path;
}

/** Starts a booted session; on any failure after it began, closes it before throwing. */
export async function startOrClose<
  S extends { start(timeoutMs: number): Promise<void>; close(): Promise<void> },
>(session: S, timeoutMs: number): Promise<S> {
  try {
    await session.start(timeoutMs);
    return session;
  } catch (err) {
    await session.close();
    throw err;
  }
}
