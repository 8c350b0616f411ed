import type { RunJobData, VerdictRecord } from '@vmfarm/protocol';
import type { Caller } from '../../src/auth/caller';
import type { EventBus, EventListener, FarmEvent } from '../../src/events/event-bus';
import type { EventsService } from '../../src/events/events.service';
import type { RunQueue } from '../../src/queue/run-queue';
import type { ArtifactStore } from '../../src/runs/artifact-store';
import type { FireHandler, Scheduler } from '../../src/schedules/scheduler';
import type { ImagesRepository } from '../../src/store/images.repository';
import type { AttemptRecord, AttemptRow, RunRow, RunsRepository } from '../../src/store/runs.repository';

/** RunsRepository in memory, with the same once-only guards as the SQL one. */
export class FakeRunsRepository {
  runs = new Map<string, RunRow>();
  attemptRows: AttemptRow[] = [];
  verdicts = new Map<string, VerdictRecord[]>();
  records: AttemptRecord[] = [];
  /** Owner of each matrix (absent: public). */
  matrixOwners = new Map<string, string>();

  addRun(id: string, over: Partial<RunRow> = {}): RunRow {
    const run: RunRow = {
      id,
      matrixId: 'm',
      seq: 0,
      image: 'a'.repeat(64),
      targetId: 'static',
      targetKind: 'static',
      suite: 'static',
      state: 'queued',
      verdict: null,
      attempts: 0,
      finalAttempt: null,
      job: {} as RunJobData,
      createdAt: 't',
      finishedAt: null,
      retryOf: null,
      ...over,
    };
    this.runs.set(id, run);
    return run;
  }

  async get(id: string) {
    return this.runs.get(id);
  }
  async visible(id: string, caller: Caller) {
    const run = this.runs.get(id);
    return run && caller.canRead(this.matrixOwners.get(run.matrixId) ?? null) ? run : undefined;
  }
  async listUnfinished() {
    return [...this.runs.values()].filter((r) => r.state !== 'done');
  }
  async attempts(runId: string) {
    return this.attemptRows.filter((a) => a.runId === runId).sort((a, b) => a.attempt - b.attempt);
  }
  async attemptsOf(runIds: readonly string[]) {
    return new Map(runIds.map((id) => [id, this.attemptRows.filter((a) => a.runId === id)]));
  }
  async unfinishedOf(runIds: readonly string[]) {
    return new Set(runIds.filter((id) => this.runs.get(id)?.state !== 'done'));
  }
  async recordAttempts(recs: readonly AttemptRecord[]) {
    const done = new Set<string>();
    for (const rec of recs) if (await this.recordAttempt(rec)) done.add(rec.runId);
    return done;
  }
  async attempt(runId: string, n: number) {
    return this.attemptRows.find((a) => a.runId === runId && a.attempt === n);
  }
  async finalVerdicts(runs: RunRow[]) {
    return new Map(runs.map((r) => [r.id, this.verdicts.get(`${r.id}/${r.finalAttempt}`) ?? []]));
  }
  async artifacts() {
    return [];
  }
  async startAttempt(runId: string, attempt: number, agentId: string, at: string) {
    for (const a of this.attemptRows)
      if (a.runId === runId && a.attempt < attempt && !a.finishedAt)
        Object.assign(a, { finishedAt: at, outcome: 'lost' });
    if (!this.attemptRows.some((a) => a.runId === runId && a.attempt === attempt))
      this.attemptRows.push({
        runId,
        attempt,
        agentId,
        startedAt: at,
        finishedAt: null,
        outcome: null,
        error: null,
        durationMs: null,
      });
    const run = this.runs.get(runId)!;
    if (run.state !== 'done')
      Object.assign(run, { state: 'running', attempts: Math.max(run.attempts, attempt) });
  }
  async recordAttempt(rec: AttemptRecord) {
    const run = this.runs.get(rec.runId)!;
    const prior = this.attemptRows.find((a) => a.runId === rec.runId && a.attempt === rec.attempt);
    if (prior?.finishedAt || run.state === 'done') return false;
    this.records.push(rec);
    const row = prior ?? {
      runId: rec.runId,
      attempt: rec.attempt,
      agentId: rec.agentId,
      startedAt: null,
      finishedAt: null,
      outcome: null,
      error: null,
      durationMs: null,
    };
    if (!prior) this.attemptRows.push(row);
    Object.assign(row, {
      finishedAt: rec.at,
      outcome: rec.outcome,
      error: rec.error,
      durationMs: rec.durationMs,
    });
    this.verdicts.set(`${rec.runId}/${rec.attempt}`, [...rec.verdicts]);
    const done = rec.runState === 'done';
    Object.assign(run, {
      state: rec.runState,
      verdict: done ? rec.runVerdict : null,
      finalAttempt: done ? rec.attempt : null,
      attempts: Math.max(run.attempts, rec.attempt),
    });
    return true;
  }

  asRepository(): RunsRepository {
    return this as unknown as RunsRepository;
  }
}

export class FakeQueue implements RunQueue {
  added: RunJobData[] = [];
  states = new Map<string, { state: string; failedReason?: string }>();
  failureHandler?: (runId: string, reason: string) => void;
  async enqueue(jobs: readonly RunJobData[]) {
    this.added.push(...jobs);
    for (const j of jobs) if (!this.states.has(j.runId)) this.states.set(j.runId, { state: 'waiting' });
  }
  removed: string[] = [];
  async ping() {}
  async remove(_kind: string, runId: string) {
    this.removed.push(runId);
    return this.states.delete(runId);
  }
  async jobState(_kind: string, runId: string) {
    return this.states.get(runId) ?? { state: 'missing' };
  }
  async refusals() {
    return {};
  }
  onFinalFailure(handler: (runId: string, reason: string) => void) {
    this.failureHandler = handler;
  }
  async close() {}
}

/** An ImagesRepository that only remembers detected architectures. */
export class FakeImages {
  detected = new Map<string, string>();
  async setArchIfUnknown(sha: string, arch: string) {
    if (!this.detected.has(sha)) this.detected.set(sha, arch);
  }
  asRepository(): ImagesRepository {
    return this as unknown as ImagesRepository;
  }
}

/** Events go nowhere (the real bus is tested in events.test.ts). */
export const nullEvents = { runChanged: async () => undefined } as unknown as EventsService;

export const nullArtifacts = { write: async () => '/dev/null' } as unknown as ArtifactStore;

/** BullMQ job schedulers in memory: what is armed, and the fire handler for a test to call. */
export class FakeScheduler implements Scheduler {
  armed = new Map<string, { cron: string; timezone: string }>();
  handler?: FireHandler;
  async upsert(scheduleId: string, cron: string, timezone: string) {
    this.armed.set(scheduleId, { cron, timezone });
  }
  async remove(scheduleId: string) {
    this.armed.delete(scheduleId);
  }
  async ids() {
    return [...this.armed.keys()];
  }
  async start(handler: FireHandler) {
    this.handler = handler;
  }
  async close() {}
}

/** One process's event bus: what Redis pub/sub carries, JSON round trip included, without Redis. */
export class LocalEventBus implements EventBus {
  private readonly listeners = new Set<EventListener>();
  async publish(event: FarmEvent) {
    for (const l of this.listeners) l(JSON.parse(JSON.stringify(event)) as FarmEvent);
  }
  async subscribe(listener: EventListener) {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  listenerCount() {
    return this.listeners.size;
  }
  async close() {
    this.listeners.clear();
  }
}
