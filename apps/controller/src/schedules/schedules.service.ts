import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type {
  ImageResource,
  MatrixRequest,
  MatrixView,
  ScheduleCreate,
  ScheduleFire,
  SchedulePatch,
  ScheduleView,
  TargetProfile,
} from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import { Caller } from '../auth/caller';
import { ApiHttpError, badRequest, conflict, notFound, type FieldError } from '../errors';
import { newestPerName } from '../history/analysis';
import { MatricesService } from '../matrices/matrices.service';
import { ImagesRepository } from '../store/images.repository';
import { MatricesRepository } from '../store/matrices.repository';
import { RunsRepository } from '../store/runs.repository';
import { SchedulesRepository, type ScheduleRow } from '../store/schedules.repository';
import { SUITE_CATALOG, type SuiteCatalog } from '../suites';
import { TargetsService } from '../targets/targets.service';
import type { ControllerConfig } from '../config';
import { CONFIG, SCHEDULER } from '../tokens';
import { cronErrors, nextFire, type Scheduler } from './scheduler';

const isAll = (list: readonly string[]) => list.length === 1 && list[0] === 'all';

/**
 * Whom a schedule acts as when it fires (and whose view its targets and images are checked
 * against): its tenant, as that tenant's vendor would; the controller itself for a public one.
 */
function actingFor(s: Pick<ScheduleRow, 'id' | 'name' | 'owner'>): Caller {
  return s.owner === null
    ? Caller.system()
    : new Caller({ id: `schedule:${s.id}`, name: `schedule ${s.name}`, role: 'vendor', tenant: s.owner });
}

/**
 * Recurring matrices. SQL holds the schedules and every fire; BullMQ job schedulers say when. A fire
 * is claimed once per due time, so a cron job, the start-up catch-up and a second controller never
 * submit the same one twice.
 */
