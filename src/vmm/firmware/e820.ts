/**
 * The PC physical memory map as firmware reports it through INT 15h AX=E820h (ACPI 6.5
 * section 15, "System Address Map Interfaces"), laid out the way QEMU's i440FX "pc" machine
 * splits RAM around the 32-bit PCI hole. Pure data: no device, no guest memory access.
 *
 * RAM split (QEMU hw/i386/pc_piix.c, pc_init1): `max_ram_below_4g` defaults to 0xE0000000
 * (3.5 GiB); when the RAM size is at least that and the machine type is gigabyte-aligned (all
 * types since pc-1.7), the split moves down to 0xC0000000 (3 GiB); RAM at or above the split
 * continues at 4 GiB, RAM below it stays below. So 3 GiB of RAM is all below 4 GiB, 3.5 GiB
 * becomes 3 GiB + 0.5 GiB above 4 GiB.
 *
 * QEMU's q35 machine (hw/i386/pc_q35.c, pc_q35_init) leaves more room below 4 GiB for the
 * PCI Express MMCONFIG window: the split is 0xB0000000 (2.75 GiB), and 0x80000000 (2 GiB,
 * gigabyte-aligned machine types) once RAM reaches 0xB0000000: `qemuQ35RamSplit`.
 *
 * pinvm's PcMachine uses the split of its machine type (`machineRamSplit`); the hypervisor
 * maps the part below 4 GiB at 0 and the rest at 4 GiB. `contiguousRamSplit` describes a
 * machine with all RAM in one block at 0 (loader tests, firmware experiments).
 */

/** Address-range types (ACPI 6.5 15, table "Address Range Types"). */
export const E820Type = {
  /** AddressRangeMemory: usable RAM. */
  Ram: 1,
  /** AddressRangeReserved: in use or reserved by the system, not to be used by the OS. */
  Reserved: 2,
  /** AddressRangeACPI: holds ACPI tables; reclaimable once the OS has read them. */
  Acpi: 3,
  /** AddressRangeNVS: ACPI NVS memory, preserved across sleep. */
  Nvs: 4,
  /** AddressRangeUnusable: memory with detected errors. */
  Unusable: 5,
} as const;

/** One entry of the map (the fields of the INT 15h E820h descriptor, ACPI 6.5 15.1). */
export interface E820Entry {
  /** Base physical address. */
  base: number;
  /** Length in bytes. */
  length: number;
  /** One of E820Type. */
  type: number;
}

/** How much RAM lies below 4 GiB (from address 0) and how much continues at 4 GiB. */
export interface RamSplit {
  belowFourGiB: number;
  aboveFourGiB: number;
}

/** 4 GiB: where RAM above the PCI hole resumes. */
export const FOUR_GIB = 0x1_0000_0000;

/** QEMU pc's default `max-ram-below-4g` (3.5 GiB). */
export const QEMU_PC_MAX_RAM_BELOW_4G = 0xe000_0000;

/** QEMU pc's gigabyte-aligned split (3 GiB), used when RAM does not fit below the default. */
export const QEMU_PC_GIGABYTE_SPLIT = 0xc000_0000;

/** QEMU q35's split for RAM below 0xB0000000 (2.75 GiB; the rest of the hole is PCI/MMCONFIG). */
export const QEMU_Q35_MAX_RAM_BELOW_4G = 0xb000_0000;

/** QEMU q35's gigabyte-aligned split (2 GiB), used when RAM does not fit below 0xB0000000. */
export const QEMU_Q35_GIGABYTE_SPLIT = 0x8000_0000;

/** Top of conventional memory: 639 KiB, the rest of the first 640 KiB is the EBDA. */
export const EBDA_BASE = 0x9fc00;

/** End of the first 640 KiB (start of the legacy VGA/ROM hole). */
export const LEGACY_HOLE_BASE = 0xa0000;

/** The system BIOS area (F0000H-FFFFFH), reserved. */
export const BIOS_AREA_BASE = 0xf0000;

/** 1 MiB: extended memory starts here. */
export const ONE_MIB = 0x10_0000;

/** Size of one encoded entry in QEMU's "etc/e820" fw_cfg file and in boot_params. */
export const E820_ENTRY_BYTES = 20;

