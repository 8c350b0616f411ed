/**
 * The stage runner of the live suites: a suite is a pipeline of named stages (LAVA's actions), each
 * with a time limit the target profile may override (`stageLimits`, seconds). A stage's own waits get
 * its limit as their timeout (`deadlineMs`); the runner cuts a stage still running STAGE_GRACE_MS
 * after its limit: it fires the suite's signal, closes every VM the suite booted, and the clauses not
 * judged yet end as ERROR naming the stage.
 */
import {
  verdictFor,
  type Stage,
  type TargetProfile,
  type Verdict,
  type VerdictRecord,
} from '@vmfarm/protocol';
import type { BootedVm, VmOverrides, VmSession } from '@vmfarm/session';
import type { SuiteContext, SuiteOutcome } from '../suite';
import { imageChecks } from './blame';
import { imageOf } from './readiness';

/** Default limits in seconds: a TCG boot of the reference guest is ready in 3–25 s; distro images take longer. */
export const DEFAULT_STAGE_LIMITS_S: Readonly<Record<Stage, number>> = {
  boot: 120,
  ready: 180,
  act: 300,
  observe: 60,
  judge: 30,
};
/** The whole attempt (the agent's limit): the longest suite boots up to four instances. */
export const DEFAULT_ATTEMPT_LIMIT_S = 3600;
/** How long after its limit a stage that does not end by itself is cut. */
export const STAGE_GRACE_MS = 2000;

/** A limit in ms: the profile's, else the default. */
export function limitMs(target: TargetProfile, stage: Stage | 'attempt'): number {
  const own = target.stageLimits?.[stage];
  return 1000 * (own ?? (stage === 'attempt' ? DEFAULT_ATTEMPT_LIMIT_S : DEFAULT_STAGE_LIMITS_S[stage]));
}

/** A stage ran over its limit: the farm's ERROR (the guest's slowness is judged by the stage's own waits). */
export class StageTimeoutError extends Error {
  override name = 'StageTimeoutError';
  constructor(
    readonly stage: Stage,
    readonly label: string,
    readonly limitMs: number,
  ) {
    super(`the ${stage} stage (${label}) overran its limit of ${limitMs / 1000} s`);
  }
}

export interface StageTiming {
  stage: Stage;
  label: string;
  ms: number;
  overran?: true;
}

/** What a stage's body gets: the suite's signal, and its time (the limit) for its own waits. */
export interface StageBudget {
  signal: AbortSignal;
  deadlineMs: number;
}

export class Stages {
  private readonly controller = new AbortController();
  /** Fires when the attempt is aborted (ctx.signal) or a stage overruns: SuiteContext.signal's meaning. */
  readonly signal: AbortSignal = this.controller.signal;
  readonly timings: StageTiming[] = [];
  private readonly sessions = new Set<VmSession>();
  private readonly forward = () => this.stop(this.ctx.signal.reason);

  constructor(private readonly ctx: SuiteContext) {
    if (ctx.signal.aborted) this.controller.abort(ctx.signal.reason);
    else ctx.signal.addEventListener('abort', this.forward, { once: true });
  }

  limitMs(stage: Stage): number {
    return limitMs(this.ctx.target, stage);
  }

