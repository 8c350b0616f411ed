import type { EmulatorTargetProfile } from '@vmfarm/protocol';
import { BootError, TargetRefusedError, type Booted, type TargetDriver } from '@vmfarm/session';
import { existsSync } from 'node:fs';
import { bootFile, instanceVariableStore } from '../common/boot';
import { probeHost, resolveHostFile, type HostProbe } from '../qemu/probe';
import { acceptsEmulator } from './accepts';
import { applyEmulatorOverrides } from './profile';
import { EmulatorSession } from './session';

/** How long boot waits for the worker's first sign of life (loading the firmware and the disk). */
const START_MS = 30_000;

/**
 * The emulator kind of target: QEMU's `virt` machine in TypeScript, in a worker thread, running the
 * host's AAVMF (resolved by name as the qemu driver does). No QEMU binary, hypervisor or root.
 */
export const emulatorDriver: TargetDriver<EmulatorTargetProfile, HostProbe> = {
  kind: 'emulator',
  probe: () => probeHost(),
  accepts: acceptsEmulator,
  async boot(profile, spec, probe): Promise<Booted> {
    const effective = applyEmulatorOverrides(profile, spec.overrides);
    const verdict = acceptsEmulator(effective, probe);
    if (!verdict.ok) throw new TargetRefusedError(effective.id, verdict.reasons);
    if (spec.format !== 'raw')
      throw new TargetRefusedError(effective.id, [
        `image format ${spec.format}: the emulator reads raw images only`,
      ]);
    if (!existsSync(spec.image)) throw new BootError(`no image at ${spec.image}`);
    const host = (name: string) => bootFile(resolveHostFile(probe, name));
    const variableStore = instanceVariableStore(spec.instanceDir, profile.firmwareVars);
    const session = new EmulatorSession(effective, spec.image, spec.instanceDir, {
      code: host(effective.firmwareCode),
      varsTemplate: host(effective.firmwareVars),
    });
    try {
      session.start();
      const state = await session.state(spec.startTimeoutMs ?? START_MS);
      if (!state.running) throw new BootError(`the emulator did not start: ${state.why}`);
    } catch (err) {
      await session.close();
      throw err;
    }
    return {
      session,
      variableStore,
    };
  },
};
