import type { AgentCapabilities, TargetKind } from '@vmfarm/protocol';

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

export const PROBES: readonly KindProbe[] = [
  {
    kind: 'static',
    needs: 'nothing beyond the agent: the static suites read the image file',
    probe: async () => ({ ok: true, details: {} }),
  },
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
