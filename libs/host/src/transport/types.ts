import type { Duplex, Readable, Writable } from 'node:stream';

/** How a finished command ended. */
export interface CommandExit {
  code: number | null;
  signal: string | null;
  /** Why the host could not tell how the command ended: the connection to it was lost. */
  lost?: string;
}

/** A command running on a host: its streams, its process id there, how it ends. */
export interface HostCommand {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The process id on the host (resolves once the command runs; rejects if it never started). */
  readonly pid: Promise<number>;
  /** Resolves when the command has ended and its output streams are drained. */
  readonly exited: Promise<CommandExit>;
  /** Signals the process on the host (locally its process group, which it leads). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ExecResult extends CommandExit {
  stdout: string;
  stderr: string;
}

/** Where a stream is opened on the host: a unix socket, or a TCP port (on the host's loopback by default). */
export type StreamTarget = { path: string } | { port: number; host?: string };

/**
 * Runs commands and moves files on a hypervisor host: the agent's own (`local`) or one reached over
 * SSH (`ssh://user@host:port`). Paths are the host's. Nothing here goes through a shell unless the
 * caller runs `sh -c` itself.
 */
export interface HostTransport {
  /** `local` or `ssh://user@host:port`: what logs and the probe show. */
  readonly url: string;
  readonly remote: boolean;
  spawn(command: string, args: readonly string[]): HostCommand;
  /** Runs to completion; output as UTF-8 text. Rejects only when the command could not be run at all. */
  exec(
    command: string,
    args: readonly string[],
    options?: { input?: string; timeoutMs?: number },
  ): Promise<ExecResult>;
  upload(localPath: string, hostPath: string): Promise<void>;
  download(hostPath: string, localPath: string): Promise<void>;
  exists(hostPath: string): Promise<boolean>;
  /** A fresh directory on the host under `parent` (default: the host's temporary directory). */
  mkdtemp(prefix: string, parent?: string): Promise<string>;
  /** Removes a file or a directory tree on the host; absent is fine. */
  remove(hostPath: string): Promise<void>;
  /** A TCP port free on the host's loopback a moment ago (for a server the caller is about to start there). */
  freePort(): Promise<number>;
  /** A byte stream to a socket on the host. */
  openStream(target: StreamTarget): Promise<Duplex>;
  close(): Promise<void>;
}

/** The transport failed (connection lost, refused, authentication): the host's fault, never the guest's. */
export class TransportError extends Error {
  override name = 'TransportError';
}
