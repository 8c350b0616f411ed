import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import {
  TransportError,
  type CommandExit,
  type ExecResult,
  type HostCommand,
  type HostTransport,
  type StreamTarget,
} from './types';

export interface SshOptions {
  /** The private key (OpenSSH or PEM text), or `identityFile` to read it from. */
  privateKey?: string | Buffer;
  identityFile?: string;
  /**
   * The host's public key as an OpenSSH line (`ssh-ed25519 AAAA…`): the connection is refused when
   * the host shows another. Without it, `acceptAnyHostKey` must say so explicitly.
   */
  hostKey?: string;
  acceptAnyHostKey?: boolean;
  readyTimeoutMs?: number;
}

/** `ssh://user@host:port` (port 22 when absent). */
export function parseSshUrl(url: string): { username: string; host: string; port: number } {
  const u = new URL(url);
  if (u.protocol !== 'ssh:' || !u.hostname || !u.username)
    throw new TransportError(`not an ssh://user@host[:port] URL: ${url}`);
  return {
    username: decodeURIComponent(u.username),
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 22,
  };
}

/** SFTP writes of 32 KiB (what every server takes), eight at a time. */
const UPLOAD_BLOCK = 32 << 10;
const UPLOAD_IN_FLIGHT = 8;
const ZERO = Buffer.alloc(UPLOAD_BLOCK);
const isZero = (b: Buffer) => b.equals(ZERO.subarray(0, b.length));

