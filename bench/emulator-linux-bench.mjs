#!/usr/bin/env node
// Seconds from kernel entry to VMFARM-READY for Debian's 6.1 arm64 kernel with a busybox initramfs
// (its /init runs a shell loop, sha256sum, sleep 1 and prints VMFARM-READY, then powers off), booted
// directly (no firmware) on the bundled emulator's virt machine and on qemu-system-aarch64 TCG
// (-M virt,gic-version=3 -cpu cortex-a57 -m 512 -kernel -initrd) in the same run, and their ratio.
// The emulator runs in this process in real time; its instruction count gives its MIPS. QEMU's figure
// is the whole process. The emulator line also gives the CPU time it used (a loaded host stretches
// wall time). The kernel comes from Debian's linux-image-*-arm64 package (apt-get download,
// cached under ~/.cache/vmfarm/emulator/kernel), busybox from libs/emulator/scripts/test-deps.sh.
// Usage (after `npm run build`): node bench/emulator-linux-bench.mjs
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const dist = join(root, 'libs/emulator/dist/src');
const { VirtMachine } = require(join(dist, 'machine/virt.js'));
const { buildVirtFdt } = require(join(dist, 'machine/virt-fdt.js'));
const { serializeFdt } = require(join(dist, 'machine/fdt.js'));

const cache = join(process.env.VMFARM_CACHE ?? join(homedir(), '.cache/vmfarm'), 'emulator/kernel');
const sh = (cmd, args, cwd) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** Debian's current 6.1 arm64 kernel Image, downloaded and unpacked once. */
function kernel() {
  const pkg = /Depends: (linux-image-\S+)/.exec(sh('apt-cache', ['depends', 'linux-image-arm64:arm64']))?.[1];
  if (!pkg)
    throw new Error('apt-cache: no linux-image-arm64:arm64 (dpkg --add-architecture arm64; apt-get update)');
  const dir = join(cache, pkg.replace(/:.*/, ''));
  const find = () =>
    existsSync(join(dir, 'boot'))
      ? readdirSync(join(dir, 'boot')).find((f) => f.startsWith('vmlinuz-'))
      : undefined;
  if (!find()) {
    mkdirSync(dir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'vmfarm-kernel-'));
    sh('apt-get', ['download', '-qq', pkg], tmp);
    sh('dpkg-deb', [
      '-x',
      join(
        tmp,
        readdirSync(tmp).find((f) => f.endsWith('.deb')),
      ),
      dir,
    ]);
    rmSync(tmp, { recursive: true, force: true });
  }
  return join(dir, 'boot', find());
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
i=0; s=0; while [ $i -lt 200 ]; do s=$((s + i * i)); i=$((i + 1)); done; echo "loop $s"
echo hello | sha256sum
sleep 1
echo VMFARM-READY
poweroff -f
`;

/** A newc cpio: /init, /bin/busybox, /proc and /dev/console. */
function initramfs(busybox) {
  const parts = [];
  let ino = 1;
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (name, mode, data = Buffer.alloc(0), rdev = [0, 0]) => {
    const f = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, ...rdev, name.length + 1, 0];
    const head = Buffer.from(`070701${f.map((v) => v.toString(16).padStart(8, '0')).join('')}${name}\0`);
    parts.push(head, pad(head.length), data, pad(data.length));
  };
  entry('bin', 0o40755);
  entry('bin/busybox', 0o100755, readFileSync(busybox));
  entry('init', 0o100755, Buffer.from(INIT));
  entry('proc', 0o40755);
  entry('dev', 0o40755);
  entry('dev/console', 0o20600, undefined, [5, 1]);
  entry('TRAILER!!!', 0);
  return Buffer.concat(parts);
}

const deps = sh('bash', [join(root, 'libs/emulator/scripts/test-deps.sh')])
  .trim()
  .split('\n');
const image = kernel();
const initrd = initramfs(deps[1]);
const work = mkdtempSync(join(tmpdir(), 'vmfarm-linux-bench-'));
const initrdFile = join(work, 'initrd.cpio');
writeFileSync(initrdFile, initrd);
const ARGS = 'console=ttyAMA0 panic=-1';

async function emulator() {
  const vars = join(work, 'vars.fd');
  copyFileSync('/usr/share/AAVMF/AAVMF_VARS.fd', vars);
  let out = '';
  const m = new VirtMachine({
    firmwareCode: '/usr/share/AAVMF/AAVMF_CODE.fd',
    firmwareVars: vars,
    memoryMiB: 512,
    onConsole: (b) => (out += Buffer.from(b).toString('latin1')),
  });
  // Direct kernel boot as QEMU's -kernel does it: DTB at the start of RAM, Image 2 MiB in, x0 = DTB.
  const RAM = 0x4000_0000;
  const INITRD = RAM + 0x0800_0000;
  const fdt = buildVirtFdt({ ramSize: m.memoryBytes, gicVersion: 3, seed: new Uint8Array(40) });
  fdt.children
    .find((n) => n.name === 'chosen')
    .props.push(
      ['bootargs', ARGS],
      ['linux,initrd-start', [0, INITRD]],
      ['linux,initrd-end', [0, INITRD + initrd.length]],
    );
  m.bus.writeBytes(RAM, serializeFdt(fdt));
  m.bus.writeBytes(RAM + 0x20_0000, readFileSync(image));
  m.bus.writeBytes(INITRD, initrd);
  m.cpu.pc = BigInt(RAM + 0x20_0000);
  m.cpu.setX(0, BigInt(RAM));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await m.run({ until: () => out.includes('VMFARM-READY'), timeoutMs: 1_800_000 });
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  if (r !== 'until') throw new Error(`emulator: ${r} before VMFARM-READY:\n${out.slice(-2000)}`);
  m.close();
  return { s, cpu: (c.user + c.system) / 1e6, insns: m.instructions, out };
}

function qemu() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const args = [
      '-M',
      'virt,gic-version=3',
      '-cpu',
      'cortex-a57',
      '-m',
      '512',
      '-nographic',
      '-net',
      'none',
    ];
    const p = spawn('qemu-system-aarch64', [
      ...args,
      '-kernel',
      image,
      '-initrd',
      initrdFile,
      '-append',
      ARGS,
    ]);
    let out = '';
    p.stdout.on('data', (d) => {
      out += d.toString('latin1');
      if (out.includes('VMFARM-READY')) {
        resolve({ s: (performance.now() - t0) / 1000, out });
        p.kill();
      }
    });
    p.on('exit', () => reject(new Error(`qemu exited before VMFARM-READY:\n${out.slice(-2000)}`)));
  });
}

const e = await emulator();
const q = await qemu();
const line = (out) => /loop \d+/.exec(out)?.[0];
if (line(e.out) !== line(q.out)) throw new Error(`outputs differ: ${line(e.out)} vs ${line(q.out)}`);
rmSync(work, { recursive: true, force: true });
console.log(`kernel ${image}`);
console.log(
  `emulator: ${e.s.toFixed(1)} s to VMFARM-READY, ${(e.insns / 1e6).toFixed(0)} Minsn, ${(e.insns / e.s / 1e6).toFixed(1)} MIPS`,
);
console.log(`qemu-system-aarch64 (TCG): ${q.s.toFixed(1)} s to VMFARM-READY`);
console.log(`ratio ${(e.s / q.s).toFixed(1)}x`);
