/* Types only, importing nothing: @vmfarm/suites is written against this file and never loads a driver. */

/**
 * The VM-session API (DESIGN.md): what suites are written against, whatever the driver.
 * Every wait takes a timeout; a timeout error names what was awaited and the last console lines.
 */
export interface VmSession {
  readonly console: SessionConsole;
  readonly hotplug: SessionHotplug;
  /** Guest-visible warm reset. */
  reset(): Promise<void>;
  /** Stops and starts the same instance: same variable store, same disk overlay; hot-added devices are gone. */
  powerCycle(timeoutMs?: number): Promise<void>;
  /** The instance's UEFI variable store (for now its file; parsing it is a separate work item). */
  variables(): Promise<{ file: string }>;
  /** Leaves no process, socket or temporary file behind; idempotent; safe after any failure. */
  close(): Promise<void>;
}

export interface SessionConsole {
  /**
   * Waits for `pattern` in output not matched by an earlier expect. `$` (with the `m` flag) also
   * matches the end of the output so far, in the middle of a line still arriving: end a line
   * pattern with `\n` to wait for the whole line.
   */
  expect(pattern: RegExp | string, timeoutMs: number): Promise<ConsoleMatch>;
  /** Types `text` as is (add the newline yourself). */
  send(text: string): void;
  /** Everything the guest printed so far, carriage returns dropped. */
  transcript(): string;
}

export type HotplugKind = 'blk' | 'net';

export interface HotplugHandle {
  kind: HotplugKind;
  /** The device id on the host side (QMP `device_add` id). */
  id: string;
  /** The root port it sits on. */
  port: string;
  /** For `net`: the MAC address the guest will see. */
  mac?: string;
  /** For `blk`: size in 512-byte sectors the guest will see. */
  sectors?: number;
}

export interface SessionHotplug {
  add(request: { kind: HotplugKind }, timeoutMs?: number): Promise<HotplugHandle>;
  /** Unplugs through the guest (the guest must release the device) and resolves with the host's event. */
  remove(handle: HotplugHandle, timeoutMs?: number): Promise<QmpEvent>;
}

/** QEMU's side channel (qemu driver only): every command, reply and event is kept. */
export interface SessionQmp {
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Waits for an event named `name` (and matching `where`) received at or after index `since` of `events()`. */
  waitForEvent(
    name: string,
    options: { timeoutMs: number; since?: number; where?: (e: QmpEvent) => boolean; what?: string },
  ): Promise<QmpEvent>;
  events(): readonly QmpEvent[];
  transcript(): readonly QmpTranscriptEntry[];
}

export interface ConsoleMatch {
  /** The matched text. */
  text: string;
  /** Capture groups, in order (undefined for a group that did not take part). */
  groups: (string | undefined)[];
  named: Record<string, string | undefined>;
  /** Where the match starts and ends in `transcript()`. */
  index: number;
  end: number;
}

/** QMP speaks one JSON object per line (QEMU ends each with CRLF). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpTranscriptEntry {
  /** Milliseconds since the session started. */
  ms: number;
  dir: 'sent' | 'received' | 'note';
  /** The object sent or received; for `note`, what happened (connected, connection closed, bad line). */
  message: unknown;
}
