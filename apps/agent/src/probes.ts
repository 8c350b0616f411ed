import type { AgentCapabilities, TargetKind } from '@vmfarm/protocol';
import {
  accepts,
  acceptsEmulator,
  BUNDLED_PROFILES_DIR,
  loadEmulatorProfiles,
  loadProfileInputs,
  probeHost,
  resolveProfiles,
  type HostProbe,
} from '@vmfarm/targets';

export interface ProbeResult {
  ok: boolean;
  /** Shown on the dashboard: binaries found, versions, firmware files, or why not. */
  details: Record<string, unknown>;
}

/** What a host needs to serve one target kind, as data: the qemu and emulator probes join this list. */
export interface KindProbe {
  kind: TargetKind;
  needs: string;
  probe(): Promise<ProbeResult>;
}

/** What the qemu probe reports (under `probes.qemu` of the capabilities; other agents read `host`). */
export interface QemuProbeDetails {
  host: HostProbe;
  /** Bundled qemu profiles this host runs. */
  accepted: string[];
  /** Bundled qemu profiles it cannot run, with why. */
  refused: Record<string, string>;
}

/** Probes the host for the bundled qemu profiles: the agent serves `qemu` when it runs at least one. */
export async function probeQemu(profilesDir = BUNDLED_PROFILES_DIR): Promise<ProbeResult> {
  const { profiles, issues } = resolveProfiles(loadProfileInputs(profilesDir));
  const list = [...profiles.values()];
  const files = [...new Set(list.flatMap((p) => [p.firmwareCode, p.firmwareVars]))];
  const host = await probeHost({ files });
  const details: QemuProbeDetails = { host, accepted: [], refused: {} };
  for (const p of list) {
    const verdict = accepts(p, host);
    if (verdict.ok) details.accepted.push(p.id);
    else details.refused[p.id] = verdict.reason;
  }
  for (const issue of issues) details.refused[issue.path.split('.')[0]] = `invalid profile: ${issue.message}`;
  return { ok: details.accepted.length > 0, details: { ...details } };
}

export const QEMU_NEEDS =
  'qemu-system-aarch64/qemu-system-arm, qemu-img and the AAVMF firmware files of at least one bundled qemu profile (Debian: qemu-system-arm qemu-efi-aarch64 qemu-efi-arm qemu-utils)';

/** Probes the host for the bundled emulator profiles: only the AAVMF files (the machine is in the agent). */
export async function probeEmulator(profilesDir = BUNDLED_PROFILES_DIR): Promise<ProbeResult> {
  const list = [...loadEmulatorProfiles(profilesDir).values()];
  const files = [...new Set(list.flatMap((p) => [p.firmwareCode, p.firmwareVars]))];
  const host = await probeHost({ files });
  const details: QemuProbeDetails = { host, accepted: [], refused: {} };
  for (const p of list) {
    const verdict = acceptsEmulator(p, host);
    if (verdict.ok) details.accepted.push(p.id);
    else details.refused[p.id] = verdict.reason;
  }
  return { ok: details.accepted.length > 0, details: { ...details } };
}

export const EMULATOR_NEEDS =
  'the AAVMF firmware files of at least one bundled emulator profile (Debian: qemu-efi-aarch64); no QEMU, hypervisor or root';

export const PROBES: readonly KindProbe[] = [
  {
    kind: 'static',
    needs: 'nothing beyond the agent: the static suites read the image file',
    probe: async () => ({ ok: true, details: {} }),
  },
  { kind: 'qemu', needs: QEMU_NEEDS, probe: () => probeQemu() },
  { kind: 'emulator', needs: EMULATOR_NEEDS, probe: () => probeEmulator() },
];

/** Runs every probe; a probe that throws counts as "cannot serve", with the reason. */
export async function probeCapabilities(concurrency: number, probes = PROBES): Promise<AgentCapabilities> {
  const results = await Promise.all(
    probes.map(async (p) => {
      try {
        return [p, await p.probe()] as const;
      } catch (err) {
        return [p, { ok: false, details: { error: (err as Error).message } }] as const;
      }
    }),
  );
  return {
    targetKinds: results.filter(([, r]) => r.ok).map(([p]) => p.kind),
    probes: Object.fromEntries(results.map(([p, r]) => [p.kind, { ok: r.ok, needs: p.needs, ...r.details }])),
    concurrency,
  };
}
