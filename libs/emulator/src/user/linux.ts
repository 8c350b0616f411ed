/**
 * The Linux syscall layer of the user-mode runner (AArch64 generic syscall numbers). Host files are
 * reachable by their host paths; guest fds 0-2 are the host's. Unsupported calls return -ENOSYS.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isatty } from 'node:tty';
import type { Cpu, ExceptionSink } from '../cpu/cpu';
import { describeException, type GuestException } from '../cpu/exceptions';
import type { PagedMemory } from '../cpu/memory';

const EBADF = 9;
const ENOMEM = 12;
const EINVAL = 22;
const ENOTTY = 25;
const ESPIPE = 29;
const ENOSYS = 38;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;

interface OpenFile {
  host: number;
  /** Current offset, or null for streams (pipes, terminals). */
  pos: number | null;
  path: string;
  flags: number;
  dir?: fs.Dirent[];
  dirPos?: number;
  /** Host fds 0-2 are shared, never closed. */
  shared: boolean;
}

/** Fatal signals a guest can die of, numbered as on Linux. */
export const SIGNALS: Record<string, number> = { SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGSEGV: 11 };

export interface LinuxOptions {
  trace?: (line: string) => void;
  /** Path reported for /proc/self/exe. */
  exe: string;
}

export class LinuxProcess implements ExceptionSink {
  exitCode: number | null = null;
  brkStart = 0;
  brk = 0;
  mmapNext = 0x20000000;
  private readonly fds = new Map<number, OpenFile>();
  readonly unsupported = new Set<string>();

  constructor(
    readonly mem: PagedMemory,
    private readonly opts: LinuxOptions,
  ) {
    for (const fd of [0, 1, 2]) {
      let stream = true;
      try {
        stream = !fs.fstatSync(fd).isFile();
      } catch {
        stream = true;
      }
      this.fds.set(fd, { host: fd, pos: stream ? null : 0, path: '', flags: fd === 0 ? 0 : 1, shared: true });
    }
  }

  exception(cpu: Cpu, e: GuestException): void {
    if (e.kind === 'svc') {
      const x = cpu.x;
      const nr = x[16];
      const a = [0, 1, 2, 3, 4, 5].map((k) => x[k << 1] + (x[(k << 1) | 1] | 0) * 4294967296);
      const r = this.syscall(cpu, nr, a);
      const v = BigInt.asUintN(64, BigInt(r));
      x[0] = Number(v & 0xffffffffn);
      x[1] = Number(v >> 32n);
      return;
    }
    const signal =
      e.kind === 'undefined'
        ? 'SIGILL'
        : e.kind === 'brk' || e.kind === 'hlt'
          ? 'SIGTRAP'
          : e.kind === 'alignment'
            ? 'SIGBUS'
            : 'SIGSEGV';
    process.stderr.write(`vmfarm emulate: ${describeException(e)}: killed by ${signal}\n`);
    this.terminate(cpu, 128 + SIGNALS[signal]);
  }

  private terminate(cpu: Cpu, code: number): void {
    this.exitCode = code;
    cpu.halted = true;
    cpu.stop = true;
  }

  private str(addr: number): string {
    return Buffer.from(this.mem.readCString(addr)).toString();
  }

  private resolve(dirfd: number, p: string): string {
    if (path.isAbsolute(p)) return p;
    if ((dirfd | 0) === AT_FDCWD) return path.resolve(p);
    const f = this.fds.get(dirfd);
    return f ? path.resolve(f.path, p) : path.resolve(p);
  }

