import { BootError, type VariableStoreOrigin } from '@vmfarm/session';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
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

/**
 * Where an instance's variable store comes from, read before its boot: a fresh copy of the profile's
 * template when `vars.fd` is not in the instance directory yet, else the store an earlier boot left.
 */
export function instanceVariableStore(instanceDir: string, template: string): VariableStoreOrigin {
  const fresh = !existsSync(`${instanceDir}/vars.fd`);
  return {
    pristine: fresh,
    template,
    detail: fresh
      ? `new instance ${basename(instanceDir)}: vars.fd was absent and copied from ${template} at start`
      : `vars.fd already existed in ${instanceDir}`,
  };
}