/** A word the host's shell takes literally. */
export const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * A host over SSH (the ssh2 library: no `ssh` program, no parsing of its output). Commands run through
 * the host's `sh`, each argument quoted; files move over SFTP; streams are direct-tcpip channels (any
 * server) or direct-streamlocal (OpenSSH's, for unix sockets).
 */
export class SshTransport implements HostTransport {
  readonly remote = true;
  private sftpSession: Promise<SFTPWrapper> | null = null;
  private lost: Error | null = null;

  private constructor(
    readonly url: string,
    private readonly client: Client,
  ) {
    client.on('error', (err) => (this.lost ??= new TransportError(`${url}: ${err.message}`)));
    client.on('close', () => (this.lost ??= new TransportError(`${url}: connection closed`)));
  }

  static connect(url: string, options: SshOptions): Promise<SshTransport> {
    const { username, host, port } = parseSshUrl(url);
    const privateKey = options.privateKey ?? (options.identityFile && readFileSync(options.identityFile));
    if (!privateKey) throw new TransportError(`${url}: no key (privateKey or identityFile)`);
    if (!options.hostKey && !options.acceptAnyHostKey)
      throw new TransportError(`${url}: no host key to check against (hostKey, or acceptAnyHostKey)`);
    const pinned = options.hostKey
      ? Buffer.from(options.hostKey.trim().split(/\s+/)[1] ?? '', 'base64')
      : null;
    const config: ConnectConfig = {
      host,
      port,
      username,
      privateKey,
      readyTimeout: options.readyTimeoutMs ?? 20_000,
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => !pinned || key.equals(pinned),
    };
    return new Promise((resolve, reject) => {
      const client = new Client();
      const fail = (err: Error) => reject(new TransportError(`cannot connect to ${url}: ${err.message}`));
      client.once('error', fail);
      client.once('ready', () => {
        client.removeListener('error', fail);
        resolve(new SshTransport(`ssh://${username}@${host}:${port}`, client));
      });
      client.connect(config);
    });
  }

  private check(): void {
    if (this.lost) throw this.lost;
  }

  private channel(commandLine: string): Promise<ClientChannel> {
    this.check();
    return new Promise((resolve, reject) =>
      this.client.exec(commandLine, (err, ch) =>
        err ? reject(new TransportError(`${this.url}: ${err.message}`)) : resolve(ch),
      ),
    );
  }

  spawn(command: string, args: readonly string[]): HostCommand {
    // The shell prints its pid, then becomes the program (same pid): so we can signal it later.
    const line = `echo $$; exec ${[command, ...args].map(shellQuote).join(' ')}`;
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let setPid!: (pid: number) => void;
    let failPid!: (err: Error) => void;
    const pid = new Promise<number>((resolve, reject) => ((setPid = resolve), (failPid = reject)));
    pid.catch(() => {});
    const exited = new Promise<CommandExit>((resolve) => {
      this.channel(line).then(
        (ch) => {
          let head = '';
          let exit: CommandExit = { code: null, signal: null };
          const onData = (chunk: Buffer) => {
            head += chunk.toString('latin1');
            const nl = head.indexOf('\n');
            if (nl < 0) return;
            ch.removeListener('data', onData);
            const p = Number(head.slice(0, nl));
            setPid(p);
            this.lifeline(p, ch);
            const rest = Buffer.from(head.slice(nl + 1), 'latin1');
            if (rest.length) stdout.write(rest);
            ch.pipe(stdout);
          };
          ch.on('data', onData);
          ch.stderr.pipe(stderr);
          stdin.pipe(ch);
          ch.on('exit', (code: number | null, signal?: string) => (exit = { code, signal: signal ?? null }));
          ch.once('close', () => {
            failPid(new TransportError('the command ended before it ran'));
            stdout.end();
            stderr.end();
            // No exit status: the connection went, not the command (the lifeline ends that).
            resolve(
              exit.code === null && exit.signal === null && this.lost
                ? { ...exit, lost: this.lost.message }
                : exit,
            );
          });
        },
        (err: Error) => {
          failPid(err);
          stdout.end();
          stderr.end();
          resolve({ code: null, signal: null });
        },
      );
    });
    return {
      stdin,
      stdout,
      stderr,
      pid,
      exited,
      kill: async (signal = 'SIGTERM') => {
        const p = await pid.catch(() => null);
        if (p === null || this.lost) return;
        await this.exec('kill', [`-${signal.replace(/^SIG/, '')}`, String(p)]).catch(() => {});
      },
    };
  }

  /**
   * A second channel that outlives `pid` only by the connection: when the connection drops, the
   * server closes the channel, `read` sees the end of its input and the command is ended there, so a
   * host that drops off the network keeps no VM of ours. A command that ends first says `done`.
   */
  private lifeline(pid: number, command: ClientChannel): void {
    const script = `read -r x; [ "$x" = done ] && exit 0; kill -TERM ${pid}; sleep 5; kill -KILL ${pid}`;
    let ended = false;
    command.once('close', () => (ended = true));
    this.channel(`sh -c ${shellQuote(script)} 2>/dev/null`).then(
      (ch) => {
        ch.on('data', () => {});
        if (ended) ch.end('done\n');
        else command.once('close', () => ch.end('done\n'));
      },
      () => {}, // the connection is gone already: the server has closed the command's channel too
    );
  }

  async exec(
    command: string,
    args: readonly string[],
    options: { input?: string; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    const ch = await this.channel([command, ...args].map(shellQuote).join(' '));
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let exit: CommandExit = { code: null, signal: null };
      const timer =
        options.timeoutMs &&
        setTimeout(() => {
          ch.close();
          reject(new TransportError(`${this.url}: ${command} took over ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      ch.on('data', (b: Buffer) => out.push(b));
      ch.stderr.on('data', (b: Buffer) => err.push(b));
      ch.on('exit', (code: number | null, signal?: string) => (exit = { code, signal: signal ?? null }));
      ch.once('close', () => {
        if (timer) clearTimeout(timer);
        resolve({ ...exit, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      ch.end(options.input ?? '');
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.check();
    this.sftpSession ??= new Promise((resolve, reject) =>
      this.client.sftp((err, sftp) =>
        err ? reject(new TransportError(`${this.url}: sftp: ${err.message}`)) : resolve(sftp),
      ),
    );
    this.sftpSession.catch(() => (this.sftpSession = null));
    return this.sftpSession;
  }

  /**
   * Writes only the blocks that hold data and sets the size: a disk image's holes stay holes there,
   * and only its data crosses the connection (a 130 MiB guest disk holds 33 MiB).
   */
  async upload(localPath: string, hostPath: string): Promise<void> {
    const sftp = await this.sftp();
    const fail = (err: Error) => new TransportError(`${this.url}: upload to ${hostPath}: ${err.message}`);
    const call = <T>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void) =>
      new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(fail(err)) : resolve(value))));
    const file = await open(localPath, 'r');
    try {
      const { size } = await file.stat();
      const handle = await call<Buffer>((cb) => sftp.open(hostPath, 'w', cb));
      try {
        const inFlight = new Set<Promise<void>>();
        for (let offset = 0; offset < size; offset += UPLOAD_BLOCK) {
          const block = Buffer.alloc(Math.min(UPLOAD_BLOCK, size - offset));
          await file.read(block, 0, block.length, offset);
          if (isZero(block)) continue;
          const write = call<void>((cb) =>
            sftp.write(handle, block, 0, block.length, offset, (err) => cb(err, undefined)),
          );
          inFlight.add(write);
          void write.finally(() => inFlight.delete(write)).catch(() => {});
          if (inFlight.size >= UPLOAD_IN_FLIGHT) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
        await call<void>((cb) => sftp.fsetstat(handle, { size }, (err) => cb(err, undefined)));
      } finally {
        await call<void>((cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => {});
      }
    } finally {
      await file.close();
    }
  }

  async download(hostPath: string, localPath: string): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.fastGet(hostPath, localPath, (err) =>
        err ? reject(new TransportError(`${this.url}: download of ${hostPath}: ${err.message}`)) : resolve(),
      ),
    );
  }

  async exists(hostPath: string): Promise<boolean> {
    const sftp = await this.sftp();
    return new Promise((resolve) => sftp.stat(hostPath, (err) => resolve(!err)));
  }

  async mkdtemp(prefix: string, parent?: string): Promise<string> {
    const r = await this.exec('mktemp', ['-d', `${parent ?? '/tmp'}/${prefix}XXXXXX`]);
    if (r.code !== 0) throw new TransportError(`${this.url}: mktemp failed: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  async remove(hostPath: string): Promise<void> {
    const r = await this.exec('rm', ['-rf', '--', hostPath]);
    if (r.code !== 0) throw new TransportError(`${this.url}: rm -rf ${hostPath} failed: ${r.stderr.trim()}`);
  }

  async freePort(): Promise<number> {
    // Ports in use are the local ones of /proc/net/tcp{,6} (hex); pick one outside them.
    const r = await this.exec('cat', ['/proc/net/tcp', '/proc/net/tcp6']);
    const used = new Set(
      [...r.stdout.matchAll(/^\s*\d+:\s+[0-9A-F]+:([0-9A-F]{4})\s/gm)].map((m) => parseInt(m[1], 16)),
    );
    for (;;) {
      const port = 20000 + Math.floor(Math.random() * 20000);
      if (!used.has(port)) return port;
    }
  }

  openStream(target: StreamTarget): Promise<Duplex> {
    this.check();
    return new Promise((resolve, reject) => {
      const done = (err: Error | undefined, ch: ClientChannel) =>
        err
          ? reject(new TransportError(`${this.url}: cannot open ${describe(target)}: ${err.message}`))
          : resolve(ch);
      if ('path' in target) this.client.openssh_forwardOutStreamLocal(target.path, done);
      else this.client.forwardOut('127.0.0.1', 0, target.host ?? '127.0.0.1', target.port, done);
    });
  }

  async close(): Promise<void> {
    if (this.lost) return;
    await new Promise<void>((resolve) => {
      this.client.once('close', () => resolve());
      this.client.end();
    });
  }
}

const describe = (t: StreamTarget) => ('path' in t ? t.path : `${t.host ?? '127.0.0.1'}:${t.port}`);