  private newFd(file: OpenFile): number {
    let fd = 0;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, file);
    return fd;
  }

  private errno(err: unknown): number {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.errno === 'number') return e.errno < 0 ? e.errno : -e.errno;
    return -EINVAL;
  }

  private writeStat(addr: number, st: fs.BigIntStats): void {
    const b = new DataView(new ArrayBuffer(128));
    b.setBigUint64(0, st.dev, true);
    b.setBigUint64(8, st.ino, true);
    b.setUint32(16, Number(st.mode), true);
    b.setUint32(20, Number(st.nlink), true);
    b.setUint32(24, Number(st.uid), true);
    b.setUint32(28, Number(st.gid), true);
    b.setBigUint64(32, st.rdev, true);
    b.setBigInt64(48, st.size, true);
    b.setInt32(56, Number(st.blksize), true);
    b.setBigInt64(64, st.blocks, true);
    const times = [st.atimeNs, st.mtimeNs, st.ctimeNs];
    times.forEach((t, k) => {
      b.setBigInt64(72 + k * 16, t / 1_000_000_000n, true);
      b.setBigInt64(80 + k * 16, t % 1_000_000_000n, true);
    });
    this.mem.writeBytes(addr, new Uint8Array(b.buffer));
  }

  private writeRaw(host: number, data: Uint8Array): number {
    let off = 0;
    while (off < data.length) {
      try {
        off += fs.writeSync(host, data, off, data.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          sleepMs(1);
          continue;
        }
        if (off > 0) return off;
        throw err;
      }
    }
    return off;
  }

  private readInto(f: OpenFile, addr: number, len: number, at: number | null): number {
    const buf = Buffer.alloc(Math.min(len, 1 << 20));
    for (;;) {
      try {
        const n = fs.readSync(f.host, buf, 0, buf.length, at);
        this.mem.writeBytes(addr, buf.subarray(0, n));
        return n;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          sleepMs(1);
          continue;
        }
        if (code === 'EOF') return 0;
        throw err;
      }
    }
  }

  private mapAnon(len: number): number {
    const size = Math.ceil(len / 4096) * 4096;
    const addr = this.mmapNext;
    if (addr + size > 0xe0000000) return -ENOMEM;
    // Keep 64 KiB alignment so a later map never shares a host page with a freed one.
    this.mmapNext = Math.ceil((addr + size) / 65536) * 65536;
    this.mem.map(addr, size);
    this.mem.fill(addr, size, 0);
    return addr;
  }

  syscall(cpu: Cpu, nr: number, a: number[]): number {
    try {
      return this.dispatch(cpu, nr, a);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).errno !== undefined || (err as NodeJS.ErrnoException).code)
        return this.errno(err);
      throw err;
    }
  }

  private dispatch(cpu: Cpu, nr: number, a: number[]): number {
    const mem = this.mem;
    switch (nr) {
      case 93: // exit
      case 94: // exit_group
        this.terminate(cpu, a[0] & 0xff);
        return 0;
      case 63: {
        // read
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        const n = this.readInto(f, a[1], a[2], f.pos);
        if (f.pos !== null) f.pos += n;
        return n;
      }
      case 67: {
        // pread64
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        return this.readInto(f, a[1], a[2], a[3]);
      }
      case 64: {
        // write
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        const n = this.writeRaw(f.host, mem.readBytes(a[1], a[2]));
        if (f.pos !== null) f.pos += n;
        return n;
      }
      case 65:
      case 66: {
        // readv / writev
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        let total = 0;
        for (let k = 0; k < a[2]; k++) {
          const base = mem.r32(a[1] + k * 16) + mem.r32(a[1] + k * 16 + 4) * 4294967296;
          const len = mem.r32(a[1] + k * 16 + 8);
          if (len === 0) continue;
          if (nr === 66) {
            const n = this.writeRaw(f.host, mem.readBytes(base, len));
            total += n;
            if (f.pos !== null) f.pos += n;
          } else {
            const n = this.readInto(f, base, len, f.pos);
            total += n;
            if (f.pos !== null) f.pos += n;
            if (n < len) break;
          }
        }
        return total;
      }
      case 56: {
        // openat
        const p = this.resolve(a[0], this.str(a[1]));
        const flags = a[2];
        const hostFlags = translateOpenFlags(flags);
        if (flags & 0x4000 || isDir(p)) {
          const st = fs.statSync(p);
          if (!st.isDirectory()) return -20; // ENOTDIR
          const dir = fs.readdirSync(p, { withFileTypes: true });
          return this.newFd({ host: -1, pos: 0, path: p, flags, dir, dirPos: 0, shared: false });
        }
        const host = fs.openSync(p, hostFlags, a[3] & 0o7777);
        const stream = !fs.fstatSync(host).isFile();
        return this.newFd({ host, pos: stream ? null : 0, path: p, flags, shared: false });
      }
      case 57: {
        // close
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        this.fds.delete(a[0]);
        const stillUsed = [...this.fds.values()].some((o) => o.host === f.host);
        if (!f.shared && f.host >= 0 && !stillUsed) fs.closeSync(f.host);
        return 0;
      }
      case 62: {
        // lseek
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        if (f.pos === null) return -ESPIPE;
        const off = Number(BigInt.asIntN(64, BigInt(a[1])));
        let base = 0;
        if (a[2] === 1) base = f.pos;
        else if (a[2] === 2) base = f.host >= 0 ? fs.fstatSync(f.host).size : 0;
        else if (a[2] !== 0) return -EINVAL;
        if (base + off < 0) return -EINVAL;
        f.pos = base + off;
        return f.pos;
      }
      case 80: {
        // fstat
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        this.writeStat(
          a[1],
          f.host >= 0 ? fs.fstatSync(f.host, { bigint: true }) : fs.statSync(f.path, { bigint: true }),
        );
        return 0;
      }
      case 79: {
        // newfstatat
        const p = this.str(a[1]);
        if (p === '' && a[3] & AT_EMPTY_PATH) return this.dispatch(cpu, 80, [a[0], a[2]]);
        const full = this.resolve(a[0], p);
        const st = a[3] & 0x100 ? fs.lstatSync(full, { bigint: true }) : fs.statSync(full, { bigint: true });
        this.writeStat(a[2], st);
        return 0;
      }
      case 48: {
        // faccessat
        fs.accessSync(this.resolve(a[0], this.str(a[1])), a[2] & 7);
        return 0;
      }
      case 78: {
        // readlinkat
        const p = this.resolve(a[0], this.str(a[1]));
        const target = p === '/proc/self/exe' ? path.resolve(this.opts.exe) : fs.readlinkSync(p);
        const bytes = Buffer.from(target).subarray(0, a[3]);
        mem.writeBytes(a[2], bytes);
        return bytes.length;
      }
      case 61: {
        // getdents64
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        if (!f.dir) return -20;
        let used = 0;
        const entries = [
          { name: '.', type: 4 },
          { name: '..', type: 4 },
          ...f.dir.map((d) => ({
            name: d.name,
            type: d.isDirectory() ? 4 : d.isSymbolicLink() ? 10 : d.isFile() ? 8 : 0,
          })),
        ];
        while ((f.dirPos ?? 0) < entries.length) {
          const e = entries[f.dirPos ?? 0];
          const name = Buffer.from(e.name);
          const reclen = Math.ceil((19 + name.length + 1) / 8) * 8;
          if (used + reclen > a[2]) break;
          const rec = new DataView(new ArrayBuffer(reclen));
          rec.setBigUint64(0, BigInt((f.dirPos ?? 0) + 1), true);
          rec.setBigInt64(8, BigInt((f.dirPos ?? 0) + 1), true);
          rec.setUint16(16, reclen, true);
          rec.setUint8(18, e.type);
          new Uint8Array(rec.buffer).set(name, 19);
          mem.writeBytes(a[1] + used, new Uint8Array(rec.buffer));
          used += reclen;
          f.dirPos = (f.dirPos ?? 0) + 1;
        }
        return used;
      }
      case 23:
      case 24: {
        // dup / dup3
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        if (nr === 23) return this.newFd({ ...f, shared: true });
        this.fds.set(a[1], { ...f, shared: true });
        return a[1];
      }
      case 25: {
        // fcntl
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        const cmd = a[1];
        if (cmd === 0 || cmd === 1030) {
          let fd = a[2];
          while (this.fds.has(fd)) fd++;
          this.fds.set(fd, { ...f, shared: true });
          return fd;
        }
        if (cmd === 3) return f.flags;
        return 0;
      }
      case 29: {
        // ioctl
        const f = this.fds.get(a[0]);
        if (!f) return -EBADF;
        const req = a[1];
        if (f.host < 0 || !isatty(f.host)) return -ENOTTY;
        if (req === 0x5401) {
          mem.fill(a[2], 60, 0);
          return 0;
        }
        if (req === 0x5413) {
          const cols = process.stdout.columns ?? 80;
          const rows = process.stdout.rows ?? 24;
          mem.w16(a[2], rows);
          mem.w16(a[2] + 2, cols);
          mem.w32(a[2] + 4, 0);
          return 0;
        }
        return -ENOTTY;
      }
      case 17: {
        // getcwd
        const cwd = Buffer.from(process.cwd() + '\0');
        if (cwd.length > a[1]) return -34;
        mem.writeBytes(a[0], cwd);
        return cwd.length;
      }
      case 214: {
        // brk
        const want = a[0];
        if (want > this.brk && want < this.brkStart + 0x10000000) {
          mem.map(this.brk, want - this.brk);
          this.brk = want;
        } else if (want >= this.brkStart && want <= this.brk) this.brk = want;
        return this.brk;
      }
      case 222: {
        // mmap
        const [addr, len, , flags, fd, off] = a;
        if (len === 0) return -EINVAL;
        let at: number;
        if (flags & 0x10) {
          at = addr;
          mem.map(at, len);
          mem.fill(at, len, 0);
        } else {
          at = this.mapAnon(len);
          if (at < 0) return at;
        }
        if (!(flags & 0x20)) {
          const f = this.fds.get(fd | 0);
          if (!f || f.host < 0) return -EBADF;
          const buf = Buffer.alloc(len);
          const n = fs.readSync(f.host, buf, 0, len, off);
          mem.writeBytes(at, buf.subarray(0, n));
        }
        return at;
      }
      case 216: {
        // mremap
        const [old, oldLen, newLen, flags] = a;
        if (newLen <= oldLen) return old;
        if (!(flags & 1)) return -ENOMEM;
        const at = this.mapAnon(newLen);
        if (at < 0) return at;
        mem.writeBytes(at, mem.readBytes(old, oldLen));
        return at;
      }
      case 215: // munmap
      case 226: // mprotect
      case 233: // madvise
        if (nr === 226) cpu.invalidateCode();
        return 0;
      case 96: // set_tid_address
      case 178: // gettid
      case 172: // getpid
        return process.pid;
      case 173:
        return process.ppid;
      case 174:
      case 175:
        return process.getuid?.() ?? 0;
      case 176:
      case 177:
        return process.getgid?.() ?? 0;
      case 99: // set_robust_list
      case 134: // rt_sigaction
      case 132: // sigaltstack
        if (nr === 134 && a[2]) mem.fill(a[2], 32, 0);
        return 0;
      case 135: // rt_sigprocmask
        if (a[2]) mem.fill(a[2], 8, 0);
        return 0;
      case 98: // futex: single-threaded, nothing to wait for or wake
        return 0;
      case 261: {
        // prlimit64
        if (a[3]) {
          const inf = 0xffffffffffffffffn;
          const cur = a[1] === 3 ? 8n << 20n : inf;
          const dv = new DataView(new ArrayBuffer(16));
          dv.setBigUint64(0, cur, true);
          dv.setBigUint64(8, inf, true);
          mem.writeBytes(a[3], new Uint8Array(dv.buffer));
        }
        return 0;
      }
      case 160: {
        // uname
        const fields = ['Linux', os.hostname(), os.release(), os.version(), 'aarch64', '(none)'];
        fields.forEach((s, k) => {
          const b = new Uint8Array(65);
          b.set(Buffer.from(s).subarray(0, 64));
          mem.writeBytes(a[0] + k * 65, b);
        });
        return 0;
      }
      case 278: {
        // getrandom
        const b = new Uint8Array(a[1]);
        randomFillSync(b);
        mem.writeBytes(a[0], b);
        return a[1];
      }
      case 113: {
        // clock_gettime
        const ns = a[0] === 0 || a[0] === 5 || a[0] === 8 ? realtimeNs() : process.hrtime.bigint();
        writeTimespec(mem, a[1], ns);
        return 0;
      }
      case 114: // clock_getres
        if (a[1]) writeTimespec(mem, a[1], 1n);
        return 0;
      case 169: {
        // gettimeofday
        const ns = realtimeNs();
        if (a[0]) {
          const dv = new DataView(new ArrayBuffer(16));
          dv.setBigInt64(0, ns / 1_000_000_000n, true);
          dv.setBigInt64(8, (ns % 1_000_000_000n) / 1000n, true);
          mem.writeBytes(a[0], new Uint8Array(dv.buffer));
        }
        return 0;
      }
      case 101: // nanosleep
      case 115: {
        // clock_nanosleep
        const ts = nr === 101 ? a[0] : a[2];
        const sec = mem.r32(ts) + mem.r32(ts + 4) * 4294967296;
        const nsec = mem.r32(ts + 8);
        sleepMs(sec * 1000 + nsec / 1e6);
        return 0;
      }
      case 153: {
        // times
        if (a[0]) mem.fill(a[0], 32, 0);
        return Number(process.hrtime.bigint() / 10_000_000n) & 0x7fffffff;
      }
      case 166: // umask
        return 0o022;
      case 165: // getrusage
        mem.fill(a[1], 144, 0);
        return 0;
      case 71: {
        // sendfile
        const out = this.fds.get(a[0]);
        const inp = this.fds.get(a[1]);
        if (!out || !inp) return -EBADF;
        const buf = Buffer.alloc(Math.min(a[3], 1 << 20));
        const n = fs.readSync(inp.host, buf, 0, buf.length, inp.pos);
        if (inp.pos !== null) inp.pos += n;
        return this.writeRaw(out.host, buf.subarray(0, n));
      }
      case 155: // getpgid
      case 154: // setpgid
        return nr === 155 ? process.pid : 0;
      default:
        return this.enosys(nr);
    }
  }

  private enosys(nr: number): number {
    const name = SYSCALL_NAMES[nr] ?? `syscall ${nr}`;
    if (this.opts.trace && !this.unsupported.has(name))
      this.opts.trace(`unsupported syscall ${name} (${nr}): -ENOSYS`);
    this.unsupported.add(name);
    return -ENOSYS;
  }
}

