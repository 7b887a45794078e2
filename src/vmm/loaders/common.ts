/**
 * What the flat, ELF and Linux loaders share: the narrow `BootTarget` they load into (guest
 * RAM and the boot vCPU's set-APIs, nothing else of a machine), range checks that turn a bad
 * placement into a LoaderError, and the entry states they hand over:
 *
 * - 32-bit flat protected mode, paging off (SDM Vol.3 9.9.1): CS = 10H (flat execute/read
 *   code, D=1), DS/ES/FS/GS/SS = 18H (flat read/write data), CR0 = PE|ET.
 * - 64-bit mode (SDM Vol.3 9.8.5, 10.8.5 in newer editions "Initializing IA-32e Mode"):
 *   CR0 = PE|ET|PG, CR4 = PAE, EFER = LME|LMA, CR3 = a PML4 that identity-maps the first
 *   4 GiB with 2-MiB pages (SDM Vol.3 4.5, Table 4-15/4-17 entry formats), CS = 10H (L=1).
 *
 * The selectors 10H/18H are those the Linux boot protocol names (__BOOT_CS, __BOOT_DS); the
 * descriptors are also written to a GDT in guest memory so that a kernel reloading a segment
 * register before loading its own GDT gets the same segment back.
 *
 * Boot structures (in conventional memory, below the Multiboot info area at 9000H):
 *   1000H        GDT: null, 08H 32-bit code, 10H code (32- or 64-bit), 18H data
 *   2000H-7FFFH  page tables: PML4 at 2000H, PDPT at 3000H, four page directories 4000H-7FFFH
 */
import type { Regs, Segment, Sregs, Vcpu, Vm } from "../../hv/index.js";
import { CR0, CR4, EFER } from "../../x86/cr.js";
import { PTE } from "../../x86/paging.js";
import { RESET_STATE, type SegmentInit } from "../../x86/reset-state.js";
import { ATTR } from "../../x86/segment.js";
import { LoaderError, type LoadSegment } from "./multiboot.js";

export { LoaderError, type LoadSegment };

/**
 * What a loader needs of a machine: RAM at 0..ramBytes-1 (below the PCI hole), how much RAM
 * continues at 4 GiB, and the boot vCPU's registers.
 */
export interface BootTarget {
  /** Bytes of RAM mapped from guest-physical 0 (the loaders place everything there). */
  readonly ramBytes: number;
  /** Bytes of RAM mapped at 4 GiB, for the memory map only (absent = 0). */
  readonly highRamBytes?: number;
  /** Copies `data` into guest RAM at `address`. */
  writePhysical(address: number, data: Uint8Array): void;
  /** KVM_SET_REGS-like: sets the given registers of the boot vCPU. */
  setRegs(regs: Partial<Regs>): void;
  /** KVM_SET_SREGS-like: sets the given system registers of the boot vCPU. */
  setSregs(sregs: Partial<Sregs>): void;
}

/** A BootTarget over a hypervisor VM and its boot vCPU. */
export function bootTargetOf(vm: Vm, vcpu: Vcpu): BootTarget {
  return {
    get ramBytes() {
      return vm.lowMemoryBytes;
    },
    get highRamBytes() {
      return vm.highMemoryBytes;
    },
    writePhysical: (address, data) => vm.writePhysical(address, data),
    setRegs: (regs) => vcpu.setRegs(regs),
    setSregs: (sregs) => vcpu.setSregs(sregs),
  };
}

/** Guest-physical address of the boot GDT. */
export const BOOT_GDT_ADDRESS = 0x1000;
/** Guest-physical address of the PML4 of the identity map (then PDPT and 4 PDs). */
export const BOOT_PAGE_TABLES_ADDRESS = 0x2000;
/** End of the boot structures area. */
export const BOOT_STRUCTURES_END = 0x8000;
/** Selectors of the boot GDT. */
export const BOOT_SELECTOR = {
  /** 32-bit flat code (kept for code that expects the Multiboot-style 08H). */
  CODE32: 0x08,
  /** The entry CS (__BOOT_CS): 32-bit or 64-bit code depending on the entry mode. */
  CODE: 0x10,
  /** The entry DS/ES/FS/GS/SS (__BOOT_DS): flat read/write data. */
  DATA: 0x18,
} as const;

/** A memory range loaders must not put image bytes into. */
export interface ReservedRange {
  start: number;
  end: number;
  name: string;
}

/** The VGA window and ROM area A0000H-FFFFFH: not RAM on a PC. */
export const LEGACY_HOLE: ReservedRange = { start: 0xa0000, end: 0x100000, name: "the legacy VGA/BIOS hole" };

