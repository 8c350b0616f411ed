/**
 * The requirement text of each clause of ../shared/spec/CLAUSES.md, for reports that quote it
 * (certification). test/requirements.test.ts keeps it equal to the markdown when the spec is beside.
 */
export const REQUIREMENTS: Readonly<Record<string, string>> = {
  'IMG-GPT':
    'The raw disk is partitioned with a GUID Partition Table: protective MBR, primary header at LBA 1 and backup header at the last LBA, both with valid header and entry-array CRC32s, consistent with each other. Holds for 512-byte and 4096-byte logical sectors.',
  'IMG-ESP':
    'There is an EFI System Partition: GPT entry type GUID `C12A7328-F81F-11D2-BA4B-00A0C93EC93B`, inside the usable LBA range, not overlapping any other partition.',
  'IMG-ESP-FAT':
    'The ESP holds a FAT32 file system (UEFI 2.4A section 12.3.1.1): valid boot sector/BPB, FAT32 cluster count, consistent FATs. FAT12/16 is reported as a deviation.',
  'IMG-REMOVABLE-PATH':
    'The bootable software is at the UEFI removable-media path: `\\EFI\\BOOT\\BOOTAA64.EFI` for aarch64, `\\EFI\\BOOT\\BOOTARM.EFI` for aarch32. FAT names are case-insensitive; long and short names both count.',
  'IMG-EFI-APP':
    'That file is a UEFI application: PE32+ with machine `0xAA64` (aarch64) or PE32 with machine `0x01C2` (aarch32, ARM Thumb/ARM mixed), subsystem 10 (EFI application), sane section table and entry point inside an executable section.',
  'IMG-NO-VARS':
    'A portable image carries no variable store and assumes none: it boots with an empty set of UEFI variables (no BootOrder, no Boot####) through the default boot behaviour (UEFI 2.4A sections 3.3 and 3.4.1.1). A variable file such as `\\NvVars` in the ESP is reported.',
  'IMG-FW-NOT-BUNDLED':
    "The image does not ship the VM's UEFI firmware binary: firmware is a property of the VM implementation.",
  'FW-UEFI':
    'The VM boots the EFI application on the ESP. The first software executed is a UEFI implementation, compliant with UEFI 2.4 Revision A or later (system table revision >= 2.40).',
  'FW-DEFAULT-BOOT':
    'With an empty variable store, the boot manager enumerates removable then fixed media and runs the removable-media path (UEFI 3.3, 3.4.1.1).',
  'FW-NVRAM':
    'Persistent variable storage: a non-volatile variable set by the guest (SetVariable with NON_VOLATILE) survives a guest reset and a full power cycle of the same VM instance. Boot#### / BootOrder written by an installer or efibootmgr are honoured on the next boot.',
  'FW-NVRAM-INSTANCE':
    "Variable storage is a property of the VM instance, never of the disk image: a new instance of the same image starts with an empty store; two instances never see each other's variables.",
  'HW-DESC':
    'The firmware provides, through the UEFI configuration table, a complete FDT that describes the entire VM and boots mainline kernels from device tree alone, or ACPI tables (RSDP) locatable from the system table. Providing both is allowed; the OS chooses.',
  'HW-ENUM':
    'Every processing element, device and memory region is discoverable from the FDT/ACPI or a discoverable bus (PCI); no memory map is assumed.',
  'PLAT-EXEC':
    'At least one execution state: aarch32 vCPUs on aarch32 hosts, aarch32 vCPUs on aarch64 hosts, or aarch64 vCPUs on aarch64 hosts. SHOULD support both of the latter two on aarch64 hosts.',
  'PLAT-CONSOLE': 'A console: emulated PL011, virtio-console, or Xen PV console.',
  'PLAT-GIC':
    'A GICv2 or newer interrupt controller. GICv2 limits the VM to 8 vCPUs; more vCPUs need GICv3 or newer.',
  'PLAT-TIMER':
    'The ARM generic virtual timer and counter, described to the guest (FDT `arm,armv8-timer`/`arm,armv7-timer` or ACPI GTDT).',
  'PLAT-HOTPLUG':
    'A hotpluggable bus (virtual PCIe with hotplug-capable ports, or the Xen PV bus) on which at least block and network devices can be added and removed while the guest runs.',
  'GUEST-GIC':
    'The guest supports GICv2 and every newer GIC available, so it boots on older VM implementations (GICv2 fallback).',
  'GUEST-VIRTIO':
    'The guest kernel or initial ramdisk carries virtio-pci, virtio-mmio and Xen PV drivers for block, network, console and balloon.',
  'GUEST-CONSOLE':
    "The guest's console works on whichever of PL011, virtio-console or Xen PV console the VM provides.",
  'GUEST-HOTPLUG':
    'The guest notices block and network devices hot-added to, and releases devices hot-removed from, the hotpluggable bus.',
  'GUEST-DESC':
    'The guest boots driven by the FDT alone, and (aarch64) by ACPI alone where the VM provides only ACPI.',
};

/** `| ID | subject | level | requirement |` rows of CLAUSES.md → requirement text by id. */
export function parseRequirementsMarkdown(markdown: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of markdown.split('\n')) {
    const row = /^\| ([A-Z][A-Z0-9-]+) \| (?:image|vm|guest) \| (?:MUST|SHOULD|MAY) \| (.+?) \|$/.exec(line);
    if (row) out[row[1]] = row[2];
  }
  return out;
}
