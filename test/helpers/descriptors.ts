/**
 * Test helper: builders for segment descriptors, gates, TSSs, GDTs and IDTs in guest memory
 * (SDM Vol.3 3.4.5 Figure 3-8, 5.8.3 call gates, 6.11/6.14.1 IDT gates, 7.2.1/7.7 TSS
 * layouts), plus two ready-made "worlds" — 32-bit protected mode and 64-bit mode — with ring 0
 * and ring 3 segments, a TSS, and an IDT whose every vector runs a stub that records the
 * vector in EDI and the error code (or -1) in ESI/RSI, then halts.
 */
import { Cpu } from "../../src/cpu/cpu.js";
import { loadFromDescriptor, readDescriptor } from "../../src/cpu/segmentation.js";
import { hasErrorCode } from "../../src/x86/vectors.js";
import { assemble } from "./asm.js";
import { buildIdentityPaging, type TestMachine } from "./machine.js";

/** An 8-byte descriptor as [low dword, high dword]. */
export type Desc = [number, number];

/** Descriptor options: S (default true), P (default true), L, D/B, G, AVL. */
export interface SegOpts {
  s?: boolean;
  p?: boolean;
  l?: boolean;
  db?: boolean;
  g?: boolean;
}

/** A code/data/system segment descriptor (SDM Vol.3 Figure 3-8); `limit` is the raw 20-bit field. */
export function segDesc(base: number, limit: number, type: number, dpl: number, o: SegOpts = {}): Desc {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  let hi =
    ((base >>> 16) & 0xff) | (base & 0xff000000) | (limit & 0xf0000) | ((type & 0xf) << 8) | (dpl << 13);
  if (o.s !== false) hi |= 1 << 12;
  if (o.p !== false) hi |= 1 << 15;
  if (o.l) hi |= 1 << 21;
  if (o.db) hi |= 1 << 22;
  if (o.g) hi |= 1 << 23;
  return [lo >>> 0, hi >>> 0];
}

/** Flat 32-bit code segment (execute/read; conforming when asked). */
export function code32(dpl: number, conforming = false, present = true): Desc {
  return segDesc(0, 0xfffff, conforming ? 0xe : 0xa, dpl, { db: true, g: true, p: present });
}
/** Flat 64-bit code segment (L=1). */
export function code64(dpl: number, conforming = false): Desc {
  return segDesc(0, 0xfffff, conforming ? 0xe : 0xa, dpl, { l: true, g: true });
}
/** 16-bit code segment with a 64 KiB limit at `base`. */
export function code16(dpl: number, base = 0): Desc {
  return segDesc(base, 0xffff, 0xa, dpl);
}
/** Flat read/write data segment. */
export function data32(dpl: number, present = true): Desc {
  return segDesc(0, 0xfffff, 0x2, dpl, { db: true, g: true, p: present });
}

/** A legacy 8-byte gate: call gate (4/12), task gate (5), interrupt/trap gate (6/7/14/15). */
export function gate(
  sel: number,
  offset: number,
  type: number,
  dpl: number,
  params = 0,
  present = true,
): Desc {
  const lo = ((sel & 0xffff) << 16) | (offset & 0xffff);
  const hi = (offset & 0xffff0000) | (present ? 0x8000 : 0) | (dpl << 13) | (type << 8) | (params & 0x1f);
  return [lo >>> 0, hi >>> 0];
}

/** A 16-byte IA-32e gate (call gate 12, interrupt 14, trap 15) as two 8-byte halves. */
export function gate64(sel: number, offset: number, type: number, dpl: number, ist = 0): [Desc, Desc] {
  const lo32 = offset >>> 0;
  const hi32 = Math.floor(offset / 4294967296) >>> 0;
  const lo = ((sel & 0xffff) << 16) | (lo32 & 0xffff);
  const hi = (lo32 & 0xffff0000) | 0x8000 | (dpl << 13) | (type << 8) | (ist & 7);
  return [
    [lo >>> 0, hi >>> 0],
    [hi32, 0],
  ];
}

/** A TSS descriptor (type 9 available / 11 busy); 64-bit mode needs tss64Desc. */
export function tssDesc(base: number, limit: number, busy = false): Desc {
  return segDesc(base, limit, busy ? 11 : 9, 0, { s: false });
}

