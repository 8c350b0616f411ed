/**
 * The machine's device tree equals the one QEMU 7.2 dumps for `-machine virt` with the same options
 * (one Cortex-A57, 1 GiB, GICv2 and GICv3, highmem off as the emulator's machine and on), node by node: both DTBs are decompiled by dtc and every
 * node's properties compared in order. The random seeds in /chosen are compared by length only.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serializeFdt } from '../src/machine/fdt';
import { buildVirtFdt } from '../src/machine/virt-fdt';

/** Node path → its property lines, in order, from dtc's source output. */
function parseDts(dts: string): Map<string, string[]> {
  const nodes = new Map<string, string[]>();
  const stack: string[] = [];
  for (const raw of dts.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('/dts-v1/')) continue;
    const open = /^(\S*) \{$/.exec(line);
    if (open) {
      stack.push(open[1] === '/' ? '' : open[1]);
      nodes.set(stack.join('/') || '/', []);
    } else if (line === '};') stack.pop();
    else nodes.get(stack.join('/') || '/')!.push(line);
  }
  return nodes;
}

function decompile(dtb: Uint8Array, dir: string, name: string): Map<string, string[]> {
  const path = join(dir, name);
  writeFileSync(path, dtb);
  return parseDts(execFileSync('dtc', ['-q', '-I', 'dtb', '-O', 'dts', path], { encoding: 'utf8' }));
}

const seedLine = (l: string) =>
  l.replace(
    /^(rng-seed|kaslr-seed) = <([^>]*)>;$/,
    (_, p: string, v: string) => `${p} = <${v.split(' ').length} cells>;`,
  );

const variants = [
  { gic: 2, highmem: false },
  { gic: 3, highmem: false },
  { gic: 3, highmem: true },
] as const;

for (const { gic, highmem } of variants) {
  test(`FDT equals QEMU virt's dumpdtb (gic-version=${gic}, highmem=${highmem ? 'on' : 'off'})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmfarm-fdt-'));
    try {
      const qemuPath = join(dir, 'qemu.dtb');
      execFileSync(
        'qemu-system-aarch64',
        [
          ...['-nodefaults', '-no-user-config', '-display', 'none', '-nic', 'none'],
          ...[
            '-machine',
            `virt,gic-version=${gic},acpi=off,highmem=${highmem ? 'on' : 'off'},dumpdtb=${qemuPath}`,
          ],
          ...['-accel', 'tcg', '-cpu', 'cortex-a57', '-m', '1024', '-smp', '1'],
        ],
        { stdio: 'ignore' },
      );
      const qemu = decompile(readFileSync(qemuPath), dir, 'qemu2.dtb');
      const seed = new Uint8Array(40).map((_, i) => i * 7);
      const ours = decompile(
        serializeFdt(buildVirtFdt({ ramSize: 1 << 30, gicVersion: gic, seed, highmem })),
        dir,
        'ours.dtb',
      );
      assert.deepEqual([...ours.keys()], [...qemu.keys()], 'the same nodes in the same order');
      for (const [path, props] of qemu) {
        assert.deepEqual(ours.get(path)!.map(seedLine), props.map(seedLine), `node ${path}`);
      }
      assert.ok(
        qemu.get('/chosen')!.some((l) => l.startsWith('rng-seed')),
        'QEMU passes a seed too',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
