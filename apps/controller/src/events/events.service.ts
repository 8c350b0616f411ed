import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import type { RunView } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import { Caller } from '../auth/caller';
import { ApiHttpError, notFound } from '../errors';
import { MatricesRepository } from '../store/matrices.repository';
import { RunsRepository } from '../store/runs.repository';
import { EVENT_BUS } from '../tokens';
import type { EventBus, FarmEvent } from './event-bus';
import { matrixEvent, SSE_HEARTBEAT, sseFrame } from './frames';

const HEARTBEAT_MS = 15_000;

export interface EventFilter {
  matrix?: string;
}

/** Publishes run and matrix changes to every controller, and serves them to SSE clients. */
@Injectable()
export class EventsService implements OnModuleDestroy, OnApplicationShutdown {
  private readonly log = new Logger('Events');
  /** Open streams, each with its clean-up. */
  private readonly streams = new Map<Response, () => void>();

  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    private readonly runs: RunsRepository,
    private readonly matrices: MatricesRepository,
  ) {}

  /** Who owns a matrix (looked up once per event, not once per listening stream). */
  private async ownerOf(matrixId: string): Promise<string | null> {
    const matrix = await this.matrices.get(matrixId, Caller.system());
    if (!matrix) throw new Error(`no matrix ${matrixId}`);
    return matrix.owner;
  }

  /** A run changed state or got a result: its view, then its matrix's progress. */
  async runChanged(view: RunView): Promise<void> {
    const owner = await this.ownerOf(view.matrixId);
    await this.bus.publish({ type: 'run', matrixId: view.matrixId, owner, data: view });
    await this.publishMatrix(view.matrixId, owner);
  }

  async matrixChanged(matrixId: string): Promise<void> {
    await this.publishMatrix(matrixId, await this.ownerOf(matrixId));
  }

  private async publishMatrix(matrixId: string, owner: string | null): Promise<void> {
    const runs = await this.runs.listByMatrix(matrixId);
    await this.bus.publish({ type: 'matrix', matrixId, owner, data: matrixEvent(matrixId, runs) });
  }

  /** Which events a client sees: those of matrices its caller may read, of one matrix if asked. */
  private visible(event: FarmEvent, filter: EventFilter, caller: Caller): boolean {
    return (filter.matrix === undefined || event.matrixId === filter.matrix) && caller.canRead(event.owner);
  }

  /**
   * Serves `text/event-stream` until the client goes away or the controller shuts down. A matrix
   * the caller may not see is a 404, as on GET /api/matrices/:id.
   */
  async stream(req: Request, res: Response, filter: EventFilter, caller: Caller): Promise<void> {
    if (filter.matrix !== undefined && !(await this.matrices.get(filter.matrix, caller)))
      throw notFound(`no matrix ${filter.matrix}`);
    // The listener is live before subscribe() resolves (another stream may hold the subscription):
    // frames wait until the headers are out, or the first one would send them as text/plain.
    let waiting: string[] | null = [];
    const send = (frame: string) => (waiting ? waiting.push(frame) : res.write(frame));
    let unsubscribe: () => void;
    try {
      unsubscribe = await this.bus.subscribe((event) => {
        if (this.visible(event, filter, caller)) send(sseFrame(event.type, event.data));
      });
    } catch (err) {
      throw new ApiHttpError(503, `events unavailable: ${(err as Error).message}`);
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // nginx and similar proxies would otherwise buffer the stream.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(': connected\n\n');
    for (const frame of waiting) res.write(frame);
    waiting = null;
    const heartbeat = setInterval(() => res.write(SSE_HEARTBEAT), HEARTBEAT_MS);
    const cleanup = () => {
      if (!this.streams.delete(res)) return;
      clearInterval(heartbeat);
      unsubscribe();
    };
    this.streams.set(res, cleanup);
    req.on('close', cleanup);
    res.on('close', cleanup);
  }

  /** Listeners still subscribed in this process. */
  listenerCount(): number {
    return this.bus.listenerCount();
  }

  /** Before the HTTP server closes: it would otherwise wait for these endless responses. */
  onModuleDestroy(): void {
    for (const [res, cleanup] of [...this.streams]) {
      cleanup();
      res.end();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close().catch((err: Error) => this.log.warn(`closing the event bus: ${err.message}`));
  }
}
