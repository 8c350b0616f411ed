import { Logger } from '@nestjs/common';
import { redisConnection } from '@vmfarm/host';
import { Redis } from 'ioredis';

/** What SSE clients are sent: `run` carries a RunView, `matrix` a MatrixEvent. */
export interface FarmEvent {
  type: 'run' | 'matrix';
  matrixId: string;
  /** The matrix's owner: each stream passes on only what its caller may read. */
  owner: string | null;
  data: unknown;
}

export type EventListener = (event: FarmEvent) => void;

/** Events shared by every controller process of a farm. */
export interface EventBus {
  publish(event: FarmEvent): Promise<void>;
  /** Resolves once the listener receives events; the function it returns unsubscribes. */
  subscribe(listener: EventListener): Promise<() => void>;
  /** Listeners in this process (tests check clean-up with it). */
  listenerCount(): number;
  close(): Promise<void>;
}

/**
 * Redis pub/sub on `<prefix>:events`. One subscriber connection per process, subscribed while at
 * least one listener exists: the last listener leaving unsubscribes.
 */
export class RedisEventBus implements EventBus {
  private readonly log = new Logger('EventBus');
  private readonly listeners = new Set<EventListener>();
  private readonly channel: string;
  private publisher?: Redis;
  private subscriber?: Redis;
  private subscribed = false;
  /** SUBSCRIBE and UNSUBSCRIBE in the order listeners came and went. */
  private sync: Promise<void> = Promise.resolve();

  constructor(
    private readonly redisUrl: string,
    prefix: string,
  ) {
    this.channel = `${prefix}:events`;
  }

  private connect(role: string): Redis {
    const redis = new Redis({ ...redisConnection(this.redisUrl), maxRetriesPerRequest: 3 });
    redis.on('error', (err: Error) => this.log.warn(`${role} ${this.channel}: ${err.message}`));
    return redis;
  }

  async publish(event: FarmEvent): Promise<void> {
    this.publisher ??= this.connect('publisher');
    await this.publisher.publish(this.channel, JSON.stringify(event));
  }

  private reconcile(): Promise<void> {
    this.sync = this.sync
      .then(async () => {
        const want = this.listeners.size > 0;
        if (want === this.subscribed) return;
        if (!this.subscriber) {
          this.subscriber = this.connect('subscriber');
          this.subscriber.on('message', (channel: string, message: string) => {
            if (channel !== this.channel) return;
            const event = JSON.parse(message) as FarmEvent;
            for (const l of this.listeners) l(event);
          });
        }
        if (want) await this.subscriber.subscribe(this.channel);
        else await this.subscriber.unsubscribe(this.channel);
        this.subscribed = want;
      })
      .catch((err: Error) => {
        this.log.warn(`cannot (un)subscribe ${this.channel}: ${err.message}`);
        throw err;
      });
    return this.sync;
  }

  async subscribe(listener: EventListener): Promise<() => void> {
    this.listeners.add(listener);
    try {
      await this.reconcile();
    } catch (err) {
      this.listeners.delete(listener);
      // A failed SUBSCRIBE must not wedge the next one.
      this.sync = Promise.resolve();
      throw err;
    }
    return () => {
      if (this.listeners.delete(listener)) this.reconcile().catch(() => (this.sync = Promise.resolve()));
    };
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.sync.catch(() => undefined);
    await Promise.all([this.publisher, this.subscriber].map((r) => r?.quit().catch(() => r.disconnect())));
  }
}
