import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';
import {
  HostError,
  exited,
  freePort,
  isAlive,
  procInfo,
  sleep,
  spawnGuarded,
  waitGone,
  which,
} from './process';

const run = promisify(execFile);

/** The longest unix socket path Linux takes. */
const UNIX_PATH_MAX = 107;

export interface RedisOptions {
  /** Holds redis.pid, redis.log and, with AOF, the append-only files. Created if missing. */
  dataDir: string;
  /** 'none' (tests: nothing survives a stop) or 'aof' (`vmfarm serve`: queued runs survive a restart). */
  persistence?: 'none' | 'aof';
  /** Default: a free loopback port. */
  port?: number;
  /**
   * Listen on this unix socket only (mode 0700, no TCP port): only this user reaches it. The URL
   * is then `redis+unix://` + the path.
   */
  unixSocket?: string;
  /** Where to say what is being done on the user's behalf (installing, reaping). */
  log?: (line: string) => void;
  startTimeoutMs?: number;
  /**
   * Clients must AUTH with it. It goes to redis-server in a 0600 file of `dataDir`, never in argv
   * (the process list shows argv to every user), and into `url`.
   */
  password?: string;
}

export interface RedisServer {
  url: string;
  /** 0 when it listens on a unix socket only. */
  port: number;
  /** The socket path when started with `unixSocket`. */
  unixSocket?: string;
  pid: number;
  /** Resolves when redis-server exits, whoever caused it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (Redis flushes its AOF), SIGKILL after a grace period; removes the pidfile. */
  stop(): Promise<void>;
}

/** Finds redis-server; as root installs Debian's package when it is missing, else says what to install. */
export async function ensureRedisServer(log: (line: string) => void = () => {}): Promise<string> {
  const found = which('redis-server');
  if (found) return found;
  if (process.getuid?.() !== 0 || !which('apt-get'))
    throw new HostError(
      'redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install -y redis-server) ' +
        'or set REDIS_URL to a Redis you run',
    );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], { env });
  log('redis-server is missing: installing Debian package redis-server (apt-get install)');
  try {
    await install();
  } catch {
    // Most often the package lists are absent or stale on a fresh machine: update once and retry.
    log('apt-get install failed; running apt-get update once and retrying');
    try {
      await run('apt-get', ['update', '-qq'], { env });
      await install();
    } catch (err) {
      throw new HostError(`could not install redis-server with apt-get: ${lastLine(String(err))}`);
    }
  }
  const installed = which('redis-server');
  if (!installed) throw new HostError('apt-get installed redis-server but it is not on PATH');
  return installed;
}

/**
 * Sends PING over a raw socket (a TCP port on `host`, or a unix socket path), after AUTH when a
 * password is given; resolves with Redis's one-line answer (e.g. '+PONG', '-LOADING ...'), or AUTH's
 * error.
 */
