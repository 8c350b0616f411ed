/**
 * The device tree QEMU 7.2's `virt` machine (hw/arm/virt.c) generates for one Cortex-A57, no EL2/EL3,
 * `acpi=off`: the same nodes, properties, phandles and order as `-machine virt,dumpdtb=...` writes,
 * so AAVMF and Linux find the same platform. Only rng-seed and kaslr-seed differ (random per boot).
 * The emulator's machine is `virt,highmem=off` (see `highmem`).
 */
import type { FdtNode } from '../devices/device';
import { cells64 } from './fdt';
import { VIRT_HIGH, VIRT_MAP, VIRT_PPI, VIRT_SPI } from './virt-map';

export interface VirtFdtOptions {
  ramSize: number;
  gicVersion: 2 | 3;
  /** 40 random bytes: 32 of rng-seed then 8 of kaslr-seed. */
  seed: Uint8Array;
  /** How many CPUs (1 for now: the machine runs one PE). */
  cpus?: number;
  /**
   * QEMU's `highmem` (default on in QEMU): the PCIe ECAM and a 64-bit MMIO window above 4 GiB. The
   * emulator's bus ends at 4 GiB, so its machine is `highmem=off`: ECAM at 0x3f00_0000, 16 buses.
   */
  highmem?: boolean;
}

/** Phandles as QEMU allocates them (qemu_fdt_alloc_phandle starts at 0x8000). */
const PHANDLE = { clock: 0x8000, cpu0: 0x8001, gic: 0x8002, msi: 0x8003, gpio: 0x8004 } as const;

const IRQ_TYPE_SPI = 0;
const IRQ_TYPE_PPI = 1;
const LEVEL_HI = 4;
const EDGE_LO_HI = 1;

const reg = (base: number, size: number): number[] => [...cells64(base), ...cells64(size)];
const hex = (n: number) => n.toString(16);

function seedCells(bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => dv.getUint32(i * 4));
}