const SYSCALL_NAMES: Record<number, string> = {
  220: 'clone',
  221: 'execve',
  260: 'wait4',
  293: 'rseq',
  291: 'statx',
  59: 'pipe2',
  73: 'ppoll',
  72: 'pselect6',
  123: 'sched_getaffinity',
  131: 'tgkill',
  129: 'kill',
  179: 'sysinfo',
  283: 'membarrier',
  34: 'mkdirat',
  35: 'unlinkat',
  38: 'renameat',
  46: 'ftruncate',
  49: 'chdir',
};

function translateOpenFlags(f: number): number {
  const c = fs.constants;
  let h = f & 3;
  if (f & 0x40) h |= c.O_CREAT;
  if (f & 0x80) h |= c.O_EXCL;
  if (f & 0x100) h |= c.O_NOCTTY;
  if (f & 0x200) h |= c.O_TRUNC;
  if (f & 0x400) h |= c.O_APPEND;
  if (f & 0x800) h |= c.O_NONBLOCK;
  if (f & 0x8000) h |= c.O_NOFOLLOW;
  return h;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function realtimeNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

function writeTimespec(mem: PagedMemory, addr: number, ns: bigint): void {
  const dv = new DataView(new ArrayBuffer(16));
  dv.setBigInt64(0, ns / 1_000_000_000n, true);
  dv.setBigInt64(8, ns % 1_000_000_000n, true);
  mem.writeBytes(addr, new Uint8Array(dv.buffer));
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
