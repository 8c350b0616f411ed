import type { RunJobData, TargetProfile } from '@vmfarm/protocol';
import type { BootedVm, TargetDriver, VmOverrides, VmSession } from '@vmfarm/session';
import { emulatorDriver, qemuDriver, type HostProbe } from '@vmfarm/targets';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { Artifact, LiveVmRun } from './attempt';

const gzip = promisify(zlib.gzip);

/**
 * The largest artifact kept, before base64 (the contract allows 16 MiB of base64, 4/3 of this).
 * The 64 MiB variable store gzips to about 100 KiB; one that does not fit is left out and said so.
 */
export const MAX_ARTIFACT_BYTES = 12 * 1024 * 1024;

const TEXT_ARTIFACTS: [string, string][] = [
  ['console.log', 'text/plain'],
  ['qmp.jsonl', 'application/x-ndjson'],
  ['qemu.log', 'text/plain'],
  ['emulator.log', 'text/plain'],
];

/**
 * The VMs of one attempt, through any target driver. Each boot is a new instance under
 * `<workDir>/<run>-<attempt>/vmN` (a fresh directory, so the variable store is a fresh copy of the
 * profile's template); finish() closes them all, collects console.log, qmp.jsonl, qemu.log (or
 * emulator.log) and vars.fd.gz, and removes the files.
 */
export function vmRun<P extends TargetProfile, Probe>(
  driver: TargetDriver<P, Probe>,
  profile: P,
  probe: Probe,
  job: RunJobData,
  attempt: number,
  imagePath: string,
  workDir: string,
): LiveVmRun {
  const runDir = path.join(workDir, `${job.runId}-${attempt}`);
  const sessions: { dir: string; session: VmSession | null }[] = [];
  let finished: Promise<Artifact[]> | undefined;

  const bootOne = async (overrides?: VmOverrides): Promise<BootedVm> => {
    if (finished) throw new Error('the attempt is over: no more VMs');
    const dir = path.join(runDir, `vm${sessions.length + 1}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const entry: { dir: string; session: VmSession | null } = { dir, session: null };
    sessions.push(entry);
    const startedAt = Date.now();
    const booted = await driver.boot(
      profile,
      { image: imagePath, format: job.image.format, instanceDir: dir, ...(overrides ? { overrides } : {}) },
      probe,
    );
    entry.session = booted.session;
    return { ...booted, startedAt };
  };

  const collect = async (): Promise<Artifact[]> => {
    await Promise.all(sessions.map((s) => s.session?.close()));
    const artifacts: Artifact[] = [];
    const notes: string[] = [];
    for (const [i, { dir }] of sessions.entries()) {
      const prefix = i === 0 ? '' : `vm${i + 1}-`;
      for (const [name, mediaType] of TEXT_ARTIFACTS) {
        const file = path.join(dir, name);
        if (fs.existsSync(file))
          artifacts.push({
            name: prefix + name,
            mediaType,
            contentBase64: fs.readFileSync(file).toString('base64'),
          });
      }
      const vars = path.join(dir, 'vars.fd');
      if (fs.existsSync(vars)) {
        const packed = await gzip(fs.readFileSync(vars), { level: 6 });
        if (packed.length <= MAX_ARTIFACT_BYTES)
          artifacts.push({
            name: `${prefix}vars.fd.gz`,
            mediaType: 'application/gzip',
            contentBase64: packed.toString('base64'),
          });
        else
          notes.push(`${prefix}vars.fd left out: ${packed.length} bytes gzipped, over ${MAX_ARTIFACT_BYTES}`);
      }
    }
    if (notes.length)
      artifacts.push({
        name: 'artifacts-omitted.txt',
        mediaType: 'text/plain',
        contentBase64: Buffer.from(notes.join('\n') + '\n').toString('base64'),
      });
    fs.rmSync(runDir, { recursive: true, force: true });
    return artifacts;
  };

  return {
    vm: { boot: bootOne },
    finish: () => (finished ??= collect()),
  };
}

/** The qemu VMs of one attempt (`vmRun` through the qemu driver). */
export function qemuVmRun(
  job: RunJobData,
  attempt: number,
  imagePath: string,
  workDir: string,
  host: HostProbe,
): LiveVmRun {
  if (job.target.kind !== 'qemu') throw new Error(`target ${job.target.id} is not a qemu target`);
  return vmRun(qemuDriver, job.target, host, job, attempt, imagePath, workDir);
}

/** The emulator VMs of one attempt (`vmRun` through the emulator driver; the machine runs in a worker thread). */
export function emulatorVmRun(
  job: RunJobData,
  attempt: number,
  imagePath: string,
  workDir: string,
  host: HostProbe,
): LiveVmRun {
  if (job.target.kind !== 'emulator') throw new Error(`target ${job.target.id} is not an emulator target`);
  return vmRun(emulatorDriver, job.target, host, job, attempt, imagePath, workDir);
}
