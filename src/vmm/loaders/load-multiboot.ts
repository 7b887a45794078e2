/**
 * Boots a Multiboot v1 kernel on a PcMachine, as QEMU's `-kernel` does for such images:
 * parses the image (multiboot.ts), copies its segments into guest RAM and zeroes their bss,
 * writes the Multiboot information structure (mem_lower/mem_upper and a memory map derived
 * from the RAM size, the loader name, an optional command line), and puts the boot vCPU in the state of spec section
 * 3.2 through the hypervisor's set-APIs: flat 32-bit protected mode, paging off, IF=0,
 * EAX=0x2BADB002, EBX=the information structure's address, EIP=the entry point.
 *
 * Boot modules (QEMU's `-initrd "a,b"`): each is copied to the next page boundary above the
 * kernel (and above the module before it), and the information structure gets flags bit 3,
 * mods_count at offset 20 and mods_addr at offset 24, pointing to one 16-byte entry per
 * module: mod_start, mod_end (first byte past the module), string (a NUL-terminated string,
 * by convention the module's file name and arguments), reserved 0 (Multiboot 0.6.96 spec
 * section 3.3). The entries and strings follow the structure in the information area.
 */
import type { PcMachine } from "../machine.js";
import { HIGH_MEMORY_BASE, type Segment } from "../../hv/index.js";
import { bootTargetOf, hex, writeSegments } from "./common.js";
import {
  LoaderError,
  multibootInitialState,
  parseMultiboot,
  writeMultibootInfo,
  type MultibootImage,
  type MultibootMemoryRegion,
  type MultibootSegmentState,
} from "./multiboot.js";

/** Guest-physical address of the Multiboot information structure (in conventional memory). */
export const MULTIBOOT_INFO_ADDRESS = 0x9000;

/** Bytes reserved for the structure and what follows it (map, strings). */
const INFO_RESERVED = 0x1000;

/** Base memory below the EBDA: 639 KiB, as PC firmware reports it. */
const CONVENTIONAL_TOP = 0x9fc00;
const ONE_MIB = 0x100000;

/** Where loadMultiboot put things. */
export interface MultibootBootInfo {
  /** The parsed image. */
  image: MultibootImage;
  /** Address of the information structure (the value in EBX). */
  infoAddress: number;
  /** Entry point (EIP). */
  entry: number;
  /** Where the modules went, in order. */
  modules: LoadedModule[];
}

/** Options of loadMultiboot. */
export interface MultibootLoadOptions {
  /**
   * The kernel command line (the info structure's cmdline). QEMU and GRUB pass the kernel's
   * file name followed by the arguments (`-append`); callers that want the same compose it.
   */
  commandLine?: string;
  /** Boot modules, loaded in order, page-aligned above the kernel (spec 3.3, mods_*). */
  modules?: readonly MultibootModule[];
}

/** One boot module. */
export interface MultibootModule {
  /** The module's contents. */
  data: Uint8Array;
  /** Its string: QEMU passes the -initrd entry, file name first. */
  string: string;
}

/** Where a module went. */
export interface LoadedModule {
  /** mod_start: its first byte. */
  start: number;
  /** mod_end: the first byte past it. */
  end: number;
}

/** Info flag bit 3: mods_count and mods_addr are valid (spec 3.3). */
const MBI_FLAG_MODS = 1 << 3;
/** Bytes of one module entry: mod_start, mod_end, string, reserved. */
const MODULE_ENTRY_BYTES = 16;
const PAGE = 0x1000;

/**
 * The memory map of a PC with `ramBytes` of RAM from 0 and `highRamBytes` more at 4 GiB
 * (e820-style, as firmware reports it).
 */
export function pcMemoryMap(ramBytes: number, highRamBytes = 0): MultibootMemoryRegion[] {
  const map: MultibootMemoryRegion[] = [
    { base: 0, length: Math.min(CONVENTIONAL_TOP, ramBytes), type: 1 },
    { base: CONVENTIONAL_TOP, length: 0xa0000 - CONVENTIONAL_TOP, type: 2 },
    { base: 0xf0000, length: 0x10000, type: 2 },
  ];
  if (ramBytes > ONE_MIB) map.push({ base: ONE_MIB, length: ramBytes - ONE_MIB, type: 1 });
  if (highRamBytes > 0) map.push({ base: HIGH_MEMORY_BASE, length: highRamBytes, type: 1 });
  return map;
}

function segmentFrom(s: MultibootSegmentState): Segment {
  return {
    selector: s.selector,
    base: BigInt(s.base),
    limit: s.limit,
    type: s.type,
    s: s.s,
    dpl: s.dpl,
    present: s.present ? 1 : 0,
    avl: 0,
    l: s.l,
    db: s.db,
    g: s.g,
  };
}

/**
 * Loads Multiboot kernel `image` into `machine` and readies its vCPU to start it. Throws
 * LoaderError for a malformed image or one that does not fit in the machine's RAM.
 */
