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
  /** The instance's UEFI variable store file (the suites parse it with @vmfarm/image). */
  variables(): Promise<{ file: string }>;
  /** What the VM implementation offers, as its host side sees it (not what the guest reports). */
  platform(): Promise<PlatformFacts>;
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

/** One hotplug-capable port of the VM and what sits on it now, as the host's bus shows it. */
export interface HotplugPort {
  id: string;
  /** The device id on the port's secondary bus, or null when it is empty. */
  device: string | null;
}

export interface SessionHotplug {
  /** The ports and their devices, read from the VM's bus (QEMU: `query-pci`), not from bookkeeping. */
  status(timeoutMs?: number): Promise<{ ports: HotplugPort[] }>;
  add(request: { kind: HotplugKind }, timeoutMs?: number): Promise<HotplugHandle>;
  /**
   * The guest driver's state of a hot-added virtio device as the device sees it (QEMU:
   * `x-query-virtio-status`): `ready` once the guest set DRIVER_OK, i.e. it found and took the device.
   */
  driver(handle: HotplugHandle, timeoutMs?: number): Promise<{ ready: boolean; statuses: string[] }>;
  /** Unplugs through the guest (the guest must release the device) and resolves with the host's event. */
  remove(handle: HotplugHandle, timeoutMs?: number): Promise<QmpEvent>;
}

export type GicVersion = 2 | 3;

export interface PlatformFacts {
  /** The driver, e.g. `qemu`, and how it runs the VM (accelerator). */
  driver: string;
  accel: string;
  cpu: string;
  smp: number;
  memoryMiB: number;
  console: string;
  gic: {
    /** The interrupt controller this instance has. */
    version: GicVersion;
    /** The versions this host can give a VM with this accelerator. */
    available: GicVersion[];
  };
  /** What the firmware is configured to publish: the FDT always on QEMU's virt, ACPI when enabled. */
  description: { fdt: boolean; acpi: boolean };
  hotplugPorts: number;
  /** The raw answers the facts come from, for evidence. */
  evidence: Record<string, unknown>;
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
