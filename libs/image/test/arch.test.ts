import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { detectArch } from '../src';
import { buildFat, buildGpt, buildPe, ESP_GUID, writeQcow2 } from './builders';

const dir = mkdtemp(join(tmpdir(), 'vmfarm-arch-'));
after(async () => rm(await dir, { recursive: true, force: true }));

/** A GPT disk whose ESP (FAT16) holds `files`. */
function disk(files: Record<string, Buffer>): Buffer {
  const esp = buildFat({ type: 'FAT16', totalSectors: 9000, files }).volume;
  return buildGpt({ totalSectors: 9100, partitions: [{ type: ESP_GUID, first: 40, last: 9039, data: esp }] });
}

async function archOf(bytes: Buffer): Promise<string | null> {
  const path = join(await dir, `img-${Math.random().toString(36).slice(2)}`);
  await writeFile(path, bytes);
  return detectArch(path);
}

test('the removable path names the architecture, through any container', async () => {
  const aa64 = disk({ 'EFI/BOOT/BOOTAA64.EFI': buildPe() });
  assert.equal(await archOf(aa64), 'aarch64');
  assert.equal(await archOf(gzipSync(aa64)), 'aarch64');
  assert.equal(await archOf(writeQcow2(aa64, { clusterBits: 12 })), 'aarch64');
  assert.equal(
    await archOf(disk({ 'EFI/BOOT/BOOTARM.EFI': buildPe({ magic: 0x10b, machine: 0x1c2 }) })),
    'aarch32',
  );
  // Both: aarch64 first, as IMG-REMOVABLE-PATH detects it.
  assert.equal(
    await archOf(disk({ 'EFI/BOOT/BOOTARM.EFI': buildPe(), 'EFI/BOOT/BOOTAA64.EFI': buildPe() })),
    'aarch64',
  );
});

test('no ESP, no boot file or a corrupt container: the image cannot tell', async () => {
  assert.equal(await archOf(disk({ 'EFI/debian/grubaa64.efi': buildPe() })), null);
  assert.equal(await archOf(Buffer.alloc(1 << 20)), null);
  const q = writeQcow2(disk({ 'EFI/BOOT/BOOTAA64.EFI': buildPe() }), { clusterBits: 12 });
  q.writeUInt32BE(0xfffffff0, 100); // header_length QEMU refuses
  assert.equal(await archOf(q), null);
});
