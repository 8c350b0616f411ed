import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A small GPT disk with a FAT32 EFI System Partition holding \EFI\BOOT\BOOTAA64.EFI, built with
 * sgdisk, mkfs.vfat and mcopy. The "EFI application" is a stub (MZ header only): the static suite
 * has real structures to pass and a real failure to report.
 */
export function buildGptFatImage(dir: string): string {
  const image = path.join(dir, 'disk.img');
  const esp = path.join(dir, 'esp.img');
  const sectors = 80 * 2048; // 80 MiB
  const espStart = 2048;
  const espSectors = 72 * 2048;
  fs.writeFileSync(image, '');
  fs.truncateSync(image, sectors * 512);
  execFileSync('sgdisk', ['-n', `1:${espStart}:${espStart + espSectors - 1}`, '-t', '1:ef00', image], {
    stdio: 'ignore',
  });
  fs.writeFileSync(esp, '');
  fs.truncateSync(esp, espSectors * 512);
  execFileSync('mkfs.vfat', ['-F', '32', '-n', 'ESP', esp], { stdio: 'ignore' });
  const app = path.join(dir, 'BOOTAA64.EFI');
  const stub = Buffer.alloc(1024);
  stub.write('MZ', 0, 'latin1');
  fs.writeFileSync(app, stub);
  execFileSync('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT']);
  execFileSync('mcopy', ['-i', esp, app, '::/EFI/BOOT/BOOTAA64.EFI']);
  const fd = fs.openSync(image, 'r+');
  const bytes = fs.readFileSync(esp);
  fs.writeSync(fd, bytes, 0, bytes.length, espStart * 512);
  fs.closeSync(fd);
  fs.rmSync(esp);
  return image;
}

/** xz-compressed copy (exercises the streamed `xz -dc` path of uploads). */
export function xzCopy(file: string): string {
  execFileSync('xz', ['-k', '-1', '-T1', '-f', file]);
  return `${file}.xz`;
}
