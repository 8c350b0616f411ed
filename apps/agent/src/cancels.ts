/** The reason an attempt was aborted when its run was cancelled on the controller. */
export class Cancelled extends Error {
  override name = 'Cancelled';
}

/**
 * The attempts this agent runs, by run id, so that a heartbeat answer naming cancelled runs stops
 * them: their VMs are closed and no result is posted (the controller already recorded the run).
 */
export class RunningAttempts {
  private readonly byRun = new Map<string, AbortController>();

  /** Tracks an attempt until the function it returns is called. */
  track(runId: string, abort: AbortController): () => void {
    this.byRun.set(runId, abort);
    return () => {
      if (this.byRun.get(runId) === abort) this.byRun.delete(runId);
    };
  }

  /** Aborts every running attempt with `reason` (the agent's grace period on stop is over). */
  abortAll(reason: Error): void {
    for (const abort of this.byRun.values()) abort.abort(reason);
  }

  /** Aborts the attempts of these runs; returns the ids it stopped. */
  cancel(runIds: readonly string[]): string[] {
    const stopped: string[] = [];
    for (const id of runIds) {
      const abort = this.byRun.get(id);
      if (!abort || abort.signal.aborted) continue;
      abort.abort(new Cancelled(`run ${id} was cancelled on the controller`));
      stopped.push(id);
    }
    return stopped;
  }
}
