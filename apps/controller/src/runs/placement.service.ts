import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { isHostPath, type TargetKind } from '@vmfarm/protocol';
import { AgentsService } from '../agents/agents.service';
import type { ControllerConfig } from '../config';
import { unplaceable, type PlacementAgent } from '../matrices/placement';
import { Periodic } from '../periodic';
import type { RunQueue } from '../queue/run-queue';
import { RunsRepository } from '../store/runs.repository';
import { CONFIG, RUN_QUEUE } from '../tokens';
import { RunsService } from './runs.service';

/**
 * Placement: the controller has every agent's probe, so it decides that no online agent can run a
 * waiting run (its target's kind is served by none, or every probe refuses the profile, or every
 * agent that could took it and refused). Such a run waits out the grace period (agents may be
 * coming online), then is recorded SKIP with the reasons and its job leaves the queue: a job nobody
 * can take would otherwise keep its matrix running forever. Agents only hand back what they refuse.
 */
@Injectable()
export class PlacementService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Placement');
  private readonly periodic = new Periodic(
    () => this.pass(),
    (err) => this.log.warn(`placement failed: ${err.message}`),
  );
  /** Run id → when placement first found no agent for it (in this process). */
  private readonly stuckSince = new Map<string, number>();
  /** Jobs of runs recorded SKIP that an agent held at that moment: removed at a later pass. */
  private readonly leftJobs = new Map<string, TargetKind>();

  constructor(
    private readonly runs: RunsRepository,
    private readonly service: RunsService,
    private readonly agents: AgentsService,
    @Inject(RUN_QUEUE) private readonly queue: RunQueue,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  private get graceMs(): number {
    return this.config.placementGraceSeconds * 1000;
  }

  onApplicationBootstrap(): void {
    // Often enough that a grace period ends about on time, never busier than twice a second.
    this.periodic.start(Math.min(5000, Math.max(500, this.graceMs / 4)));
  }

  onModuleDestroy(): Promise<void> {
    return this.periodic.stop();
  }

  /** One look at the waiting runs; returns the ids recorded SKIP. */
  async pass(now = Date.now()): Promise<string[]> {
    await this.removeLeftJobs();
    const waiting = await this.runs.listWaitingForHosts();
    const online: PlacementAgent[] = await this.agents.online(now);
    const skipped: string[] = [];
    const seen = new Set<string>();
    // A matrix's runs share few targets: each is judged once a pass unless its runs' refusals count.
    const byTarget = new Map<string, string | undefined>();
    for (const run of waiting) {
      seen.add(run.id);
      const target = run.job.target;
      const kind = target.kind;
      // Only a profile naming host paths can pass an agent's start-up probe and still be refused
      // when the job is taken: only then are the job's refusals worth a look in Redis.
      const namesHostPaths =
        kind === 'qemu' && (isHostPath(target.firmwareCode) || isHostPath(target.firmwareVars));
      let why: string | undefined;
      if (namesHostPaths) why = unplaceable(target, online, await this.queue.refusals(kind, run.id));
      else {
        // Keyed by the whole profile: a user profile changed between two matrices is another target.
        const key = JSON.stringify(target);
        if (!byTarget.has(key)) byTarget.set(key, unplaceable(target, online));
        why = byTarget.get(key);
      }
      if (why === undefined) {
        this.stuckSince.delete(run.id);
        continue;
      }
      const since = this.stuckSince.get(run.id) ?? now;
      this.stuckSince.set(run.id, since);
      if (now - since < this.graceMs) continue;
      this.stuckSince.delete(run.id);
      if (!(await this.service.recordUnplaceable(run, why))) continue;
      skipped.push(run.id);
      this.log.log(`run ${run.id}: SKIP, no online agent can run target ${target.id}: ${why}`);
      this.leftJobs.set(run.id, kind);
    }
    for (const id of this.stuckSince.keys()) if (!seen.has(id)) this.stuckSince.delete(id);
    await this.removeLeftJobs();
    return skipped;
  }

  /** The jobs of runs recorded SKIP leave the queue (one an agent holds right now stays for later). */
  private async removeLeftJobs(): Promise<void> {
    for (const [runId, kind] of this.leftJobs) {
      const { state } = await this.queue.jobState(kind, runId);
      if (state === 'missing' || (await this.queue.remove(kind, runId))) this.leftJobs.delete(runId);
    }
  }
}
