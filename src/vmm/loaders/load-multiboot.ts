/**
 * Boots a Multiboot v1 kernel on a PcMachine, as QEMU's `-kernel` does for such images:
 * parses the image (multiboot.ts), copies its segments into guest RAM and zeroes their bss,
 * writes the Multiboot information structure (mem_lower/mem_upper and a memory map derived
 * from the RAM size, the loader name, an optional command line), and puts the boot vCPU in the state of spec section
 * 3.2 through the hypervisor's set-APIs: flat 32-bit protected mode, paging off, IF=0,
 * EAX=0x2BADB002, EBX=the information structure's address, EIP=the entry point.
 */
import type { PcMachine } from "../machine.js";
import type { Segment } from "../../hv/index.js";
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
}

/** Options of loadMultiboot. */
export interface MultibootLoadOptions {
  /**
   * The kernel command line (the info structure's cmdline). QEMU and GRUB pass the kernel's
   * file name followed by the arguments (`-append`); callers that want the same compose it.
   */
  commandLine?: string;
}

/** The memory map of a PC with `ramBytes` of RAM (e820-style, as firmware reports it). */
export function pcMemoryMap(ramBytes: number): MultibootMemoryRegion[] {
  const map: MultibootMemoryRegion[] = [
    { base: 0, length: Math.min(CONVENTIONAL_TOP, ramBytes), type: 1 },
    { base: CONVENTIONAL_TOP, length: 0xa0000 - CONVENTIONAL_TOP, type: 2 },
    { base: 0xf0000, length: 0x10000, type: 2 },
  ];
  if (ramBytes > ONE_MIB) map.push({ base: ONE_MIB, length: ramBytes - ONE_MIB, type: 1 });
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

function hex(n: number): string {
  return `0x${n.toString(16)}`;
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
  const ram = vm.memoryBytes;
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
  for (const seg of parsed.segments) {
    vm.writePhysical(seg.paddr, seg.data);
    if (seg.memsz > seg.data.length) {
      vm.writePhysical(seg.paddr + seg.data.length, new Uint8Array(seg.memsz - seg.data.length));
    }
  }
  writeMultibootInfo(vm.ram, MULTIBOOT_INFO_ADDRESS, {
    memLowerKiB: Math.floor(Math.min(CONVENTIONAL_TOP, ram) / 1024),
    memUpperKiB: ram > ONE_MIB ? Math.floor((ram - ONE_MIB) / 1024) : 0,
    memoryMap: pcMemoryMap(ram),
    bootLoaderName: "pinvm",
    commandLine: options.commandLine,
  });

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
  return { image: parsed, infoAddress: MULTIBOOT_INFO_ADDRESS, entry: parsed.entry };
}
