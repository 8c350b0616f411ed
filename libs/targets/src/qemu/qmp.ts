import { TransportError } from '@vmfarm/host';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { HostEvent } from '@vmfarm/session';

/** QMP speaks one JSON object per line (QEMU ends each with CRLF); an event is the host's evidence. */
export type QmpEvent = HostEvent;

export interface QmpTranscriptEntry {
  /** Milliseconds since the session started. */
  ms: number;
  dir: 'sent' | 'received' | 'note';
  /** The object sent or received; for `note`, what happened (connected, connection closed, bad line). */
  message: unknown;
}

/** QEMU's side channel (qemu driver only): every command, reply and event is kept. */
export interface SessionQmp {
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Waits for an event named `name` (and matching `where`) received at or after index `since` of `events()`. */
  waitForEvent(
    name: string,
    options: { timeoutMs: number; since?: number; where?: (e: QmpEvent) => boolean; what?: string },
  ): Promise<QmpEvent>;
  events(): readonly QmpEvent[];
  transcript(): readonly QmpTranscriptEntry[];
}

export type QmpMessage =
  | { type: 'greeting'; message: { QMP: unknown } }
  | { type: 'return'; id?: unknown; value: unknown }
  | { type: 'error'; id?: unknown; errorClass: string; desc: string }
  | { type: 'event'; event: QmpEvent }
  | { type: 'unknown'; message: unknown };

/** One line of the wire: a parsed object, or the text and why it did not parse. */
export type QmpFrame = { ok: true; value: unknown } | { ok: false; line: string; error: string };

/** Splits the byte stream into lines and parses each; a partial line waits for the next chunk. */
export class QmpFramer {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';

  push(chunk: Buffer | string): QmpFrame[] {
    this.rest += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lines = this.rest.split('\n');
    this.rest = lines.pop()!;
    const frames: QmpFrame[] = [];
    for (const raw of lines) {
      const line = raw.trim();
      if (!line) continue;
      try {
        frames.push({ ok: true, value: JSON.parse(line) });
      } catch (err) {
        frames.push({ ok: false, line, error: (err as Error).message });
      }
    }
    return frames;
  }
}

export function classifyQmp(value: unknown): QmpMessage {
  const o = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  if ('QMP' in o) return { type: 'greeting', message: o as { QMP: unknown } };
  if ('return' in o) return { type: 'return', id: o.id, value: o.return };
  if ('error' in o) {
    const e = (o.error ?? {}) as { class?: unknown; desc?: unknown };
    return { type: 'error', id: o.id, errorClass: String(e.class ?? 'unknown'), desc: String(e.desc ?? '') };
  }
  if (typeof o.event === 'string') return { type: 'event', event: o as unknown as QmpEvent };
  return { type: 'unknown', message: value };
}

export interface QmpHooks {
  record(dir: QmpTranscriptEntry['dir'], message: unknown): void;
  event(event: QmpEvent): void;
  /** Something arrived or the connection closed: waits re-check. */
  notify(): void;
}

/** One QMP connection (a QEMU process has one; a power cycle makes a new one). */
export class QmpConnection {
  private readonly framer = new QmpFramer();
  private readonly replies = new Map<number, QmpMessage>();
  private nextId = 1;
  greeting: unknown = undefined;
  closed = false;

  constructor(
    private readonly socket: Duplex,
    private readonly hooks: QmpHooks,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.framer.push(chunk)) {
        if (!frame.ok) {
          hooks.record('note', { unparsable: frame.line, error: frame.error });
          continue;
        }
        hooks.record('received', frame.value);
        const msg = classifyQmp(frame.value);
        if (msg.type === 'greeting') this.greeting = msg.message;
        else if (msg.type === 'event') hooks.event(msg.event);
        else if ((msg.type === 'return' || msg.type === 'error') && typeof msg.id === 'number')
          this.replies.set(msg.id, msg);
      }
      hooks.notify();
    });
    socket.on('error', () => {}); // 'close' follows and says it all
    socket.on('close', () => {
      this.closed = true;
      hooks.record('note', 'connection closed');
      hooks.notify();
    });
  }

  /**
   * Connects through `open` (a unix socket here, a channel to the QEMU host's loopback over SSH) to
   * a socket QEMU is about to create, retrying while it is not there yet, until `deadline` or until
   * `alive()` is false. `where` names the socket in errors and the transcript.
   */
  static async connect(
    open: () => Promise<Duplex>,
    where: string,
    deadline: number,
    alive: () => boolean,
    hooks: QmpHooks,
  ): Promise<QmpConnection> {
    for (;;) {
      let socket: Duplex;
      try {
        socket = await open();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // Not there yet: no socket file, nobody listening, or (over SSH) the channel refused.
        const early = ['ENOENT', 'ECONNREFUSED'].includes(e.code ?? '') || e instanceof TransportError;
        if (!early || !alive() || Date.now() > deadline)
          throw new Error(`cannot connect to QMP at ${where}: ${e.code ?? e.message}`);
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      hooks.record('note', `connected to ${where}`);
      return new QmpConnection(socket, hooks);
    }
  }

  /** Sends a command; returns the id its reply will carry. */
  send(command: string, args?: Record<string, unknown>): number {
    const id = this.nextId++;
    const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
    this.hooks.record('sent', message);
    this.socket.write(`${JSON.stringify(message)}\n`);
    return id;
  }

  /** The reply to `id` once it has arrived (taken: asked once). */
  takeReply(id: number): QmpMessage | undefined {
    const reply = this.replies.get(id);
    this.replies.delete(id);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}