export function ping(
  target: number | string,
  host = '127.0.0.1',
  timeoutMs = 1000,
  password?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = typeof target === 'string' ? connect({ path: target }) : connect({ port: target, host });
    let answer = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('PING timed out')));
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      const lines = answer.split('\r\n').slice(0, -1);
      const auth = password === undefined ? undefined : lines.shift();
      const line = auth?.startsWith('-') ? auth : lines[0];
      if (line !== undefined) {
        socket.end();
        resolve(line);
      }
    });
    const command = (...words: string[]) =>
      `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
    socket.once('connect', () =>
      socket.write((password === undefined ? '' : command('AUTH', password)) + command('PING')),
    );
  });
}

/**
 * The pidfile holds "<redis pid> <owner pid>". A redis-server left by an owner that is gone (crashed
 * where setpriv was unavailable) is stopped; one whose owner still runs means the data dir is in use.
 */
async function reapLeftover(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidfile = join(dataDir, 'redis.pid');
  if (!existsSync(pidfile)) return;
  const [pid, owner] = readFileSync(pidfile, 'utf8').trim().split(/\s+/).map(Number);
  const info = Number.isInteger(pid) && pid > 0 && isAlive(pid) ? procInfo(pid) : null;
  // Only a redis-server working in this very directory is ours: pids get reused.
  if (info && info.comm.startsWith('redis-server') && info.cwd === realpathSync(dataDir)) {
    if (owner && info.ppid === owner && isAlive(owner))
      throw new HostError(
        `${dataDir} is in use by a running redis-server (pid ${pid}, started by pid ${owner})`,
      );
    log(`stopping a redis-server (pid ${pid}) left running in ${dataDir} by an earlier run`);
    process.kill(pid, 'SIGTERM');
    await waitGone(pid, 5000);
  }
  rmSync(pidfile, { force: true });
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

function logTail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts a private redis-server on loopback (or a unix socket) and waits until it answers PING. */
export async function startRedis(options: RedisOptions): Promise<RedisServer> {
  const log = options.log ?? (() => {});
  const socket = options.unixSocket ? resolvePath(options.unixSocket) : undefined;
  // sockaddr_un holds 108 bytes with the final NUL; redis-server would only log that it cannot bind.
  if (socket && Buffer.byteLength(socket) > UNIX_PATH_MAX)
    throw new HostError(
      `unix socket path ${socket} is ${Buffer.byteLength(socket)} bytes long; at most ${UNIX_PATH_MAX} fit: use a shorter path`,
    );
  const binary = await ensureRedisServer(log);
  mkdirSync(options.dataDir, { recursive: true });
  const dataDir = realpathSync(options.dataDir);
  await reapLeftover(dataDir, log);
  const logfile = join(dataDir, 'redis.log');
  const pidfile = join(dataDir, 'redis.pid');
  const aof = options.persistence === 'aof';
  const timeoutMs = options.startTimeoutMs ?? 15000;
  const { password } = options;
  const conf = join(dataDir, 'redis.conf');
  if (password !== undefined) {
    // Quoting rules of redis.conf stay out of the way of base64url.
    if (!/^[\w-]+$/.test(password)) throw new HostError('a Redis password is letters, digits, _ and -');
    writeFileSync(conf, `requirepass ${password}\n`, { mode: 0o600 });
    chmodSync(conf, 0o600);
  } else rmSync(conf, { force: true });

  // A port picked free can be taken before redis binds it: pick again a few times.
  for (let attempt = 1; ; attempt++) {
    const port = socket ? 0 : (options.port ?? (await freePort()));
    const listen = socket
      ? ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700']
      : ['--port', String(port), '--bind', '127.0.0.1'];
    const child = spawnGuarded(
      binary,
      [
        // A config file comes first or not at all.
        ...(password === undefined ? [] : [conf]),
        ...listen,
        ...['--dir', dataDir, '--daemonize', 'no'],
        ...['--logfile', logfile, '--save', '', '--appendonly', aof ? 'yes' : 'no'],
        // BullMQ requires that Redis never evicts its keys.
        ...['--maxmemory-policy', 'noeviction'],
      ],
      { cwd: dataDir, stdio: 'ignore' },
    );
    const pid = child.pid;
    if (pid === undefined) throw new HostError(`could not start ${binary}`);
    writeFileSync(pidfile, `${pid} ${process.pid}\n`);
    const gone = exited(child);
    const state: { early: { code: number | null } | null } = { early: null };
    void gone.then((status) => (state.early = status));

    const deadline = Date.now() + timeoutMs;
    let answer = '';
    while (!state.early && Date.now() < deadline) {
      answer = await ping(socket ?? port, '127.0.0.1', 1000, password).catch((err: Error) => err.message);
      if (answer === '+PONG') break;
      await sleep(answer.startsWith('-LOADING') ? 100 : 20);
    }
    const { early } = state;
    if (answer === '+PONG' && !early) {
      const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
          await gone;
          clearTimeout(timer);
        }
        rmSync(pidfile, { force: true });
      };
      const secret = password === undefined ? undefined : encodeURIComponent(password);
      const url = socket
        ? `redis+unix://${socket}${secret === undefined ? '' : `?password=${secret}`}`
        : `redis://${secret === undefined ? '' : `:${secret}@`}127.0.0.1:${port}`;
      return { url, port, pid, exited: gone, stop, ...(socket ? { unixSocket: socket } : {}) };
    }
    if (!early) {
      child.kill('SIGKILL');
      await gone;
    }
    rmSync(pidfile, { force: true });
    const tail = logTail(logfile);
    if (early && !socket && options.port === undefined && attempt < 3 && /Address already in use/.test(tail))
      continue;
    throw new HostError(
      early
        ? `redis-server exited with code ${early.code} before it answered PING` +
          (tail ? `; ${logfile} ends with:\n${tail}` : '')
        : `redis-server did not answer PING within ${timeoutMs} ms (last answer: ${answer})`,
    );
  }
}
