/**
 * Debian's AAVMF, unmodified, on the emulator's `virt` machine: the edk2 banner on the PL011, the
 * UEFI Shell (no disk: the boot manager falls through to it), a non-volatile variable set from the
 * Shell that is still there after a power cycle (read back from the instance's VARS file), and the
 * same boot with GICv2. Deterministic time, so the run is the same every time.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { VirtMachine } from '../src/machine/virt';

const CODE = '/usr/share/AAVMF/AAVMF_CODE.fd';
const VARS = '/usr/share/AAVMF/AAVMF_VARS.fd';
const GUID = '3c9f2a7e-5b1d-4e8a-9f00-7a6b5c4d3e2f';
/** A guard against a hang, not a speed requirement. */
const GUARD_MS = 240_000;

/** Without the terminal's escape sequences (ESC [ ... letter). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;=]*[A-Za-z]`, 'g');
const plain = (s: string) => s.replace(ANSI, '');

class Console {
  text = '';
  mark = 0;
  constructor(readonly machine: () => VirtMachine) {}
  onBytes = (b: Uint8Array) => (this.text += Buffer.from(b).toString('latin1'));
  /** Runs until `re` appears in what the guest printed since the last wait; returns that output. */
  async expect(re: RegExp): Promise<string> {
    const from = this.mark;
    const r = await this.machine().run({
      until: () => re.test(plain(this.text.slice(from))),
      timeoutMs: GUARD_MS,
    });
    assert.equal(r, 'until', `${re} not seen; the console ends: ${plain(this.text.slice(-400))}`);
    this.mark = this.text.length;
    return plain(this.text.slice(from));
  }
}

async function toShell(c: Console): Promise<string> {
  let seen = await c.expect(/Press ESC in \d+ seconds|Shell> /);
  if (!seen.includes('Shell> ')) {
    c.machine().input('\x1b');
    seen += await c.expect(/Shell> /);
  }
  return seen;
}

for (const gic of [3, 2] as const) {
  test(`AAVMF on virt (GICv${gic}): banner, UEFI Shell${gic === 3 ? ', NV variable across a power cycle' : ''}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmfarm-aavmf-'));
    const vars = join(dir, 'vars.fd');
    copyFileSync(VARS, vars);
    let m: VirtMachine | null = null;
    const con = new Console(() => m!);
    try {
      m = new VirtMachine({
        firmwareCode: CODE,
        firmwareVars: vars,
        gicVersion: gic,
        onConsole: con.onBytes,
        bootMenuWaitMs: 0,
        time: 'deterministic',
      });
      const boot = await con.expect(/UEFI firmware/);
      assert.match(boot, /UEFI firmware \(version/);
      const shell = await toShell(con);
      assert.match(shell, /UEFI Interactive Shell v2/);
      if (gic === 2) return;

      m.input(`setvar VmfarmTest -guid ${GUID} -nv -bs =L"persisted"\r`);
      await con.expect(/Shell> /);
      assert.notDeepEqual(readFileSync(vars), readFileSync(VARS), 'the variable store file changed');
      m.powerCycle();
      await con.expect(/UEFI firmware/);
      await toShell(con);
      m.input(`setvar VmfarmTest -guid ${GUID}\r`);
      const shown = await con.expect(/Shell> /);
      // "persisted" as UCS-2 with its terminating NUL: 18 bytes.
      assert.match(shown, /VmfarmTest - 0012 Bytes/i);
      assert.match(shown, /70 00 65 00 72 00 73 00 69 00 73 00 74 00 65 00 64 00/);
    } finally {
      m?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