function checkSize(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what}: expected a non-negative integer number of bytes, got ${String(value)}`);
  }
}

/**
 * QEMU pc (i440FX) RAM split for `ramBytes` (hw/i386/pc_piix.c, default max-ram-below-4g,
 * gigabyte-aligned machine type).
 */
export function qemuPcRamSplit(ramBytes: number): RamSplit {
  checkSize("ramBytes", ramBytes);
  let lowmem = QEMU_PC_MAX_RAM_BELOW_4G;
  if (ramBytes >= QEMU_PC_MAX_RAM_BELOW_4G) lowmem = QEMU_PC_GIGABYTE_SPLIT;
  if (ramBytes >= lowmem) return { belowFourGiB: lowmem, aboveFourGiB: ramBytes - lowmem };
  return { belowFourGiB: ramBytes, aboveFourGiB: 0 };
}

/**
 * QEMU q35 RAM split for `ramBytes` (hw/i386/pc_q35.c, pc_q35_init, default
 * max-ram-below-4g, gigabyte-aligned machine type): lowmem is 0xB0000000, or 0x80000000 when
 * RAM is at least 0xB0000000; RAM at or above lowmem continues at 4 GiB. So 2.5 GiB of RAM is
 * all below 4 GiB, 3 GiB becomes 2 GiB + 1 GiB above.
 */
export function qemuQ35RamSplit(ramBytes: number): RamSplit {
  checkSize("ramBytes", ramBytes);
  const lowmem = ramBytes >= QEMU_Q35_MAX_RAM_BELOW_4G ? QEMU_Q35_GIGABYTE_SPLIT : QEMU_Q35_MAX_RAM_BELOW_4G;
  if (ramBytes >= lowmem) return { belowFourGiB: lowmem, aboveFourGiB: ramBytes - lowmem };
  return { belowFourGiB: ramBytes, aboveFourGiB: 0 };
}

/** Machine types whose RAM split pinvm models (`-machine pc` / `-machine q35`). */
export type PcMachineType = "pc" | "q35";

/** The RAM split of machine type `type` with `ramBytes` of RAM. */
export function machineRamSplit(type: PcMachineType, ramBytes: number): RamSplit {
  return type === "q35" ? qemuQ35RamSplit(ramBytes) : qemuPcRamSplit(ramBytes);
}

/**
 * The split of a machine whose RAM is one block at address 0: everything below 4 GiB. Throws RangeError when the RAM would reach the I/O APIC at
 * FEC00000H.
 */
export function contiguousRamSplit(ramBytes: number): RamSplit {
  checkSize("ramBytes", ramBytes);
  if (ramBytes > 0xfec0_0000) {
    throw new RangeError(`ramBytes: 0x${ramBytes.toString(16)} of contiguous RAM would overlap the I/O APIC`);
  }
  return { belowFourGiB: ramBytes, aboveFourGiB: 0 };
}

/**
 * The E820 map of a PC with RAM split as `split`: 0-9FBFFH RAM, the EBDA (9FC00H-9FFFFH)
 * and the BIOS area (F0000H-FFFFFH) reserved, RAM from 1 MiB to the split, RAM above 4 GiB.
 * The VGA window and option ROMs (A0000H-EFFFFH) are left out of the map, as PC firmware
 * does. `extra` entries (e.g. the ACPI tables' area) are added; the result is sorted by base
 * address. Throws RangeError if an extra entry overlaps another entry.
 */
export function pcE820Map(split: RamSplit, extra: readonly E820Entry[] = []): E820Entry[] {
  checkSize("belowFourGiB", split.belowFourGiB);
  checkSize("aboveFourGiB", split.aboveFourGiB);
  if (split.belowFourGiB > FOUR_GIB) throw new RangeError("belowFourGiB: more than 4 GiB");
  const map: E820Entry[] = [];
  const low = Math.min(EBDA_BASE, split.belowFourGiB);
  if (low > 0) map.push({ base: 0, length: low, type: E820Type.Ram });
  map.push({ base: EBDA_BASE, length: LEGACY_HOLE_BASE - EBDA_BASE, type: E820Type.Reserved });
  map.push({ base: BIOS_AREA_BASE, length: ONE_MIB - BIOS_AREA_BASE, type: E820Type.Reserved });
  if (split.belowFourGiB > ONE_MIB) {
    map.push({ base: ONE_MIB, length: split.belowFourGiB - ONE_MIB, type: E820Type.Ram });
  }
  if (split.aboveFourGiB > 0) map.push({ base: FOUR_GIB, length: split.aboveFourGiB, type: E820Type.Ram });
  for (const entry of extra) {
    checkSize("extra entry base", entry.base);
    checkSize("extra entry length", entry.length);
    if (entry.length === 0) continue;
    const clash = map.find((m) => entry.base < m.base + m.length && m.base < entry.base + entry.length);
    if (clash) {
      throw new RangeError(
        `e820 entry 0x${entry.base.toString(16)}+0x${entry.length.toString(16)} overlaps ` +
          `0x${clash.base.toString(16)}+0x${clash.length.toString(16)}`,
      );
    }
    map.push({ ...entry });
  }
  return map.sort((a, b) => a.base - b.base);
}

/**
 * Removes `range` from the RAM entries of `map` and inserts it with `type` (for carving the
 * ACPI tables or other firmware data out of usable RAM). Returns a new sorted map.
 */
export function carveE820(map: readonly E820Entry[], range: E820Entry): E820Entry[] {
  checkSize("range base", range.base);
  checkSize("range length", range.length);
  const start = range.base;
  const end = range.base + range.length;
  const out: E820Entry[] = [];
  for (const entry of map) {
    const entryEnd = entry.base + entry.length;
    if (entryEnd <= start || entry.base >= end) {
      out.push({ ...entry });
      continue;
    }
    if (entry.type !== E820Type.Ram) {
      throw new RangeError(
        `cannot carve 0x${start.toString(16)}..0x${end.toString(16)}: it overlaps a non-RAM entry ` +
          `at 0x${entry.base.toString(16)}`,
      );
    }
    if (entry.base < start) out.push({ base: entry.base, length: start - entry.base, type: entry.type });
    if (entryEnd > end) out.push({ base: end, length: entryEnd - end, type: entry.type });
  }
  if (range.length > 0) out.push({ ...range });
  return out.sort((a, b) => a.base - b.base);
}

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % FOUR_GIB, true);
  view.setUint32(offset + 4, Math.floor(value / FOUR_GIB), true);
}

/**
 * The map as little-endian 20-byte records {u64 address, u64 length, u32 type}: the layout of
 * QEMU's "etc/e820" fw_cfg file and of boot_params.e820_table (Linux struct boot_e820_entry).
 */
export function encodeE820Table(map: readonly E820Entry[]): Uint8Array {
  const bytes = new Uint8Array(map.length * E820_ENTRY_BYTES);
  const view = new DataView(bytes.buffer);
  map.forEach((entry, i) => {
    const at = i * E820_ENTRY_BYTES;
    setU64(view, at, entry.base);
    setU64(view, at + 8, entry.length);
    view.setUint32(at + 16, entry.type, true);
  });
  return bytes;
}
