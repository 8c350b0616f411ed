import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalTransport } from '@vmfarm/host';
import { classifyQmp, QmpConnection, QmpFramer, type QmpEvent, type QmpTranscriptEntry } from '../src';

const local = new LocalTransport();

test('the framer joins lines split across chunks and parses several per chunk', () => {
  const f = new QmpFramer();
  assert.deepEqual(f.push('{"QMP": {"version"'), []);
  assert.deepEqual(f.push(': 1}}\r\n{"return": {}, "id": 1}\r\n{"ev'), [
    { ok: true, value: { QMP: { version: 1 } } },
    { ok: true, value: { return: {}, id: 1 } },
  ]);
  assert.deepEqual(f.push('ent": "RESET", "data": {"guest": true}}\r\n\r\n'), [
    { ok: true, value: { event: 'RESET', data: { guest: true } } },
  ]);
});

test('the framer decodes UTF-8 split between chunks and reports a bad line without losing the next', () => {
  const f = new QmpFramer();
  const bytes = Buffer.from('{"return": "é"}\n');
  assert.deepEqual(f.push(bytes.subarray(0, 14)), []);
  assert.deepEqual(f.push(bytes.subarray(14)), [{ ok: true, value: { return: 'é' } }]);
  const frames = f.push('not json\n{"return": 2}\n');
  assert.equal(frames[0].ok, false);
  assert.deepEqual(frames[1], { ok: true, value: { return: 2 } });
});

test('messages are classified as greeting, return, error or event', () => {
  assert.equal(classifyQmp({ QMP: {} }).type, 'greeting');
  assert.deepEqual(classifyQmp({ return: { a: 1 }, id: 3 }), { type: 'return', id: 3, value: { a: 1 } });
  assert.deepEqual(classifyQmp({ error: { class: 'GenericError', desc: 'no' }, id: 4 }), {
    type: 'error',
    id: 4,
    errorClass: 'GenericError',
    desc: 'no',
  });
  assert.equal(classifyQmp({ event: 'DEVICE_DELETED', data: { device: 'x' } }).type, 'event');
  assert.equal(classifyQmp([1]).type, 'unknown');
});

test('a connection waits for the socket to appear, then exchanges commands, replies and events', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qmp-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'qmp.sock');
  const server = createServer((s: Socket) => {
    s.write('{"QMP": {"version": {}}}\r\n');
    s.on('data', (d) => {
      const cmd = JSON.parse(d.toString()) as { execute: string; id: number };
      s.write(
        `{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\r\n{"return": {}, "id": ${cmd.id}}\r\n`,
      );
    });
  });
  t.after(() => server.close());
  setTimeout(() => server.listen(path), 200); // QEMU creates its socket a moment after start

  const log: QmpTranscriptEntry[] = [];
  const events: QmpEvent[] = [];
  let notified = 0;
  const conn = await QmpConnection.connect(
    () => local.openStream({ path }),
    path,
    Date.now() + 5000,
    () => true,
    {
      record: (dir, message) => log.push({ ms: 0, dir, message }),
      event: (e) => events.push(e),
      notify: () => notified++,
    },
  );
  t.after(() => conn.close());
  while (!conn.greeting) await new Promise((r) => setTimeout(r, 10));
  const id = conn.send('stop');
  while (!conn.takeReply(id)) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(conn.greeting, { QMP: { version: {} } });
  assert.deepEqual(events, [{ timestamp: { seconds: 1, microseconds: 2 }, event: 'STOP' }]);
  assert.deepEqual(
    log.map((e) => e.dir),
    ['note', 'received', 'sent', 'received', 'received'],
  );
  assert.deepEqual(log[2].message, { execute: 'stop', id: 1 });
  assert.ok(notified > 0);
});

test('connecting gives up when the process is gone or the deadline passes', async () => {
  const hooks = { record: () => {}, event: () => {}, notify: () => {} };
  await assert.rejects(
    QmpConnection.connect(
      () => local.openStream({ path: '/nonexistent/qmp.sock' }),
      '/nonexistent/qmp.sock',
      Date.now() + 60_000,
      () => false,
      hooks,
    ),
    /cannot connect to QMP at \/nonexistent\/qmp\.sock: ENOENT/,
  );
  await assert.rejects(
    QmpConnection.connect(
      () => local.openStream({ path: '/nonexistent/qmp.sock' }),
      '/nonexistent/qmp.sock',
      Date.now() + 100,
      () => true,
      hooks,
    ),
    /ENOENT/,
  );
});