/** A 16-byte 64-bit TSS descriptor. */
export function tss64Desc(base: number, limit: number): [Desc, Desc] {
  return [segDesc(base, limit, 9, 0, { s: false }), [0, 0]];
}

/** Write descriptors consecutively at `base`. */
export function writeTable(m: TestMachine, base: number, entries: Desc[]): void {
  entries.forEach(([lo, hi], n) => {
    m.mem.write32(base + n * 8, lo);
    m.mem.write32(base + n * 8 + 4, hi);
  });
}

/** Write a GDT and point GDTR at it. */
export function installGdt(m: TestMachine, base: number, entries: Desc[]): void {
  writeTable(m, base, entries);
  m.cpu.gdtrBase = base;
  m.cpu.gdtrLimit = entries.length * 8 - 1;
}

/** Load a segment register's hidden state from the current GDT (bypassing the checks). */
export function loadSeg(cpu: Cpu, seg: number, sel: number): void {
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new Error(`selector ${sel.toString(16)} outside GDT`);
  loadFromDescriptor(cpu, seg, sel, d);
}

/** Load TR from the GDT (what LTR does, without the checks) and mark the TSS busy. */
export function loadTr(cpu: Cpu, sel: number): void {
  const d = readDescriptor(cpu, sel)!;
  d.hi |= 0x200;
  cpu.mem.write32(d.addr + 4, d.hi);
  loadFromDescriptor(cpu, 7, sel, d);
}

/** Write ring stacks into a 32-bit TSS at `base` (SDM Vol.3 Figure 7-2). */
export function writeTss32(m: TestMachine, base: number, stacks: { ss: number; esp: number }[]): void {
  stacks.forEach((s, n) => {
    m.mem.write32(base + 4 + n * 8, s.esp);
    m.mem.write32(base + 8 + n * 8, s.ss);
  });
  m.mem.write32(base + 0x64, 0x0068 << 16); // I/O map base beyond the limit
}

/** Write RSP0-2 and IST1-7 into a 64-bit TSS at `base` (SDM Vol.3 Figure 7-11). */
export function writeTss64(m: TestMachine, base: number, rsp: number[], ist: number[] = []): void {
  const w64 = (off: number, v: number): void => {
    m.mem.write32(base + off, v >>> 0);
    m.mem.write32(base + off + 4, Math.floor(v / 4294967296) >>> 0);
  };
  rsp.forEach((v, n) => w64(4 + n * 8, v));
  ist.forEach((v, n) => w64(0x24 + n * 8, v));
}

/** Where the exception stubs live; stub for vector v is at STUBS + v * 32. */
export const STUBS = 0x200000;
/** Layout used by the worlds. */
export const WORLD = {
  gdt: 0x3000,
  idt: 0x2000,
  tss: 0x5000,
  stack0: 0x80000,
  stack3: 0x60000,
  ist1: 0x70000,
};

/** Install the recording stubs (`mov edi, v; mov esi, -1; [pop esi]; hlt`) for 32- or 64-bit code. */
export function installStubs(m: TestMachine, bits: 32 | 64): void {
  let src = "";
  for (let v = 0; v < 256; v++) {
    const pop = hasErrorCode(v) && v < 32 ? (bits === 64 ? "pop rsi" : "pop esi") : "";
    src += `.org ${v * 32}\nmov edi, ${v}\n${bits === 64 ? "mov rsi, -1" : "mov esi, -1"}\n${pop}\nhlt\n`;
  }
  m.mem.load(STUBS, assemble(src, bits, STUBS));
}

/**
 * 32-bit protected-mode world (paging off). GDT: 0x08 code32 DPL0, 0x10 data DPL0, 0x18
 * code32 DPL3, 0x20 data DPL3, 0x28 TSS32, 0x30 conforming code32 DPL0, 0x38 code16 DPL0,
 * 0x40 not-present code32 DPL0, then `extra` entries from 0x48. IDT: 32-bit interrupt gates
 * to the stubs, DPL 3 for vectors >= 0x80, DPL 0 below. TSS ring-0 stack 0x10:0x80000.
 * Starts at CPL 0 with ESP = 0x90000.
 */