export function buildVirtFdt(o: VirtFdtOptions): FdtNode {
  const m = VIRT_MAP;
  const cpus = o.cpus ?? 1;
  // GICv2 encodes the target CPU mask of a PPI in bits [15:8] of the flags cell.
  const ppiFlags = o.gicVersion === 2 ? ((1 << cpus) - 1) << 8 : 0;
  const ppi = (n: number) => [IRQ_TYPE_PPI, n, LEVEL_HI | ppiFlags];
  const spi = (n: number, type = LEVEL_HI) => [IRQ_TYPE_SPI, n, type];
  const primecell = (name: string, base: number, size: number, irq: number, clocks: string[]) => ({
    name: `${name}@${hex(base)}`,
    props: [
      ['clock-names', clocks.length === 1 ? clocks[0] : clocks],
      ['clocks', clocks.map(() => PHANDLE.clock)],
      ['interrupts', spi(irq)],
      ['reg', reg(base, size)],
      ['compatible', [`arm,${name}`, 'arm,primecell']],
    ] as FdtNode['props'],
  });

  const virtio: FdtNode[] = [];
  for (let i = 0; i < 32; i++) {
    const base = m.virtioMmio.base + i * m.virtioMmio.size;
    virtio.push({
      name: `virtio_mmio@${hex(base)}`,
      props: [
        ['dma-coherent', null],
        ['interrupts', spi(VIRT_SPI.virtioMmio + i, EDGE_LO_HI)],
        ['reg', reg(base, m.virtioMmio.size)],
        ['compatible', 'virtio,mmio'],
      ],
    });
  }

  const interruptMap: number[] = [];
  for (let slot = 0; slot < 4; slot++) {
    for (let pin = 0; pin < 4; pin++) {
      const irq = VIRT_SPI.pcie + ((pin + slot) % 4);
      interruptMap.push(slot << 11, 0, 0, pin + 1, PHANDLE.gic, 0, 0, IRQ_TYPE_SPI, irq, LEVEL_HI);
    }
  }
  const pcieRanges = [
    ...[0x0100_0000, 0, 0, ...cells64(m.pciePio.base), ...cells64(m.pciePio.size)],
    ...[0x0200_0000, ...cells64(m.pcieMmio.base), ...cells64(m.pcieMmio.base), ...cells64(m.pcieMmio.size)],
  ];
  if (o.highmem) {
    const high = VIRT_HIGH.pcieMmio;
    pcieRanges.push(0x0300_0000, ...cells64(high.base), ...cells64(high.base), ...cells64(high.size));
  }
  const pl061 = primecell('pl061', m.gpio.base, m.gpio.size, VIRT_SPI.gpio, ['apb_pclk']);
  const pl061Props = pl061.props;
  // QEMU adds the GPIO controller's phandle and cells after its primecell properties, in this order.
  pl061.props = [
    ['phandle', [PHANDLE.gpio]],
    pl061Props[0],
    pl061Props[1],
    pl061Props[2],
    ['gpio-controller', null],
    ['#gpio-cells', [2]],
    pl061Props[4],
    pl061Props[3],
  ];

  const gic: FdtNode =
    o.gicVersion === 3
      ? {
          name: `intc@${hex(m.gicDist.base)}`,
          props: [
            ['phandle', [PHANDLE.gic]],
            ['reg', [...reg(m.gicDist.base, m.gicDist.size), ...reg(m.gicRedist.base, m.gicRedist.size)]],
            ['#redistributor-regions', [1]],
            ['compatible', 'arm,gic-v3'],
            ['ranges', null],
            ['#size-cells', [2]],
            ['#address-cells', [2]],
            ['interrupt-controller', null],
            ['#interrupt-cells', [3]],
          ],
          children: [
            {
              name: `its@${hex(m.gicIts.base)}`,
              props: [
                ['phandle', [PHANDLE.msi]],
                ['reg', reg(m.gicIts.base, m.gicIts.size)],
                ['#msi-cells', [1]],
                ['msi-controller', null],
                ['compatible', 'arm,gic-v3-its'],
              ],
            },
          ],
        }
      : {
          name: `intc@${hex(m.gicDist.base)}`,
          props: [
            ['phandle', [PHANDLE.gic]],
            ['reg', [...reg(m.gicDist.base, m.gicDist.size), ...reg(m.gicCpu.base, m.gicCpu.size)]],
            ['compatible', 'arm,cortex-a15-gic'],
            ['ranges', null],
            ['#size-cells', [2]],
            ['#address-cells', [2]],
            ['interrupt-controller', null],
            ['#interrupt-cells', [3]],
          ],
          children: [
            {
              name: `v2m@${hex(m.gicV2m.base)}`,
              props: [
                ['phandle', [PHANDLE.msi]],
                ['reg', reg(m.gicV2m.base, m.gicV2m.size)],
                ['msi-controller', null],
                ['compatible', 'arm,gic-v2m-frame'],
              ],
            },
          ],
        };

  const cpuNodes: FdtNode[] = [];
  const coreNodes: FdtNode[] = [];
  for (let i = cpus - 1; i >= 0; i--) {
    cpuNodes.push({
      name: `cpu@${i}`,
      props: [
        ['phandle', [PHANDLE.cpu0 + i]],
        ['reg', [i]],
        ['compatible', 'arm,cortex-a57'],
        ['device_type', 'cpu'],
      ],
    });
    coreNodes.push({ name: `core${i}`, props: [['cpu', [PHANDLE.cpu0 + i]]] });
  }

  return {
    name: '',
    props: [
      ['interrupt-parent', [PHANDLE.gic]],
      ['model', 'linux,dummy-virt'],
      ['#size-cells', [2]],
      ['#address-cells', [2]],
      ['compatible', 'linux,dummy-virt'],
    ],
    children: [
      {
        name: 'psci',
        props: [
          ['migrate', [0xc4000005]],
          ['cpu_on', [0xc4000003]],
          ['cpu_off', [0x84000002]],
          ['cpu_suspend', [0xc4000001]],
          ['method', 'hvc'],
          ['compatible', ['arm,psci-1.0', 'arm,psci-0.2', 'arm,psci']],
        ],
      },
      {
        name: `memory@${hex(m.ram.base)}`,
        props: [
          ['reg', reg(m.ram.base, o.ramSize)],
          ['device_type', 'memory'],
        ],
      },
      {
        name: 'platform-bus@c000000',
        props: [
          ['interrupt-parent', [PHANDLE.gic]],
          ['ranges', [0, 0, 0x0c00_0000, 0x0200_0000]],
          ['#address-cells', [1]],
          ['#size-cells', [1]],
          ['compatible', ['qemu,platform', 'simple-bus']],
        ],
      },
      {
        name: `fw-cfg@${hex(m.fwCfg.base)}`,
        props: [
          ['dma-coherent', null],
          ['reg', reg(m.fwCfg.base, m.fwCfg.size)],
          ['compatible', 'qemu,fw-cfg-mmio'],
        ],
      },
      ...virtio,
      {
        name: 'gpio-keys',
        props: [['compatible', 'gpio-keys']],
        children: [
          {
            name: 'poweroff',
            props: [
              ['gpios', [PHANDLE.gpio, 3, 0]],
              ['linux,code', [0x74]],
              ['label', 'GPIO Key Poweroff'],
            ],
          },
        ],
      },
      pl061,
      {
        name: `pcie@${hex(m.pcieMmio.base)}`,
        props: [
          ['interrupt-map-mask', [0x1800, 0, 0, 7]],
          ['interrupt-map', interruptMap],
          ['#interrupt-cells', [1]],
          ['ranges', pcieRanges],
          [
            'reg',
            o.highmem
              ? reg(VIRT_HIGH.pcieEcam.base, VIRT_HIGH.pcieEcam.size)
              : reg(m.pcieEcam.base, m.pcieEcam.size),
          ],
          ['msi-map', [0, PHANDLE.msi, 0, 0x10000]],
          ['dma-coherent', null],
          // One bus per MiB of ECAM.
          ['bus-range', [0, (o.highmem ? VIRT_HIGH.pcieEcam.size : m.pcieEcam.size) / 0x10_0000 - 1]],
          ['linux,pci-domain', [0]],
          ['#size-cells', [2]],
          ['#address-cells', [3]],
          ['device_type', 'pci'],
          ['compatible', 'pci-host-ecam-generic'],
        ],
      },
      primecell('pl031', m.rtc.base, m.rtc.size, VIRT_SPI.rtc, ['apb_pclk']),
      primecell('pl011', m.uart.base, m.uart.size, VIRT_SPI.uart, ['uartclk', 'apb_pclk']),
      {
        name: 'pmu',
        props: [
          ['interrupts', ppi(VIRT_PPI.pmu)],
          ['compatible', 'arm,armv8-pmuv3'],
        ],
      },
      gic,
      {
        name: 'flash@0',
        props: [
          ['bank-width', [4]],
          [
            'reg',
            [
              ...reg(m.flash.base, m.flash.size / 2),
              ...reg(m.flash.base + m.flash.size / 2, m.flash.size / 2),
            ],
          ],
          ['compatible', 'cfi-flash'],
        ],
      },
      {
        name: 'cpus',
        props: [
          ['#size-cells', [0]],
          ['#address-cells', [1]],
        ],
        children: [
          {
            name: 'cpu-map',
            props: [],
            children: [
              {
                name: 'socket0',
                props: [],
                children: [{ name: 'cluster0', props: [], children: coreNodes }],
              },
            ],
          },
          ...cpuNodes,
        ],
      },
      {
        name: 'timer',
        props: [
          [
            'interrupts',
            [
              ...ppi(VIRT_PPI.securePhysTimer),
              ...ppi(VIRT_PPI.physTimer),
              ...ppi(VIRT_PPI.virtTimer),
              ...ppi(VIRT_PPI.hypTimer),
            ],
          ],
          ['always-on', null],
          ['compatible', ['arm,armv8-timer', 'arm,armv7-timer']],
        ],
      },
      {
        name: 'apb-pclk',
        props: [
          ['phandle', [PHANDLE.clock]],
          ['clock-output-names', 'clk24mhz'],
          ['clock-frequency', [24_000_000]],
          ['#clock-cells', [0]],
          ['compatible', 'fixed-clock'],
        ],
      },
      {
        name: 'chosen',
        props: [
          ['stdout-path', `/pl011@${hex(m.uart.base)}`],
          ['rng-seed', seedCells(o.seed.subarray(0, 32))],
          ['kaslr-seed', seedCells(o.seed.subarray(32, 40))],
        ],
      },
    ],
  };
}
