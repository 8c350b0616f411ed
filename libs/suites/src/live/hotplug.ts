import type { VerdictRecord } from '@vmfarm/protocol';
import type { HotplugHandle, HotplugKind } from '@vmfarm/session';
import type { Suite } from '../suite';
import { answerWords, command } from './guest';
import { isReady, notReady, startInstance, type Instance } from './readiness';
import { runLive, verdictMaker } from './stages';
import { readyPatterns } from './transcript';

export const HOTPLUG_SUITE_ID = 'hotplug';
const CLAUSES = ['PLAT-HOTPLUG', 'GUEST-HOTPLUG'] as const;
const v = verdictMaker(HOTPLUG_SUITE_ID);
const KINDS: readonly HotplugKind[] = ['blk', 'net'];
/** How long the guest may take to show a hot-added device (pciehp and the driver probe take ~1 s). */
const NOTICE_MS = 20_000;
const POLL_MS = 1000;
/** pciehp waits 5 s before releasing a slot; removal takes about 6 s. */
const REMOVE_MS = 30_000;
/** A guest that never took the device has nothing to release: wait less for the proof. */
const REMOVE_UNNOTICED_MS = 15_000;

/** What happened to one device, host side and (reference guest) guest side. */
export interface PlugTrial {
  kind: HotplugKind;
  handle?: HotplugHandle;
  /** device_add refused, or the port did not show the device: the VM's part failed. */
  hostError?: string;
  /** The port the bus showed the device on (`query-pci`). */
  onBus?: string;
  /** How the guest showed it took the device: its listing (reference guest) or DRIVER_OK. */
  noticed?: string;
  /** The device's virtio status bits, as last read. */
  driver?: string[];
  /** DEVICE_DELETED arrived: the guest released the device. */
  removed?: boolean;
  removeError?: string;
  /** The guest's listing after removal no longer shows it (reference guest only). */
  goneInGuest?: boolean;
}

/** The devices of a `blk`/`net` answer: name → size or MAC (the `@PCI address` dropped). */
function devicesOf(rest: string): Map<string, string> {
  return new Map(
    Object.entries(answerWords(rest))
      .filter(([k]) => k !== 'n')
      .map(([name, value]) => [name, value.split('@')[0]]),
  );
}

/**
 * The guest lists the device: a name it did not list before the device was added (`before`), with
 * the scratch disk's size or the NIC's MAC (a boot disk of the same size is not the new one).
 */
