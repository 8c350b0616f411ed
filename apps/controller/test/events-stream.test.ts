import assert from 'node:assert/strict';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Caller } from '../src/auth/caller';
import type { EventBus, EventListener, FarmEvent } from '../src/events/event-bus';
import { EventsService } from '../src/events/events.service';

/** A bus already subscribed for another stream: an event reaches the new listener before subscribe() resolves. */
class BusyBus implements EventBus {
  private readonly listeners = new Set<EventListener>();
  constructor(private readonly early: FarmEvent) {}
  async publish(event: FarmEvent) {
    for (const l of this.listeners) l(event);
  }
  async subscribe(listener: EventListener) {
    this.listeners.add(listener);
    await this.publish(this.early);
    return () => void this.listeners.delete(listener);
  }
  listenerCount() {
    return this.listeners.size;
  }
  async close() {}
}

test('an event published while a stream subscribes comes after the event-stream headers, not before them', async () => {
  const early: FarmEvent = { type: 'matrix', matrixId: 'm1', owner: null, data: { id: 'm1', done: 1 } };
  // The repositories are not consulted for an unfiltered stream.
  const events = new EventsService(new BusyBus(early), {} as never, {} as never);
  const app = express();
  app.get('/', (req, res) => void events.stream(req, res, {}, Caller.system()));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', r));
  const controller = new AbortController();
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('\n\nevent: matrix') || !text.endsWith('\n\n'))
      text += new TextDecoder().decode((await reader.read()).value);
    assert.match(text, /^: connected\n\nevent: matrix\ndata: \{"id":"m1","done":1\}\n\n$/);
  } finally {
    controller.abort();
    events.onModuleDestroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
