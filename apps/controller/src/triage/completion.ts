import { Injectable, Logger } from '@nestjs/common';

export type MatrixListener = (matrixId: string) => Promise<void>;

/**
 * Runs finishing, told to whoever settles matrices (triage) without RunsService depending on it.
 * A listener that fails is logged: the periodic sweep settles what it missed.
 */
@Injectable()
export class RunCompletion {
  private readonly log = new Logger('RunCompletion');
  private readonly listeners: MatrixListener[] = [];

  listen(listener: MatrixListener): void {
    this.listeners.push(listener);
  }

  /** A run of this matrix is done: in the background, so that an agent's call never waits on it. */
  runDone(matrixId: string): void {
    for (const l of this.listeners)
      l(matrixId).catch((err: Error) => this.log.warn(`matrix ${matrixId}: ${err.message}`));
  }
}