export function loadMultiboot(
  machine: PcMachine,
  image: Uint8Array,
  options: MultibootLoadOptions = {},
): MultibootBootInfo {
  const parsed = parseMultiboot(image);
  const vm = machine.vm;
  // Everything is placed below the PCI hole; RAM at 4 GiB only shows in the memory map.
  const ram = vm.lowMemoryBytes;
  const infoEnd = MULTIBOOT_INFO_ADDRESS + INFO_RESERVED;
  for (const seg of parsed.segments) {
    const end = seg.paddr + seg.memsz;
    if (end > ram) {
      throw new LoaderError(
        `kernel segment ${hex(seg.paddr)}..${hex(end)} does not fit in ${ram / ONE_MIB} MiB of guest RAM`,
      );
    }
    if (seg.paddr < infoEnd && MULTIBOOT_INFO_ADDRESS < end) {
      throw new LoaderError(
        `kernel segment ${hex(seg.paddr)}..${hex(end)} overlaps the multiboot info area at ${hex(MULTIBOOT_INFO_ADDRESS)}`,
      );
    }
  }
  writeSegments(bootTargetOf(vm, machine.vcpu), parsed.segments);
  const modules = placeModules(parsed, options.modules ?? [], ram);
  const layout = writeMultibootInfo(vm.ram, MULTIBOOT_INFO_ADDRESS, {
    memLowerKiB: Math.floor(Math.min(CONVENTIONAL_TOP, ram) / 1024),
    // KiB from 1 MiB up to the first hole (Multiboot 0.6.96 3.3): here the PCI hole.
    memUpperKiB: ram > ONE_MIB ? Math.floor((ram - ONE_MIB) / 1024) : 0,
    memoryMap: pcMemoryMap(ram, vm.highMemoryBytes),
    bootLoaderName: "pinvm",
    commandLine: options.commandLine,
  });
  if (options.modules && options.modules.length > 0) {
    writeModules(machine, options.modules, modules, MULTIBOOT_INFO_ADDRESS + layout.size, infoEnd);
  }

  const state = multibootInitialState(parsed.entry, MULTIBOOT_INFO_ADDRESS);
  const vcpu = machine.vcpu;
  vcpu.setSregs({
    cs: segmentFrom(state.cs),
    ds: segmentFrom(state.ds),
    es: segmentFrom(state.es),
    fs: segmentFrom(state.fs),
    gs: segmentFrom(state.gs),
    ss: segmentFrom(state.ss),
    // GDTR and IDTR are undefined for the kernel (it loads its own); an empty IDT makes
    // any exception before that a clean triple fault rather than a jump into zeroes.
    gdt: { base: 0n, limit: 0 },
    idt: { base: 0n, limit: 0 },
    cr0: BigInt(state.cr0),
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
  });
  vcpu.setRegs({
    rax: BigInt(state.eax),
    rbx: BigInt(state.ebx),
    rcx: 0n,
    rdx: 0n,
    rsi: 0n,
    rdi: 0n,
    rsp: 0n,
    rbp: 0n,
    rip: BigInt(state.eip),
    rflags: BigInt(state.eflags),
  });
  return { image: parsed, infoAddress: MULTIBOOT_INFO_ADDRESS, entry: parsed.entry, modules };
}

/** Page-aligned places for the modules, above the kernel; throws LoaderError if RAM is short. */
function placeModules(
  image: MultibootImage,
  modules: readonly MultibootModule[],
  ram: number,
): LoadedModule[] {
  let next = 0;
  for (const seg of image.segments) next = Math.max(next, seg.paddr + seg.memsz);
  const placed: LoadedModule[] = [];
  modules.forEach((m, i) => {
    const start = Math.ceil(next / PAGE) * PAGE;
    const end = start + m.data.length;
    if (end > ram) {
      throw new LoaderError(
        `module ${i} ('${m.string}', ${m.data.length} bytes) does not fit in ${ram / ONE_MIB} MiB of guest RAM (it would end at ${hex(end)})`,
      );
    }
    placed.push({ start, end });
    next = end;
  });
  return placed;
}

/**
 * Copies the modules to their places and writes the module entries and strings at `address`
 * (in the information area, before `limit`), then sets mods_count, mods_addr and flag bit 3.
 */
function writeModules(
  machine: PcMachine,
  modules: readonly MultibootModule[],
  placed: readonly LoadedModule[],
  address: number,
  limit: number,
): void {
  const vm = machine.vm;
  const table = Math.ceil(address / 4) * 4;
  const encoder = new TextEncoder();
  const strings = modules.map((m) => encoder.encode(m.string + "\0"));
  const size = modules.length * MODULE_ENTRY_BYTES + strings.reduce((n, s) => n + s.length, 0);
  if (table + size > limit) {
    throw new LoaderError(
      `the ${modules.length} module entries and their strings (${size} bytes) do not fit in the multiboot info area`,
    );
  }
  const entries = new Uint8Array(modules.length * MODULE_ENTRY_BYTES);
  const view = new DataView(entries.buffer);
  let stringAddress = table + entries.length;
  modules.forEach((m, i) => {
    vm.writePhysical(placed[i].start, m.data);
    view.setUint32(i * MODULE_ENTRY_BYTES, placed[i].start, true);
    view.setUint32(i * MODULE_ENTRY_BYTES + 4, placed[i].end, true);
    view.setUint32(i * MODULE_ENTRY_BYTES + 8, stringAddress, true);
    vm.writePhysical(stringAddress, strings[i]);
    stringAddress += strings[i].length;
  });
  vm.writePhysical(table, entries);
  const header = new DataView(vm.ram.buffer, vm.ram.byteOffset + MULTIBOOT_INFO_ADDRESS, 28);
  header.setUint32(0, header.getUint32(0, true) | MBI_FLAG_MODS, true);
  header.setUint32(20, modules.length, true);
  header.setUint32(24, table, true);
}