@Injectable()
export class SchedulesService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Schedules');

  constructor(
    private readonly schedules: SchedulesRepository,
    private readonly matrixRows: MatricesRepository,
    private readonly runs: RunsRepository,
    private readonly images: ImagesRepository,
    private readonly targets: TargetsService,
    private readonly matrices: MatricesService,
    @Inject(SUITE_CATALOG) private readonly suites: SuiteCatalog,
    @Inject(SCHEDULER) private readonly scheduler: Scheduler,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  /**
   * Re-arms every schedule, then runs each one that missed a fire while no controller ran: once,
   * however many fires it missed.
   */
  async onApplicationBootstrap(): Promise<void> {
    const all = await this.schedules.list(Caller.system());
    const now = Date.now();
    const missed = all.filter((s) => s.enabled && s.nextRunAt !== null && Date.parse(s.nextRunAt) <= now);
    const known = new Set(all.map((s) => s.id));
    for (const id of await this.scheduler.ids()) if (!known.has(id)) await this.scheduler.remove(id);
    for (const s of all) await this.arm(s);
    await this.scheduler.start((id, dueAt) => this.fire(id, dueAt, 'cron'));
    for (const s of missed) {
      this.log.log(`schedule ${s.id} (${s.name}) missed its fire at ${s.nextRunAt}: catching up once`);
      await this.fire(s.id, new Date(s.nextRunAt!), 'catch-up');
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.scheduler.close();
  }

  /** Job scheduler on or off as the schedule says; the next fire time kept in SQL for views and catch-up. */
  private async arm(s: ScheduleRow): Promise<void> {
    if (s.enabled) {
      await this.scheduler.upsert(s.id, s.cron, s.timezone);
      await this.schedules.setNextRunAt(s.id, nextFire(s.cron, s.timezone, new Date()).toISOString());
    } else {
      await this.scheduler.remove(s.id);
      await this.schedules.setNextRunAt(s.id, null);
    }
  }

  /**
   * Cron, time zone, and targets, suites and images that exist ('all' alone); targets and images
   * as the schedule's owner sees them.
   */
  private async validate(s: ScheduleRow): Promise<void> {
    const errors: FieldError[] = cronErrors(s.cron, s.timezone, this.config.limits.scheduleIntervalSeconds);
    const { images, targets, suites } = s.spec;
    const owner = actingFor(s);
    if ('sha256' in images) {
      const known = new Set((await this.images.getMany(images.sha256, owner)).map((i) => i.sha256));
      for (const [i, sha] of images.sha256.entries())
        if (!known.has(sha)) errors.push({ path: `images.sha256.${i}`, message: `unknown image ${sha}` });
    }
    if (!isAll(targets))
      for (const [i, t] of targets.entries())
        if (!(await this.targets.find(t, owner)))
          errors.push({
            path: `targets.${i}`,
            message: t === 'all' ? "'all' must be alone" : `unknown target ${t}`,
          });
    if (!isAll(suites))
      for (const [i, id] of suites.entries())
        if (!this.suites.get(id))
          errors.push({
            path: `suites.${i}`,
            message: id === 'all' ? "'all' must be alone" : `unknown suite ${id}`,
          });
    if (errors.length) throw badRequest(`invalid schedule: ${errors[0].path}: ${errors[0].message}`, errors);
  }

  /** 404 for a schedule the caller may not see, as for one that does not exist. */
  private async row(id: string, caller: Caller): Promise<ScheduleRow> {
    const s = await this.schedules.get(id, caller);
    if (!s) throw notFound(`no schedule ${id}`);
    return s;
  }

  /** A schedule the caller may change: 404 if it may not see it, 403 if it only sees it (public). */
  private async writable(id: string, caller: Caller): Promise<ScheduleRow> {
    const s = await this.row(id, caller);
    if (!caller.canWrite(s.owner))
      throw new ApiHttpError(403, `schedule ${id} is public: only an admin may change or run it`);
    return s;
  }

  private async view(s: ScheduleRow, caller: Caller): Promise<ScheduleView> {
    const [last] = await this.matrixRows.list({ limit: 1 }, caller, { scheduleId: s.id });
    return {
      id: s.id,
      name: s.name,
      cron: s.cron,
      timezone: s.timezone,
      images: s.spec.images,
      targets: s.spec.targets,
      suites: s.spec.suites,
      ready: s.spec.ready,
      enabled: s.enabled,
      owner: s.owner,
      nextRunAt: s.enabled ? s.nextRunAt : null,
      lastMatrixId: last?.id ?? null,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    };
  }

  /** The schedule is the caller's: its tenant's for a vendor, public for an admin. */
  async create(input: ScheduleCreate, caller: Caller): Promise<ScheduleView> {
    const now = new Date().toISOString();
    const s: ScheduleRow = {
      id: randomUUID(),
      name: input.name,
      cron: input.cron,
      timezone: input.timezone,
      spec: {
        images: input.images,
        targets: input.targets,
        suites: input.suites,
        ready: input.ready ?? null,
      },
      enabled: input.enabled,
      owner: caller.owner,
      nextRunAt: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.validate(s);
    await this.schedules.insert(s);
    try {
      await this.arm(s);
    } catch (err) {
      await this.schedules.delete(s.id);
      throw new ApiHttpError(503, `cannot arm the schedule in Redis: ${(err as Error).message}`);
    }
    return this.get(s.id, caller);
  }

  async get(id: string, caller: Caller): Promise<ScheduleView> {
    return this.view(await this.row(id, caller), caller);
  }

  async list(caller: Caller, page: { limit: number; offset: number }): Promise<ScheduleView[]> {
    return Promise.all((await this.schedules.list(caller, page)).map((s) => this.view(s, caller)));
  }

  /** The owner stays: an admin changing a vendor's schedule leaves it that vendor's. */
  async update(id: string, patch: SchedulePatch, caller: Caller): Promise<ScheduleView> {
    const old = await this.writable(id, caller);
    const s: ScheduleRow = {
      ...old,
      name: patch.name ?? old.name,
      cron: patch.cron ?? old.cron,
      timezone: patch.timezone ?? old.timezone,
      enabled: patch.enabled ?? old.enabled,
      spec: {
        images: patch.images ?? old.spec.images,
        targets: patch.targets ?? old.spec.targets,
        suites: patch.suites ?? old.spec.suites,
        ready: patch.ready === undefined ? old.spec.ready : patch.ready,
      },
      updatedAt: new Date().toISOString(),
    };
    await this.validate(s);
    if (!(await this.schedules.update(s))) throw notFound(`no schedule ${id}`);
    await this.arm(s);
    return this.get(id, caller);
  }

  async delete(id: string, caller: Caller): Promise<void> {
    await this.writable(id, caller);
    if (!(await this.schedules.delete(id))) throw notFound(`no schedule ${id}`);
    await this.scheduler.remove(id);
  }

  async fires(id: string, page: { limit: number; offset: number }, caller: Caller): Promise<ScheduleFire[]> {
    await this.row(id, caller);
    return this.schedules.fires(id, page);
  }

  /** The schedule's newest matrix when it still has runs not done. */
  private async running(scheduleId: string): Promise<string | undefined> {
    const [last] = await this.matrixRows.list({ limit: 1 }, Caller.system(), { scheduleId });
    if (!last) return undefined;
    const runs = await this.runs.listByMatrix(last.id);
    return runs.some((r) => r.state !== 'done') ? last.id : undefined;
  }

  /**
   * What the schedule submits now, from the images and targets its owner sees: tag selectors pick
   * the newest version of each image name.
   */
  private async request(s: ScheduleRow, owner: Caller): Promise<MatrixRequest> {
    const selector = s.spec.images;
    let images: ImageResource[] | undefined;
    if ('tags' in selector) {
      images = newestPerName(await this.images.withEveryTag(selector.tags, owner));
      if (images.length === 0) throw badRequest(`no image carries every tag of: ${selector.tags.join(', ')}`);
    }
    const shas = images ? images.map((i) => i.sha256) : 'sha256' in selector ? selector.sha256 : [];
    let targets = s.spec.targets;
    if (isAll(targets)) {
      const arches = new Set(
        (images ?? (await this.images.getMany(shas, owner))).flatMap((i) => (i.arch ? [i.arch] : [])),
      );
      const suites = isAll(s.spec.suites)
        ? this.suites.list()
        : this.suites.list().filter((x) => s.spec.suites.includes(x.id));
      const usable = (t: TargetProfile) =>
        suites.some((x) => x.targetKinds.includes(t.kind)) && [...arches].every((a) => t.arch.includes(a));
      targets = (await this.targets.list(owner)).filter(usable).map((t) => t.id);
      if (targets.length === 0) throw badRequest('no target can run these suites on these images');
    }
    return {
      images: shas,
      targets,
      suites: s.spec.suites,
      ...(s.spec.ready === null ? {} : { ready: s.spec.ready }),
    };
  }

  /** Submits the matrix of one claimed fire, as the schedule's owner, and records how it went. */
  private async submit(s: ScheduleRow, dueAt: string): Promise<MatrixView> {
    const owner = actingFor(s);
    try {
      const matrix = await this.matrices.create(await this.request(s, owner), owner, s.id);
      await this.schedules.settleFire(s.id, dueAt, 'started', matrix.id, null);
      return matrix;
    } catch (err) {
      const e = err as Error & { errors?: FieldError[] };
      const details = (e.errors ?? []).map((x) => `${x.path}: ${x.message}`);
      await this.schedules.settleFire(s.id, dueAt, 'failed', null, [e.message, ...details].join('; '));
      throw err;
    }
  }

  /**
   * One due time of a schedule. Skipped (and recorded so) while the schedule's previous matrix still
   * runs: overlapping fires are never queued up behind it.
   */
  async fire(id: string, dueAt: Date, trigger: ScheduleFire['trigger']): Promise<void> {
    const s = await this.schedules.get(id, Caller.system());
    if (!s) {
      // Deleted while its job was due.
      await this.scheduler.remove(id);
      return;
    }
    const due = dueAt.toISOString();
    const now = new Date();
    if (!(await this.schedules.claimFire(id, { dueAt: due, firedAt: now.toISOString(), trigger }))) return;
    if (s.enabled)
      await this.schedules.setNextRunAt(
        id,
        nextFire(s.cron, s.timezone, new Date(Math.max(now.getTime(), dueAt.getTime()))).toISOString(),
      );
    const running = await this.running(id);
    if (running) {
      await this.schedules.settleFire(id, due, 'skipped', null, `matrix ${running} is still running`);
      this.log.log(`schedule ${id}: fire at ${due} skipped, matrix ${running} is still running`);
      return;
    }
    try {
      const matrix = await this.submit(s, due);
      this.log.log(`schedule ${id}: fire at ${due} (${trigger}) submitted matrix ${matrix.id}`);
    } catch (err) {
      this.log.warn(`schedule ${id}: fire at ${due} (${trigger}) failed: ${(err as Error).message}`);
    }
  }

  /**
   * `POST /api/schedules/:id/run`: a fire now, refused while the previous matrix still runs. It
   * runs as the schedule's owner whoever asked, like its cron fires.
   */
  async runNow(id: string, caller: Caller): Promise<MatrixView> {
    const s = await this.writable(id, caller);
    const running = await this.running(id);
    if (running) throw conflict(`schedule ${id}: matrix ${running} is still running`);
    const due = new Date().toISOString();
    if (!(await this.schedules.claimFire(id, { dueAt: due, firedAt: due, trigger: 'manual' })))
      throw conflict(`schedule ${id} already fired at ${due}`);
    return this.submit(s, due);
  }
}