function listed(
  kind: HotplugKind,
  handle: HotplugHandle,
  rest: string,
  before: ReadonlySet<string>,
): boolean {
  const want = kind === 'blk' ? String(handle.sectors) : handle.mac;
  return [...devicesOf(rest)].some(([name, value]) => !before.has(name) && value === want);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks `probe` every second until it gives an answer or NOTICE_MS have passed. */
async function within(probe: () => Promise<string | undefined>): Promise<string | undefined> {
  const deadline = Date.now() + NOTICE_MS;
  for (;;) {
    const found = await probe();
    if (found !== undefined || Date.now() > deadline) return found;
    await sleep(POLL_MS);
  }
}

async function trial(i: Instance, kind: HotplugKind): Promise<PlugTrial> {
  const t: PlugTrial = { kind };
  const before = new Set(i.farm ? devicesOf((await command(i, kind)).rest).keys() : []);
  try {
    t.handle = await i.session.hotplug.add({ kind });
  } catch (err) {
    t.hostError = `device_add of virtio-${kind} refused: ${(err as Error).message}`;
    return t;
  }
  const handle = t.handle;
  const { ports } = await i.session.hotplug.status();
  const port = ports.find((p) => p.device === handle.id);
  if (!port) {
    t.hostError = `virtio-${kind} ${handle.id} is not on any root port's bus after device_add (query-pci)`;
    return t;
  }
  t.onBus = port.id;
  // The reference guest lists its devices; any guest shows it took one by setting DRIVER_OK.
  t.noticed = await within(async () => {
    const driver = await i.session.hotplug.driver(handle);
    t.driver = driver.statuses;
    if (!i.farm) return driver.ready ? 'the guest driver set DRIVER_OK (x-query-virtio-status)' : undefined;
    const a = await command(i, kind);
    return listed(kind, handle, a.rest, before) ? a.line : undefined;
  });
  try {
    await i.session.hotplug.remove(handle, t.noticed ? REMOVE_MS : REMOVE_UNNOTICED_MS);
    t.removed = true;
  } catch (err) {
    t.removed = false;
    t.removeError = (err as Error).message.split('; last console lines')[0];
  }
  if (i.farm && t.removed)
    t.goneInGuest = !!(await within(async () => {
      const a = await command(i, kind);
      return listed(kind, handle, a.rest, before) ? undefined : a.line;
    }));
  return t;
}

/**
 * PLAT-HOTPLUG: the VM has hotplug-capable ports and takes virtio-blk and virtio-net on them while
 * the guest runs. GUEST-HOTPLUG: the guest takes each device (the reference guest lists it; any
 * guest's driver sets DRIVER_OK) and releases it on removal (DEVICE_DELETED).
 */
export function judgeHotplug(ports: number, trials: readonly PlugTrial[], farm: boolean): VerdictRecord[] {
  const evidence = {
    hotplugPorts: ports,
    trials,
    guestView: farm ? 'reference guest blk/net listings' : 'virtio status and QMP events',
  };
  if (ports === 0)
    return [
      v(
        'PLAT-HOTPLUG',
        'FAIL',
        'the VM offers no hotplug-capable port: no device can be added while the guest runs',
        evidence,
      ),
      v('GUEST-HOTPLUG', 'SKIP', 'not judged: the VM has no hotpluggable bus to test the guest on', evidence),
    ];
  const hostFailed = trials.filter((t) => t.hostError);
  if (hostFailed.length)
    return [
      v('PLAT-HOTPLUG', 'FAIL', hostFailed.map((t) => t.hostError).join('; '), evidence),
      v('GUEST-HOTPLUG', 'SKIP', 'not judged: the VM could not add every device', evidence),
    ];
  const onBus = trials.map((t) => `virtio-${t.kind} on ${t.onBus}`).join(', ');
  const plat = v(
    'PLAT-HOTPLUG',
    'PASS',
    `${ports} hotplug-capable PCIe root ports; ${onBus} added while the guest ran (query-pci)${trials.every((t) => t.removed) ? ', and removed (DEVICE_DELETED)' : ''}`,
    evidence,
  );
  const problems: string[] = [];
  for (const t of trials) {
    if (!t.noticed)
      problems.push(
        `the guest never ${farm ? 'listed' : 'took (DRIVER_OK)'} the hot-added virtio-${t.kind} (${NOTICE_MS / 1000} s; virtio status ${t.driver?.length ? t.driver.map((x) => x.split(':')[0]).join(',') : 'none'})`,
      );
    if (!t.removed) problems.push(`the guest did not release virtio-${t.kind}: ${t.removeError}`);
    else if (farm && !t.goneInGuest)
      problems.push(`the guest still lists virtio-${t.kind} after its removal`);
  }
  const guest = problems.length
    ? v('GUEST-HOTPLUG', 'FAIL', problems.join('; '), evidence)
    : v(
        'GUEST-HOTPLUG',
        'PASS',
        farm
          ? `the guest listed each device once added (${trials.map((t) => t.noticed).join(' / ')}) and released it on removal`
          : 'the guest took each device (DRIVER_OK, x-query-virtio-status) and released it on removal (DEVICE_DELETED)',
        evidence,
      );
  return [plat, guest];
}

export const hotplugSuite: Suite = {
  id: HOTPLUG_SUITE_ID,
  title: 'Hotplug: virtio-blk and virtio-net added and removed while the guest runs',
  typicalSeconds: 10,
  subject: 'vm',
  clauses: CLAUSES,
  targetKinds: ['qemu'],
  run: (ctx) =>
    runLive(ctx, HOTPLUG_SUITE_ID, CLAUSES, async (out, stages) => {
      const i = await startInstance(stages, readyPatterns(ctx.ready));
      if (!isReady(i)) {
        const p = notReady(i);
        for (const c of CLAUSES)
          out.push(v(c, p.verdict === 'FAIL' ? 'SKIP' : 'ERROR', `not judged: ${p.message}`, p.evidence));
        return;
      }
      const trials = await stages.run('act', 'add and remove blk and net', async () => {
        const { ports } = await i.session.hotplug.status();
        const done: PlugTrial[] = [];
        if (ports.length) for (const kind of KINDS) done.push(await trial(i, kind));
        return { ports: ports.length, done };
      });
      out.push(
        ...(await stages.run('judge', 'hotplug', () => judgeHotplug(trials.ports, trials.done, i.farm))),
      );
    }),
};
