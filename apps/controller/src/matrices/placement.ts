import { isHostPath, type AgentCapabilities, type TargetProfile } from '@vmfarm/protocol';
import { accepts, type HostProbe } from '@vmfarm/targets';

/** What placement reads of an online agent: its name and what it probed at registration. */
export interface PlacementAgent {
  id: string;
  name: string;
  capabilities: AgentCapabilities;
}

/**
 * The qemu probe as far as the controller can judge it: a host path the agent's start-up probe did
 * not look at (an admin's profile may name any) counts as present, and the agent that takes the job
 * looks and refuses it when it is not (its refusal then counts here through `refusedBy`).
 */
function assumingUnprobedFiles(host: HostProbe, target: TargetProfile & { kind: 'qemu' }): HostProbe {
  const unprobed = [target.firmwareCode, target.firmwareVars].filter(
    (f) => isHostPath(f) && !(f in host.files),
  );
  if (!unprobed.length) return host;
  return { ...host, files: { ...host.files, ...Object.fromEntries(unprobed.map((f) => [f, true])) } };
}

/** Why this agent cannot run the target, or undefined when it can as far as its probe says. */
function refusal(target: TargetProfile, agent: PlacementAgent): string | undefined {
  if (!agent.capabilities.targetKinds.includes(target.kind))
    return `it does not serve ${target.kind} targets`;
  if (target.kind !== 'qemu') return undefined;
  const host = (agent.capabilities.probes.qemu as { host?: HostProbe } | undefined)?.host;
  if (!host) return 'qemu was not probed';
  const verdict = accepts(target, assumingUnprobedFiles(host, target));
  return verdict.ok ? undefined : verdict.reason;
}

/**
 * Whether a waiting run of `target` has an online agent that can take it: undefined when one can
 * (or when every agent serves the kind: static), else why none can, for the run's SKIP verdicts.
 * `refusedBy` holds the agents that took the job and refused it (agent id: reason).
 */
export function unplaceable(
  target: TargetProfile,
  online: readonly PlacementAgent[],
  refusedBy: Readonly<Record<string, string>> = {},
): string | undefined {
  // Every agent runs static targets: such a run waits for any agent, as it always did.
  if (target.kind === 'static') return undefined;
  if (online.length === 0) return 'no agent is online';
  const byReason = new Map<string, string[]>();
  for (const agent of online) {
    const why = Object.hasOwn(refusedBy, agent.id) ? refusedBy[agent.id] : refusal(target, agent);
    if (why === undefined) return undefined;
    byReason.set(why, [...(byReason.get(why) ?? []), agent.name]);
  }
  // One reason for the whole farm reads as it is; several say which agents gave which.
  if (byReason.size === 1) return [...byReason.keys()][0];
  return [...byReason].map(([why, names]) => `${names.join(', ')}: ${why}`).join('; ');
}
