/**
 * Test helper: a bare processor with RAM, put directly into real, 32-bit protected or
 * 64-bit long mode with flat segments and identity paging, and a port-I/O recorder — the
 * minimal harness that places code in memory and runs it until HLT.
 */
import { Cpu } from "../../src/cpu/cpu.js";
import { PhysicalMemory } from "../../src/cpu/memory.js";
import { defaultHooks, type CpuHooks } from "../../src/cpu/hooks.js";
import { loadFromDescriptor } from "../../src/cpu/segmentation.js";
import { assemble } from "./asm.js";

/** Layout of the test machine's system structures. */
export const LAYOUT = {
  gdt: 0x1000,
  idt: 0x2000,
  pml4: 0x10000,
  code: 0x100000,
  stackTop: 0x90000,
} as const;

/** A test machine. */
export interface TestMachine {
  cpu: Cpu;
  mem: PhysicalMemory;
  /** Bytes written to port 0xE9 (debug console). */
  out: number[];
  hooks: CpuHooks;
}

/** GDT used by the helper: null, code64 (0x08), data (0x10), code32 (0x18), user code64 (0x2b), user data (0x33), code16 (0x38). */
const GDT: [number, number][] = [
  [0, 0],
  [0x0000ffff, 0x00af9b00],
  [0x0000ffff, 0x00cf9300],
  [0x0000ffff, 0x00cf9b00],
  [0x0000ffff, 0x00cff300],
  [0x0000ffff, 0x00affb00],
  [0x0000ffff, 0x00cff300],
  [0x0000ffff, 0x00009b00],
];

/**
 * Create a machine with `ramMiB` of RAM at 0 (and `highBytes` of RAM at 4 GiB) and an I/O
 * recorder on port 0xE9.
 */
export function createMachine(ramMiB = 16, highBytes = 0): TestMachine {
  const mem = new PhysicalMemory(ramMiB * 1024 * 1024, highBytes);
  const out: number[] = [];
  const hooks = defaultHooks();
  hooks.ioWrite = (port, _size, value) => {
    if (port === 0xe9) out.push(value & 0xff);
  };
  const cpu = new Cpu(mem, hooks);
  for (let n = 0; n < GDT.length; n++) {
    mem.write32(LAYOUT.gdt + n * 8, GDT[n][0]);
    mem.write32(LAYOUT.gdt + n * 8 + 4, GDT[n][1]);
  }
  return { cpu, mem, out, hooks };
}

function loadSel(cpu: Cpu, seg: number, sel: number): void {
  const idx = sel >> 3;
  loadFromDescriptor(cpu, seg, sel, { lo: GDT[idx][0], hi: GDT[idx][1], addr: LAYOUT.gdt + idx * 8 });
}

/** Enter 32-bit protected mode, flat segments, paging off, CPL 0. */
export function enterProtected32(m: TestMachine): void {
  const { cpu } = m;
  cpu.gdtrBase = LAYOUT.gdt;
  cpu.gdtrLimit = GDT.length * 8 - 1;
  cpu.cr0 = 0x60000011;
  loadSel(cpu, 1, 0x18);
  for (const s of [0, 2, 3, 4, 5]) loadSel(cpu, s, 0x10);
  cpu.cpl = 0;
  cpu.updateMode();
  cpu.lo[4] = LAYOUT.stackTop;
}

/** Build 4-level identity paging for the first `gib` GiB with 2 MiB pages (U/S=1, R/W=1). */
export function buildIdentityPaging(m: TestMachine, flags = 0x7): void {
  const { mem } = m;
  const pml4 = LAYOUT.pml4;
  const pdpt = pml4 + 0x1000;
  const pd = pml4 + 0x2000;
  mem.write32(pml4, pdpt | flags);
  mem.write32(pdpt, pd | flags);
  for (let n = 0; n < 512; n++) {
    mem.write32(pd + n * 8, ((n << 21) | 0x80 | flags) >>> 0);
    mem.write32(pd + n * 8 + 4, 0);
  }
}

/** Enter 64-bit mode: PAE + LME + PG with identity paging, CS=0x08, CPL 0. */
export function enterLong64(m: TestMachine): void {
  const { cpu } = m;
  buildIdentityPaging(m);
  cpu.gdtrBase = LAYOUT.gdt;
  cpu.gdtrLimit = GDT.length * 8 - 1;
  cpu.cr4 = 0x20;
  cpu.cr3 = LAYOUT.pml4;
  cpu.efer = 0x500;
  cpu.cr0 = 0xe0000011 | 0;
  cpu.cr0 = 0x80000011 | 0;
  loadSel(cpu, 1, 0x08);
  for (const s of [0, 2, 3, 4, 5]) loadSel(cpu, s, 0x10);
  cpu.cpl = 0;
  cpu.updateMode();
  cpu.flushTlb(false);
  cpu.lo[4] = LAYOUT.stackTop;
  cpu.hi[4] = 0;
}

/**
 * Write a present DPL-0 interrupt gate for `vector` to `handler` into the IDT at LAYOUT.idt:
 * a 16-byte IA-32e gate to selector 08H for `bits` 64, an 8-byte 32-bit gate to selector 18H
 * for `bits` 32 (SDM Vol.3 6.11, 6.14.1). IDTR is left to the caller.
 */
export function setIntGate(m: TestMachine, bits: 32 | 64, vector: number, handler: number): void {
  const { mem } = m;
  if (bits === 64) {
    const g = LAYOUT.idt + vector * 16;
    mem.write32(g, (0x08 << 16) | (handler & 0xffff));
    mem.write32(g + 4, (handler & 0xffff0000) | 0x8e00);
    mem.write32(g + 8, 0);
    mem.write32(g + 12, 0);
  } else {
    const g = LAYOUT.idt + vector * 8;
    mem.write32(g, (0x18 << 16) | (handler & 0xffff));
    mem.write32(g + 4, (handler & 0xffff0000) | 0x8e00);
  }
}

/** Real mode at 0000:7C00 style: CS=0, IP=origin. */
export function enterReal(m: TestMachine): void {
  const { cpu } = m;
  cpu.segSel[1] = 0;
  cpu.segBase[1] = 0;
  cpu.updateMode();
  cpu.lo[4] = 0x7000;
}

/** Assemble `source` for the current mode, place it at `addr`, run until HLT (or `limit`). */
export function runCode(
  m: TestMachine,
  source: string,
  bits: 16 | 32 | 64,
  addr: number = LAYOUT.code,
  limit = 1_000_000,
): string {
  const code = assemble(source + "\nhlt\n", bits, addr);
  m.mem.load(addr, code);
  m.cpu.rip = bits === 16 ? addr - m.cpu.segBase[1] : addr;
  m.cpu.halted = false;
  return m.cpu.run(limit);
}
