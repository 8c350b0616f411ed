import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestConsole, MATCH_WINDOW, SessionTimeoutError, Waits } from '../src';
import { searchStart } from '../src/console';

function setup() {
  let gone: Error | null = null;
  const lines: { of?: GuestConsole } = {};
  const waits = new Waits({ lastLines: () => lines.of!.lastLines(), gone: () => gone });
  const con = new GuestConsole(waits);
  lines.of = con;
  return { con, waits, setGone: (e: Error) => (gone = e) };
}

test('expect matches output as it arrives and never matches the same text twice', async () => {
  const { con } = setup();
  const first = con.expect(/^VMFARM-(OK|ERR) (\w+)$/m, 1000);
  con.append('vmfarm ping\r\nVMFARM-O');
  con.append('K pong\r\nVMFARM-OK pong\r\n');
  const m = await first;
  assert.equal(m.text, 'VMFARM-OK pong');
  assert.deepEqual(m.groups, ['OK', 'pong']);
  assert.equal(m.index, 'vmfarm ping\n'.length);
  assert.equal(con.transcript().slice(m.index, m.end), m.text);
  const second = await con.expect('VMFARM-OK pong', 1000);
  assert.equal(second.index, m.end + 1);
  await assert.rejects(con.expect('VMFARM-OK pong', 50), SessionTimeoutError);
});

test('a timeout names what was awaited and the last console lines, escape sequences removed', async () => {
  const { con } = setup();
  con.append('\x1b[2J\x1b[01;01HBdsDxe: loading Boot0001\r\nline two\r\n\r\n');
  await assert.rejects(con.expect(/VMFARM-READY/, 20), (err: SessionTimeoutError) => {
    assert.equal(err.awaited, 'console /VMFARM-READY/');
    assert.deepEqual(err.lastLines, ['BdsDxe: loading Boot0001', 'line two']);
    assert.equal(
      err.message,
      'timed out after 20 ms awaiting console /VMFARM-READY/; last console lines: "BdsDxe: loading Boot0001" | "line two"',
    );
    return true;
  });
});

test('waits fail at once when the VM is gone, yet output already there still matches', async () => {
  const { con, waits, setGone } = setup();
  const pending = con.expect('never', 60_000);
  con.append('VMFARM-OK poweroff\n');
  setGone(new Error('QEMU exited with status 0'));
  waits.failGone();
  await assert.rejects(pending, /QEMU exited/);
  assert.equal((await con.expect('poweroff', 10)).text, 'poweroff');
  await assert.rejects(con.expect('more', 60_000), /QEMU exited/);
});

test('send needs a running VM', () => {
  const { con } = setup();
  assert.throws(() => con.send('x'), /not running/);
  const sent: string[] = [];
  con.attach((text: string) => sent.push(text));
  con.send('vmfarm ping\n');
  assert.deepEqual(sent, ['vmfarm ping\n']);
});

test('a search covers new output plus a window before it, from a line start, never before the cursor', () => {
  // The first search starts at the cursor; later ones MATCH_WINDOW before what was searched.
  assert.equal(searchStart('x'.repeat(10), 3, 3), 3);
  const text = `${'a'.repeat(100)}\n${'b'.repeat(MATCH_WINDOW)}\nlast`;
  const searched = text.length;
  const from = searchStart(text, 0, searched);
  assert.equal(text[from - 1], '\n', 'at a line start');
  assert.ok(searched - from >= MATCH_WINDOW);
  assert.equal(searchStart(text, searched - 2, searched), searched - 2, 'never before the cursor');
});

test('output arriving in many chunks: a line pattern matches once its line is whole, `^` only at line starts', async () => {
  const { con } = setup();
  const waiting = con.expect(/^VMFARM-READY$/m, 1000);
  con.append('noise VMFARM-READY is not at a line start\n');
  for (let i = 0; i < 2000; i++) con.append(`${'z'.repeat(60)}\n`); // more than the window
  con.append('VMFARM-');
  con.append('READY\n');
  const m = await waiting;
  assert.equal(m.text, 'VMFARM-READY');
  assert.equal(con.transcript().slice(m.index - 1, m.index), '\n');
});
