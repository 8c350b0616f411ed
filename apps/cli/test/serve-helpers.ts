import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Helpers for the CLI's tests and bench/queue-bench.mjs: a real `vmfarm serve`, a real controller
 * process and a small real image.
 */

export const VMFARM_BIN = join(__dirname, '..', '..', 'bin', 'vmfarm.js');
const CONTROLLER_MAIN = join(__dirname, '..', '..', '..', 'controller', 'dist', 'src', 'main.js');

/** A minimal PE32+ header for an AArch64 EFI application (machine 0xAA64, subsystem 10), no sections. */
function efiApplication(): Buffer {
  const pe = Buffer.alloc(512);
  pe.write('MZ', 0, 'latin1');
  pe.writeUInt32LE(0x40, 0x3c);
  pe.write('PE\0\0', 0x40, 'latin1');
  const coff = 0x44;
  pe.writeUInt16LE(0xaa64, coff); // Machine
  pe.writeUInt16LE(240, coff + 16); // SizeOfOptionalHeader
  pe.writeUInt16LE(0x0022, coff + 18); // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
  const opt = coff + 20;
  pe.writeUInt16LE(0x20b, opt); // PE32+
  pe.writeUInt32LE(0x1000, opt + 32); // SectionAlignment
  pe.writeUInt32LE(0x200, opt + 36); // FileAlignment
  pe.writeUInt32LE(0x1000, opt + 56); // SizeOfImage
  pe.writeUInt32LE(0x200, opt + 60); // SizeOfHeaders
  pe.writeUInt16LE(10, opt + 68); // Subsystem: EFI application
  pe.writeUInt32LE(16, opt + 108); // NumberOfRvaAndSizes
  return pe;
}

/**
 * A 40 MiB raw GPT disk with a FAT32 ESP holding \EFI\BOOT\BOOTAA64.EFI, made with sgdisk, mkfs.vfat
 * and mtools as a real image would be. Whether every clause passes is for the suites' own tests:
 * here it is the same image through `check` and through the farm.
 */
export function buildImage(dir: string): string {
  const disk = join(dir, 'disk.img');
  const esp = join(dir, 'esp.img');
  const app = join(dir, 'BOOTAA64.EFI');
  writeFileSync(app, efiApplication());
  const run = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { stdio: 'pipe', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  run('truncate', ['-s', '40M', disk]);
  run('truncate', ['-s', '36M', esp]);
  run('mkfs.vfat', ['-F', '32', '-S', '512', '-s', '1', '-n', 'ESP', esp]);
  run('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT']);
  run('mcopy', ['-i', esp, app, '::/EFI/BOOT/BOOTAA64.EFI']);
  run('sgdisk', ['-o', '-n', '1:2048:+36M', '-t', '1:C12A7328-F81F-11D2-BA4B-00A0C93EC93B', disk]);
  run('dd', [`if=${esp}`, `of=${disk}`, 'bs=512', 'seek=2048', 'conv=notrunc,sparse', 'status=none']);
  return disk;
}

export interface Serve {
  url: string;
  process: ChildProcess;
  /** What serve printed on stdout and stderr so far. */
  stdout: string[];
  stderr: string[];
  /** Pids of serve's own children (redis-server, controller, agents) while it runs. */
  children(): { pid: number; comm: string }[];
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `vmfarm serve` as a process and waits for its "farm ready" line. */
export function startServe(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120000,
): Promise<Serve> {
  const child = spawn(process.execPath, [VMFARM_BIN, 'serve', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const gone = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(
        new Error(`vmfarm serve was not ready within ${timeoutMs} ms:\n${stderr.slice(-20).join('\n')}`),
      );
    }, timeoutMs);
    void gone.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(`vmfarm serve exited with ${code} before it was ready:\n${stderr.slice(-20).join('\n')}`),
      );
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      const ready = /^vmfarm farm ready at (\S+)$/.exec(line);
      if (!ready) return;
      clearTimeout(timer);
      resolve({
        url: ready[1],
        process: child,
        stdout,
        stderr,
        children: () => childrenOf(child.pid!),
        stop: () => {
          child.kill('SIGTERM');
          return gone;
        },
      });
    });
  });
}

export function childrenOf(ppid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid && fields[0] !== 'Z')
        out.push({ pid: Number(entry), comm: readFileSync(`/proc/${entry}/comm`, 'utf8').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Runs the CLI as a process; resolves with its exit code and output. */
export function vmfarm(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [VMFARM_BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Controller {
  url: string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts the controller as a process (SQLite under dataDir, the real Redis of REDIS_URL with a queue
 * prefix of its own, adminToken as VMFARM_ADMIN_TOKEN) and waits for its "listening on" line.
 */
export async function startController(dataDir: string, adminToken: string): Promise<Controller> {
  const redis = process.env.REDIS_URL;
  if (!redis) throw new Error('REDIS_URL is not set: run `npm test` (it starts Redis) or export REDIS_URL');
  const controller = spawn(process.execPath, [CONTROLLER_MAIN], {
    env: {
      ...process.env,
      PORT: '0',
      VMFARM_DATA: dataDir,
      VMFARM_QUEUE_PREFIX: `cli_${randomBytes(6).toString('hex')}`,
      VMFARM_ADMIN_TOKEN: adminToken,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  controller.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    controller.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    controller.once('exit', (code) => reject(new Error(`controller exited (${code}):\n${err}`)));
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => controller.once('exit', r));
      controller.kill('SIGTERM');
      await exited;
    },
  };
}
