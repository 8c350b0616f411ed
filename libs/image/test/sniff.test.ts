import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { sniffContainer, sniffFormat, SNIFF_BYTES } from '../src';
import { writeQcow2 } from './builders';

test('one sniffer: gzip and xz by magic, qcow2 by magic, anything else raw', () => {
  const disk = Buffer.alloc(4096, 0x5a);
  const qcow2 = writeQcow2(disk);
  const xz = execFileSync('xz', ['-c'], { input: disk });
  assert.equal(sniffContainer(gzipSync(disk).subarray(0, SNIFF_BYTES)), 'gz');
  assert.equal(sniffContainer(xz.subarray(0, SNIFF_BYTES)), 'xz');
  assert.equal(sniffContainer(disk), 'raw');
  assert.equal(sniffContainer(qcow2), 'raw');
  assert.equal(sniffFormat(qcow2.subarray(0, SNIFF_BYTES)), 'qcow2');
  assert.equal(sniffFormat(disk), 'raw');
  // Too short to tell: raw, and the readers say what is wrong with it.
  assert.equal(sniffFormat(Buffer.from('QFI', 'latin1')), 'raw');
  assert.equal(sniffContainer(Buffer.from([0x1f])), 'raw');
});
