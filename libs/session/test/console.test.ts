import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestConsole, SessionTimeoutError, Waits } from '../src';

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
