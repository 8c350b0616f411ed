import { LocalTransport, type HostTransport } from '@vmfarm/host';
import type { QemuTargetProfile } from '@vmfarm/protocol';
import {
  BootError,
  TargetRefusedError,
  type Booted,
  type BootSpec,
  type TargetDriver,
} from '@vmfarm/session';
import { existsSync } from 'node:fs';
import { bootFile, instanceVariableStore, startOrClose } from '../common/boot';
import { accepts } from './accepts';
import { describeMachine } from './machine';
import { probeHost, probeHostOver, resolveHostFile, type HostProbe } from './probe';
import { applyOverrides, type MachineOverrides, type QemuProfile } from './profile';
import { QemuSession } from './session';

/** A boot of the qemu driver: the contract's spec, and optionally the host probe to decide with. */
export interface QemuBootSpec extends Omit<BootSpec, 'overrides'> {
  /** Any machine field (the contract's VmOverrides are some of them). */
  overrides?: MachineOverrides;
  /** Probed now when absent (an admin's host paths among the profile's files included). */
  probe?: HostProbe;
  /** The host QEMU runs on (default: this one). The probe must be of that host. */
  transport?: HostTransport;
}

/**
 * Boots `profile` (with the spec's overrides) on QEMU. Refuses, with the reasons, a profile this
 * host cannot run; on any failure after QEMU started, it closes the session before throwing.
 */
export async function boot(profile: QemuProfile, spec: QemuBootSpec): Promise<QemuSession> {
  const effective = applyOverrides(profile, spec.overrides);
  const transport = spec.transport ?? new LocalTransport();
  const files = [effective.firmwareCode, effective.firmwareVars];
  const probe =
    spec.probe ?? (await (transport.remote ? probeHostOver(transport, { files }) : probeHost({ files })));
  const verdict = accepts(effective, probe);
  if (!verdict.ok) throw new TargetRefusedError(effective.id, verdict.reasons);
  if (!existsSync(spec.image)) throw new BootError(`no image at ${spec.image}`);
  const host = (value: string) => bootFile(resolveHostFile(probe, value));
  const session = new QemuSession(
    effective,
    describeMachine(effective),
    spec,
    {
      qemu: probe.binaries[effective.binary]!.path,
      qemuImg: probe.binaries['qemu-img']!.path,
      code: host(effective.firmwareCode),
      varsTemplate: host(effective.firmwareVars),
    },
    transport,
  );
  // A profile for a slow host (a longer boot stage) gives QEMU that long to start, too.
  const bootLimitS = effective.stageLimits?.boot;
  return startOrClose(session, spec.startTimeoutMs ?? (bootLimitS ? bootLimitS * 1000 : 30_000));
}

/**
 * The qemu kind of target on the host `transport` reaches (this one by default), as the agent drives
 * it (the VM-session contract's TargetDriver).
 */
export function qemuDriverOn(transport?: HostTransport): TargetDriver<QemuTargetProfile, HostProbe> {
  return {
    kind: 'qemu',
    probe: () => (transport?.remote ? probeHostOver(transport) : probeHost()),
    accepts,
    boot: (profile, spec, probe) => bootBooted(profile, spec, probe, transport),
  };
}

/** The qemu kind of target on this host. */
export const qemuDriver = qemuDriverOn();

async function bootBooted(
  profile: QemuTargetProfile,
  spec: BootSpec,
  probe: HostProbe,
  transport: HostTransport | undefined,
): Promise<Booted> {
  const variableStore = instanceVariableStore(spec.instanceDir, profile.firmwareVars);
  const session = await boot(profile, { ...spec, probe, transport });
  return {
    session,
    variableStore,
  };
}
