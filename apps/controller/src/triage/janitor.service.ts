import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Deletion, DiskUsage, JanitorReport } from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Caller } from '../auth/caller';
import type { ControllerConfig } from '../config';
import { newestPerName } from '../history/analysis';
import type { ImageStore } from '../images/image-store';
import { ImagesRepository } from '../store/images.repository';
import { PoliciesRepository } from '../store/policies.repository';
import { RetentionRepository, type StoredArtifact } from '../store/retention.repository';
import { SchedulesRepository } from '../store/schedules.repository';
import { CONFIG, IMAGE_STORE } from '../tokens';
import { KnownIssuesService } from './known-issues.service';
import { expiredMatrices, removableImages } from './retention';

/** Size of a file, or undefined when it is gone. */
async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await fs.promises.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Retention. Matrices past their policy (schedule, tenant or farm: keep N days, or the newest N)
 * lose their artifacts, except those of a run a known issue (active or expired, not closed)
 * explains and of a run the latest certification of a target or image reads. Image bytes go when
 * no kept matrix ran them, no schedule names or would pick them and no run of them is pending.
 * Verdicts stay: history, regressions and certification never lose a point. Every deletion is
 * logged.
 */
@Injectable()
export class JanitorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Janitor');
  private timer?: NodeJS.Timeout;
  private running?: Promise<JanitorReport>;

  constructor(
    private readonly retention: RetentionRepository,
    private readonly policies: PoliciesRepository,
    private readonly schedules: SchedulesRepository,
    private readonly images: ImagesRepository,
    private readonly knownIssues: KnownIssuesService,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.janitorIntervalSeconds <= 0) return;
    this.timer = setInterval(() => {
      this.run({ dryRun: false }).catch((err: Error) => this.log.warn(`janitor: ${err.message}`));
    }, this.config.janitorIntervalSeconds * 1000);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass (a pass already under way is joined, not run twice). */
  run(options: { dryRun: boolean; now?: Date }): Promise<JanitorReport> {
    if (this.running && !options.dryRun) return this.running;
    const pass = this.pass(options.dryRun, options.now ?? new Date());
    if (!options.dryRun) this.running = pass.finally(() => (this.running = undefined));
    return pass;
  }

  /** Images a schedule names, or would pick if it fired now (by any tag selector, as any owner). */
  private async pinnedImages(): Promise<Set<string>> {
    const pinned = new Set<string>();
    for (const s of await this.schedules.list(Caller.system())) {
      const sel = s.spec.images;
      if ('sha256' in sel) for (const sha of sel.sha256) pinned.add(sha);
      else
        for (const i of newestPerName(await this.images.withEveryTag(sel.tags, Caller.system())))
          pinned.add(i.sha256);
    }
    return pinned;
  }

  private async pass(dryRun: boolean, now: Date): Promise<JanitorReport> {
    const policies = await this.policies.list(Caller.system());
    const expired = expiredMatrices(await this.retention.matrices(), policies, now);
    const artifacts = await this.retention.artifactsOf([...expired.keys()]);
    const runIds = [...new Set(artifacts.map((a) => a.runId))];
    const certification = await this.retention.certificationRuns();
    const fails = await this.retention.failsOf(runIds);
    // An expired issue still guards its evidence: it may be renewed; closing it lets it go.
    const matcher = await this.knownIssues.matcher(now, true);
    const tags = await this.knownIssues.tagsOf(fails.map((f) => f.imageSha256));
    const underIssue = new Set(
      fails
        .filter((f) => matcher.explain({ ...f, imageTags: tags.get(f.imageSha256) ?? [] }).length > 0)
        .map((f) => f.runId),
    );
    const report: JanitorReport = {
      dryRun,
      at: now.toISOString(),
      deleted: { artifacts: 0, images: 0, bytes: 0 },
      kept: { knownIssue: 0, certification: 0 },
      deletions: [],
    };
    for (const a of artifacts) {
      if (certification.has(a.runId)) report.kept.certification++;
      else if (underIssue.has(a.runId)) report.kept.knownIssue++;
      else await this.deleteArtifact(a, expired.get(a.matrixId)!, dryRun, report);
    }
    const pinned = await this.pinnedImages();
    const uses = await this.retention.imageUses();
    const removable = removableImages(
      uses.map((u) => ({
        sha256: u.sha256,
        owner: u.owner,
        createdAt: u.createdAt,
        usedBy: u.matrices,
        pinned: u.running || pinned.has(u.sha256),
      })),
      expired,
      policies,
      now,
    );
    for (const [sha256, reason] of removable) await this.deleteImage(sha256, reason, dryRun, report);
    if (!dryRun && (report.deleted.artifacts || report.deleted.images))
      this.log.log(
        `removed ${report.deleted.artifacts} artifact(s) and ${report.deleted.images} image(s), ${report.deleted.bytes} bytes`,
      );
    return report;
  }

  /** Only files under the data directory are ever removed. */
  private inside(dir: string, file: string): boolean {
    const rel = path.relative(path.join(this.config.dataDir, dir), file);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  }

  private async deleteArtifact(a: StoredArtifact, reason: string, dryRun: boolean, report: JanitorReport) {
    const deletion: Deletion = {
      id: randomUUID(),
      at: report.at,
      kind: 'artifact',
      runId: a.runId,
      attempt: a.attempt,
      name: a.name,
      sha256: null,
      bytes: a.size,
      reason,
    };
    if (!dryRun) {
      if (this.inside('artifacts', a.path)) {
        await fs.promises.rm(a.path, { force: true });
        // The attempt's and run's directories go with their last file.
        for (const dir of [path.dirname(a.path), path.dirname(path.dirname(a.path))])
          await fs.promises.rmdir(dir).catch(() => undefined);
      }
      if (!(await this.retention.artifactDeleted(a, deletion, a.path))) return;
    }
    report.deleted.artifacts++;
    report.deleted.bytes += a.size;
    report.deletions.push({ ...deletion, id: dryRun ? null : deletion.id });
  }

  private async deleteImage(sha256: string, reason: string, dryRun: boolean, report: JanitorReport) {
    const file = this.store.pathOf(sha256);
    const bytes = await sizeOf(file);
    if (bytes === undefined) return;
    const deletion: Deletion = {
      id: randomUUID(),
      at: report.at,
      kind: 'image',
      runId: null,
      attempt: null,
      name: null,
      sha256,
      bytes,
      reason,
    };
    if (!dryRun) {
      await fs.promises.rm(file, { force: true });
      await this.retention.imageDeleted(deletion, file);
    }
    report.deleted.images++;
    report.deleted.bytes += bytes;
    report.deletions.push({ ...deletion, id: dryRun ? null : deletion.id });
  }

  deletions(limit: number): Promise<Deletion[]> {
    return this.retention.deletions(limit);
  }

  /** What the farm stores: image bytes (and how many were removed), artifacts per schedule, the disk. */
  async usage(): Promise<DiskUsage> {
    let count = 0;
    let bytes = 0;
    let removed = 0;
    for (const u of await this.retention.imageUses()) {
      const size = await sizeOf(this.store.pathOf(u.sha256));
      if (size === undefined) removed++;
      else {
        count++;
        bytes += size;
      }
    }
    const bySchedule = await this.retention.artifactUsage();
    let filesystem: DiskUsage['filesystem'] = null;
    try {
      const st = await fs.promises.statfs(this.config.dataDir);
      filesystem = { path: this.config.dataDir, total: st.blocks * st.bsize, free: st.bavail * st.bsize };
    } catch {
      // No statfs here: usage without the disk's figures.
    }
    return {
      images: { count, bytes, removed },
      artifacts: {
        count: bySchedule.reduce((n, s) => n + s.count, 0),
        bytes: bySchedule.reduce((n, s) => n + s.bytes, 0),
      },
      bySchedule: bySchedule.map(({ scheduleId, matrices, bytes: b }) => ({
        scheduleId,
        matrices,
        bytes: b,
      })),
      filesystem,
    };
  }
}