/** The loaders' GDT and page tables. */
export const BOOT_STRUCTURES: ReservedRange = {
  start: BOOT_GDT_ADDRESS,
  end: BOOT_STRUCTURES_END,
  name: "the loader's GDT and page tables",
};

/** `0x..` formatting for messages. */
export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/**
 * Checks that `length` bytes at `start` lie in RAM and outside each of `reserved`; throws a
 * LoaderError naming `what` otherwise.
 */
export function checkRange(
  what: string,
  start: number,
  length: number,
  target: BootTarget,
  reserved: readonly ReservedRange[] = [LEGACY_HOLE],
): void {
  const end = start + length;
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new LoaderError(`${what}: bad range ${String(start)} + ${String(length)}`);
  }
  if (end > target.ramBytes) {
    throw new LoaderError(
      `${what} ${hex(start)}..${hex(end)} lies outside guest RAM (which ends at ${hex(target.ramBytes)})`,
    );
  }
  for (const r of reserved) {
    if (start < r.end && r.start < end) {
      throw new LoaderError(
        `${what} ${hex(start)}..${hex(end)} overlaps ${r.name} (${hex(r.start)}..${hex(r.end)})`,
      );
    }
  }
}

/** Copies each segment's bytes and zeroes the rest of its memory size (bss). */
export function writeSegments(target: BootTarget, segments: readonly LoadSegment[]): void {
  for (const seg of segments) {
    target.writePhysical(seg.paddr, seg.data);
    if (seg.memsz > seg.data.length) {
      target.writePhysical(seg.paddr + seg.data.length, new Uint8Array(seg.memsz - seg.data.length));
    }
  }
}

/** A segment register's hidden state in the hv API form. */
function segment(selector: number, attr: number, base = 0, limit = 0xffff_ffff): Segment {
  return {
    selector,
    base: BigInt(base),
    limit,
    type: attr & ATTR.TYPE_MASK,
    s: attr & ATTR.S ? 1 : 0,
    dpl: (attr >> ATTR.DPL_SHIFT) & 3,
    present: attr & ATTR.P ? 1 : 0,
    avl: attr & ATTR.AVL ? 1 : 0,
    l: attr & ATTR.L ? 1 : 0,
    db: attr & ATTR.DB ? 1 : 0,
    g: attr & ATTR.G ? 1 : 0,
  };
}

/** Access rights (pinvm ATTR layout): present, DPL 0, S, execute/read accessed code (type BH). */
const CODE32_ATTR = ATTR.P | ATTR.S | 0xb | ATTR.DB | ATTR.G;
const CODE64_ATTR = ATTR.P | ATTR.S | 0xb | ATTR.L | ATTR.G;
/** Read/write accessed data (type 3H). */
const DATA_ATTR = ATTR.P | ATTR.S | 0x3 | ATTR.DB | ATTR.G;

/** An 8-byte flat (base 0, limit FFFFFH pages) code or data descriptor (SDM Vol.3 3.4.5). */
function flatDescriptor(attr: number): number[] {
  // Low dword: limit 15:0 = FFFFH, base 15:0 = 0. High dword: base 23:16, access byte,
  // limit 19:16 = FH with the flags nibble (AVL, L, D/B, G), base 31:24.
  const access = attr & 0xff;
  const flags = (attr >> 8) & 0xf0;
  return [0xff, 0xff, 0, 0, 0, access, flags | 0x0f, 0];
}

/** The boot GDT (4 descriptors): null, 08H code32, 10H code (64-bit if `longMode`), 18H data. */
export function bootGdt(longMode: boolean): Uint8Array {
  return Uint8Array.from([
    ...[0, 0, 0, 0, 0, 0, 0, 0],
    ...flatDescriptor(CODE32_ATTR),
    ...flatDescriptor(longMode ? CODE64_ATTR : CODE32_ATTR),
    ...flatDescriptor(DATA_ATTR),
  ]);
}

/**
 * Page tables identity-mapping 0-4 GiB with 2-MiB pages, for a PML4 at `base`: PML4[0] ->
 * PDPT (base+1000H), PDPT[0..3] -> four page directories (base+2000H..), each PDE a 2-MiB
 * page (PS) present and writable (SDM Vol.3 4.5.4, Tables 4-15, 4-16, 4-18). 6 pages.
 */
export function identityPageTables(base: number): Uint8Array {
  const bytes = new Uint8Array(6 * 0x1000);
  const view = new DataView(bytes.buffer);
  const table = PTE.P | PTE.RW;
  view.setUint32(0, (base + 0x1000) | table, true);
  for (let i = 0; i < 4; i++) view.setUint32(0x1000 + 8 * i, (base + 0x2000 + 0x1000 * i) | table, true);
  for (let i = 0; i < 4 * 512; i++) {
    const address = i * 0x20_0000;
    view.setUint32(0x2000 + 8 * i, (address | table | PTE.PS) >>> 0, true);
  }
  return bytes;
}