export function protected32World(m: TestMachine, extra: Desc[] = []): void {
  const { cpu } = m;
  installGdt(m, WORLD.gdt, [
    [0, 0],
    code32(0),
    data32(0),
    code32(3),
    data32(3),
    tssDesc(WORLD.tss, 0x67),
    code32(0, true),
    code16(0),
    code32(0, false, false),
    ...extra,
  ]);
  writeTss32(m, WORLD.tss, [{ ss: 0x10, esp: WORLD.stack0 }]);
  const idt: Desc[] = [];
  for (let v = 0; v < 256; v++) idt.push(gate(0x08, STUBS + v * 32, 14, v >= 0x80 ? 3 : 0));
  writeTable(m, WORLD.idt, idt);
  cpu.idtrBase = WORLD.idt;
  cpu.idtrLimit = 256 * 8 - 1;
  installStubs(m, 32);
  cpu.cr0 = 0x60000011;
  loadSeg(cpu, 1, 0x08);
  for (const s of [0, 2, 3, 4, 5]) loadSeg(cpu, s, 0x10);
  loadTr(cpu, 0x28);
  cpu.cpl = 0;
  cpu.updateMode();
  cpu.lo[4] = 0x90000;
}

/**
 * 64-bit world (identity paging, U/S=1). GDT: 0x08 code64 DPL0, 0x10 data DPL0, 0x18 code32
 * DPL3, 0x20 data DPL3, 0x28 code64 DPL3, 0x30 TSS64 (16 bytes), 0x40 code32 DPL0, then
 * `extra` from 0x48. IDT: 64-bit interrupt gates to the stubs (DPL 3 for vectors >= 0x80).
 * TSS: RSP0 = 0x80000, IST1 = 0x70000. Starts at CPL 0 with RSP = 0x90000.
 */
export function long64World(m: TestMachine, extra: Desc[] = []): void {
  const { cpu } = m;
  buildIdentityPaging(m);
  installGdt(m, WORLD.gdt, [
    [0, 0],
    code64(0),
    data32(0),
    code32(3),
    data32(3),
    code64(3),
    ...tss64Desc(WORLD.tss, 0x67),
    code32(0),
    ...extra,
  ]);
  writeTss64(m, WORLD.tss, [WORLD.stack0], [WORLD.ist1]);
  const idt: Desc[] = [];
  for (let v = 0; v < 256; v++) idt.push(...gate64(0x08, STUBS + v * 32, 14, v >= 0x80 ? 3 : 0));
  writeTable(m, WORLD.idt, idt);
  cpu.idtrBase = WORLD.idt;
  cpu.idtrLimit = 256 * 16 - 1;
  installStubs(m, 64);
  cpu.cr4 = 0x20;
  cpu.cr3 = 0x10000;
  cpu.efer = 0x501; // SCE | LME | LMA
  cpu.cr0 = 0x80000011 | 0;
  loadSeg(cpu, 1, 0x08);
  for (const s of [0, 2, 3, 4, 5]) loadSeg(cpu, s, 0x10);
  loadTr(cpu, 0x30);
  cpu.cpl = 0;
  cpu.updateMode();
  cpu.flushTlb(false);
  cpu.lo[4] = 0x90000;
  cpu.hi[4] = 0;
}

/** Replace IDT entry `vec` of the 32-bit world. */
export function setGate32(m: TestMachine, vec: number, g: Desc): void {
  writeTable(m, m.cpu.idtrBase + vec * 8, [g]);
}

/** Replace IDT entry `vec` of the 64-bit world. */
export function setGate64(m: TestMachine, vec: number, g: [Desc, Desc]): void {
  writeTable(m, m.cpu.idtrBase + vec * 16, g);
}

/** Read a 32-bit value of guest memory. */
export function peek32(m: TestMachine, addr: number): number {
  return m.mem.read32(addr) >>> 0;
}

/** Read a 64-bit value of guest memory as a number (exact below 2^53). */
export function peek64(m: TestMachine, addr: number): number {
  return (m.mem.read32(addr + 4) | 0) * 4294967296 + (m.mem.read32(addr) >>> 0);
}
