import type { HostTransport } from '@vmfarm/host';
import type { XenTargetProfile } from '@vmfarm/protocol';
import { TargetRefusedError, type Booted, type BootSpec, type TargetDriver } from '@vmfarm/session';
import { bootFile, startOrClose } from '../common/boot';
import { acceptsXen } from './accepts';
import { probeXenHost, resolveXenFile, type XenProbe } from './probe';
import { bootsFirmware, type XenProfile } from './profile';
import { XEN_EFI_NO_NVRAM, XenSession } from './session';

/** What a boot may not change on Xen: the reasons, for TargetRefusedError. */
function overrideProblems(spec: BootSpec, probe: XenProbe): string[] {
  const o = spec.overrides ?? {};
  const problems: string[] = [];
  if (o.gic !== undefined && o.gic !== probe.gic)
    problems.push(`a Xen domU gets the host's GIC (v${probe.gic ?? '?'}), not GICv${o.gic}`);
  if (o.acpi === 'on')
    problems.push("Debian's Xen is built without ACPI: a domU is described by a device tree only");
  if (o.console !== undefined)
    problems.push(`a Xen domU's console is the PV console (hvc0), not ${o.console}`);
  return problems;
}

/**
 * Boots `profile` on the dom0 behind `transport`: refuses what the host cannot give (with the
 * reasons), closes the session on any failure after the domain was created.
 */
export async function bootXen(
  transport: HostTransport,
  profile: XenProfile,
  spec: BootSpec,
  probe: XenProbe,
): Promise<XenSession> {
  const verdict = acceptsXen(profile, probe);
  const reasons = [...(verdict.ok ? [] : verdict.reasons), ...overrideProblems(spec, probe)];
  if (reasons.length) throw new TargetRefusedError(profile.id, reasons);
  const host = (value: string) => bootFile(resolveXenFile(probe, value));
  const session = new XenSession(
    profile,
    transport,
    spec,
    {
      kernel: host(profile.kernel),
      ramdisk: profile.ramdisk === undefined ? undefined : host(profile.ramdisk),
      xenconsole: probe.xenconsole!,
    },
    probe.gic,
  );
  return startOrClose(session, spec.startTimeoutMs ?? 300_000);
}

/** The xen kind of target on the dom0 behind `transport` (local in a dom0, or SSH to one). */
export function xenDriver(transport: HostTransport): TargetDriver<XenTargetProfile, XenProbe> {
  return {
    kind: 'xen',
    probe: () => probeXenHost(transport),
    accepts: acceptsXen,
    async boot(profile, spec, probe): Promise<Booted> {
      const session = await bootXen(transport, profile, spec, probe);
      return {
        session,
        variableStore: {
          pristine: true,
          template: profile.kernel,
          detail: bootsFirmware(profile)
            ? `${XEN_EFI_NO_NVRAM}: every boot starts with an empty store`
            : 'the kernel is booted directly: no UEFI variable store at all',
        },
      };
    },
  };
}