/** Registers cleared at entry: every GPR (callers override what their protocol defines). */
function clearedRegs(): Partial<Regs> {
  return {
    rax: 0n,
    rbx: 0n,
    rcx: 0n,
    rdx: 0n,
    rsi: 0n,
    rdi: 0n,
    rsp: 0n,
    rbp: 0n,
    r8: 0n,
    r9: 0n,
    r10: 0n,
    r11: 0n,
    r12: 0n,
    r13: 0n,
    r14: 0n,
    r15: 0n,
  };
}

/** EFLAGS at entry: only the fixed bit 1 (IF clear, VM clear). */
const EFLAGS_ENTRY = 0x2n;

function flatSregs(codeAttr: number): Partial<Sregs> {
  const data = segment(BOOT_SELECTOR.DATA, DATA_ATTR);
  return {
    cs: segment(BOOT_SELECTOR.CODE, codeAttr),
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    gdt: { base: BigInt(BOOT_GDT_ADDRESS), limit: 4 * 8 - 1 },
    // No IDT: an exception before the guest loads its own is a clean triple fault.
    idt: { base: 0n, limit: 0 },
  };
}

/**
 * Writes the boot GDT and starts the vCPU at `eip` in 32-bit flat protected mode, paging off,
 * IF=0, every GPR 0 except those in `regs`.
 */
export function enterProtectedMode32(target: BootTarget, eip: number, regs: Partial<Regs> = {}): void {
  target.writePhysical(BOOT_GDT_ADDRESS, bootGdt(false));
  target.setSregs({
    ...flatSregs(CODE32_ATTR),
    cr0: BigInt(CR0.PE | CR0.ET),
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
  });
  target.setRegs({ ...clearedRegs(), ...regs, rip: BigInt(eip >>> 0), rflags: EFLAGS_ENTRY });
}

/**
 * Writes the boot GDT and the 4-GiB identity map and starts the vCPU at `rip` in 64-bit mode,
 * IF=0, every GPR 0 except those in `regs`.
 */
export function enterLongMode(target: BootTarget, rip: number, regs: Partial<Regs> = {}): void {
  target.writePhysical(BOOT_GDT_ADDRESS, bootGdt(true));
  target.writePhysical(BOOT_PAGE_TABLES_ADDRESS, identityPageTables(BOOT_PAGE_TABLES_ADDRESS));
  target.setSregs({
    ...flatSregs(CODE64_ATTR),
    cr0: BigInt((CR0.PE | CR0.ET | CR0.PG) >>> 0),
    cr3: BigInt(BOOT_PAGE_TABLES_ADDRESS),
    cr4: BigInt(CR4.PAE),
    efer: BigInt(EFER.LME | EFER.LMA),
  });
  target.setRegs({ ...clearedRegs(), ...regs, rip: BigInt(rip), rflags: EFLAGS_ENTRY });
}

function resetSegment(init: SegmentInit): Segment {
  return segment(init.selector, init.attr, init.base, init.limit);
}

function resetValue<T>(row: { reset: { set: T } | "unchanged" }): T {
  if (row.reset === "unchanged") throw new Error("reset-state row without a RESET value");
  return row.reset.set;
}

/**
 * Puts the vCPU in the RESET state of the SDM table (src/x86/reset-state.ts) for the
 * segment, control and descriptor-table registers, in real mode, with CS:IP = `cs`:`ip`
 * and CS.base = `cs` * 16 (instead of FFFF0000H: pinvm does not map the BIOS at 4 GiB).
 * The general-purpose registers other than RIP/RFLAGS are left alone.
 */
export function enterRealMode(target: BootTarget, cs: number, ip: number): void {
  const data = resetSegment(resetValue(RESET_STATE.ds));
  const code = resetSegment(resetValue(RESET_STATE.cs));
  const gdtr = resetValue(RESET_STATE.gdtr);
  const idtr = resetValue(RESET_STATE.idtr);
  target.setSregs({
    cs: { ...code, selector: cs, base: BigInt(cs * 16) },
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    gdt: { base: BigInt(gdtr.base), limit: gdtr.limit },
    idt: { base: BigInt(idtr.base), limit: idtr.limit },
    cr0: BigInt(resetValue(RESET_STATE.cr0)),
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
  });
  target.setRegs({ rip: BigInt(ip), rflags: BigInt(resetValue(RESET_STATE.eflags)) });
}