  /** Runs one stage under its limit. */
  async run<T>(stage: Stage, label: string, body: (budget: StageBudget) => Promise<T> | T): Promise<T> {
    if (this.signal.aborted) throw this.signal.reason;
    const limit = this.limitMs(stage);
    const started = Date.now();
    const timing: StageTiming = { stage, label, ms: 0 };
    this.timings.push(timing);
    let timer: NodeJS.Timeout | undefined;
    let onAbort = () => {};
    const cut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StageTimeoutError(stage, label, limit)), limit + STAGE_GRACE_MS);
      onAbort = () => reject(this.signal.reason);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
    const work = Promise.resolve().then(() => body({ signal: this.signal, deadlineMs: limit }));
    work.catch(() => {}); // it may settle after the race is lost: nobody waits for it then
    try {
      const value = await Promise.race([work, cut]);
      // A stage that kept the event loop to itself could not be cut in time: it overran all the same.
      if (Date.now() - started > limit + STAGE_GRACE_MS) throw new StageTimeoutError(stage, label, limit);
      return value;
    } catch (err) {
      if (err instanceof StageTimeoutError) {
        timing.overran = true;
        await this.stop(err);
      }
      throw err;
    } finally {
      clearTimeout(timer);
      this.signal.removeEventListener('abort', onAbort);
      timing.ms = Date.now() - started;
    }
  }

  /** The `boot` stage of one instance; the VM is tracked so that an overrun or an abort closes it. */
  boot(overrides: VmOverrides, label: string): Promise<BootedVm> {
    const vm = this.ctx.vm;
    if (!vm)
      throw new Error(`target ${this.ctx.target.id} (kind ${this.ctx.target.kind}) gives this suite no VM`);
    return this.run('boot', label, async () => {
      const booted = await vm.boot(overrides);
      this.sessions.add(booted.session);
      if (this.signal.aborted) await booted.session.close();
      return booted;
    });
  }

  /** Fires the signal and closes every VM of the suite (their pending waits end at once). */
  private async stop(reason: unknown): Promise<void> {
    if (!this.signal.aborted) this.controller.abort(reason);
    await Promise.all([...this.sessions].map((s) => s.close().catch(() => undefined)));
  }

  dispose(): void {
    this.ctx.signal.removeEventListener('abort', this.forward);
  }
}

export type VerdictMaker = (
  clauseId: string,
  verdict: Verdict,
  message: string,
  evidence?: Record<string, unknown>,
) => VerdictRecord;

/** `verdictFor` of @vmfarm/protocol with the suite id filled in. */
export const verdictMaker =
  (suite: string): VerdictMaker =>
  (clauseId, verdict, message, evidence = {}) =>
    verdictFor(suite, clauseId, verdict, message, evidence);

/** The clauses a live suite has not judged yet, as `verdict` with `message`. */
export function unjudged(
  suite: string,
  clauses: readonly string[],
  judged: readonly VerdictRecord[],
  verdict: Verdict,
  message: string,
  evidence: Record<string, unknown> = {},
): VerdictRecord[] {
  const done = new Set(judged.map((j) => j.clause));
  return clauses.filter((c) => !done.has(c)).map((c) => verdictFor(suite, c, verdict, message, evidence));
}

/**
 * Runs a live suite's body in stages: verdicts it pushes to `out` are kept; an exception (a VM that
 * cannot be started, a guest that stops answering, a stage over its limit, the attempt aborted)
 * turns the clauses not yet judged into ERROR with its message. Every verdict carries what the
 * image's static checks said (`imageChecks`), when the agent ran them.
 */
export async function runLive(
  ctx: SuiteContext,
  suite: string,
  clauses: readonly string[],
  body: (out: VerdictRecord[], stages: Stages, ctx: SuiteContext) => Promise<void>,
): Promise<SuiteOutcome> {
  const image = imageOf(ctx);
  const stages = new Stages(ctx);
  const out: VerdictRecord[] = [];
  try {
    // The suite's signal is the stages': it fires on the attempt's abort and on any stage's limit.
    await body(out, stages, { ...ctx, signal: stages.signal });
  } catch (err) {
    const e = err as Error;
    if (err instanceof StageTimeoutError)
      out.push(
        ...unjudged(suite, clauses, out, 'ERROR', `${e.message}; its VMs were closed`, {
          stage: err.stage,
          limitMs: err.limitMs,
          stages: stages.timings,
        }),
      );
    else {
      const message = ctx.signal.aborted ? 'not evaluated: the run was aborted' : `${e.name}: ${e.message}`;
      out.push(...unjudged(suite, clauses, out, 'ERROR', message));
    }
  } finally {
    stages.dispose();
  }
  const order = new Map(clauses.map((c, i) => [c, i]));
  out.sort((a, b) => (order.get(a.clause) ?? 99) - (order.get(b.clause) ?? 99));
  const checks = imageChecks(ctx);
  return {
    verdicts: checks ? out.map((v) => ({ ...v, evidence: { ...v.evidence, imageChecks: checks } })) : out,
    image,
  };
}
