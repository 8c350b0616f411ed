import { isHostPath } from '@vmfarm/protocol';

/** What a host probe knows of its files: the firmware it offers by name, admin host paths probed. */
export interface ProbedFiles {
  firmware: Record<string, string>;
  files: Record<string, boolean>;
}

export type FileLookup = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Where a profile's host file is on the probed host: a name is looked up in what the probe offers
 * (never joined to a directory by hand), a host path (an admin's) is taken as is once probed present.
 * `nothingOffered` says why a host that offers no firmware at all has none.
 */
export function resolveProbedFile(probe: ProbedFiles, value: string, nothingOffered: string): FileLookup {
  if (isHostPath(value)) {
    if (!(value in probe.files)) return { ok: false, reason: `${value} was not probed` };
    return probe.files[value] ? { ok: true, path: value } : { ok: false, reason: `${value} is missing` };
  }
  const path = Object.hasOwn(probe.firmware, value) ? probe.firmware[value] : undefined;
  if (path) return { ok: true, path };
  const offered = Object.keys(probe.firmware);
  return {
    ok: false,
    reason: `${value} is not offered by this host (${offered.length ? `it offers ${offered.join(', ')}` : nothingOffered})`,
  };
}
