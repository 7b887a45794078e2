/**
 * Segmentation: reading descriptors from the GDT/LDT, loading segment registers with the
 * protection checks of MOV/POP Sreg (SDM Vol.2 "MOV—Move", "POP"; Vol.3 5.5-5.8), real-mode
 * and virtual-8086 loads (Vol.3 20.1), and the hidden descriptor cache.
 */
import { SEG, ATTR } from "../x86/segment.js";
import { Access, type Cpu } from "./cpu.js";
import { CpuFault } from "./fault.js";

/** A raw 8-byte descriptor as two 32-bit halves plus its linear address. */
export interface Descriptor {
  lo: number;
  hi: number;
  /** Linear address of the descriptor (for setting the accessed/busy bits). */
  addr: number;
}

/** Base address encoded in a descriptor (SDM Vol.3 3.4.5, Figure 3-8). */
export function descBase(d: Descriptor): number {
  return ((d.lo >>> 16) | ((d.hi & 0xff) << 16) | (d.hi & 0xff000000)) >>> 0;
}

/** Limit in bytes encoded in a descriptor, scaled by G. */
export function descLimit(d: Descriptor): number {
  const raw = (d.lo & 0xffff) | (d.hi & 0xf0000);
  return d.hi & (1 << 23) ? raw * 4096 + 0xfff : raw;
}

/** Access-rights word (ATTR layout) of a descriptor. */
export function descAttr(d: Descriptor): number {
  return (d.hi >>> 8) & 0xf0ff;
}

/** Read 4 bytes of a system table as an implicit supervisor access. */
export function sysRead32(cpu: Cpu, lin: number): number {
  if (!cpu.paging) return cpu.mem.read32(lin >>> 0);
  if ((lin & 0xfff) > 0xffc) {
    let v = 0;
    for (let n = 0; n < 4; n++) v |= cpu.mem.read8(cpu.translateImplicit(lin + n, Access.Read)) << (8 * n);
    return v >>> 0;
  }
  return cpu.mem.read32(cpu.translateImplicit(lin, Access.Read));
}

/** Write 4 bytes of a system table as an implicit supervisor access. */
export function sysWrite32(cpu: Cpu, lin: number, v: number): void {
  if (!cpu.paging) {
    cpu.mem.write32(lin >>> 0, v);
    return;
  }
  cpu.mem.write32(cpu.translateImplicit(lin, Access.Write), v);
}

/**
 * Fetch the descriptor for `sel` from the GDT or LDT. Returns null when the selector's index
 * lies beyond the table limit (callers raise the fault their instruction defines).
 */
export function readDescriptor(cpu: Cpu, sel: number): Descriptor | null {
  const index = sel & 0xfff8;
  let base: number;
  let limit: number;
  if (sel & 4) {
    if ((cpu.segAttr[SEG.LDTR] & ATTR.P) === 0 || cpu.segSel[SEG.LDTR] === 0) return null;
    base = cpu.segBase[SEG.LDTR];
    limit = cpu.segLimit[SEG.LDTR];
  } else {
    base = cpu.gdtrBase;
    limit = cpu.gdtrLimit;
  }
  if (index + 7 > limit) return null;
  const addr = base + index;
  return { lo: sysRead32(cpu, addr), hi: sysRead32(cpu, addr + 4), addr };
}

/** Read the high half of a 16-byte system descriptor (64-bit mode LDT/TSS/gates). */
export function readDescriptorHigh(cpu: Cpu, sel: number): number | null {
  const index = (sel & 0xfff8) + 8;
  if (sel & 4) return null;
  if (index + 7 > cpu.gdtrLimit) return null;
  return sysRead32(cpu, cpu.gdtrBase + index);
}

/** Set the accessed bit of a code/data descriptor if clear (SDM Vol.3 3.4.5.1). */
export function setAccessed(cpu: Cpu, d: Descriptor): void {
  if ((d.hi & (1 << 8)) === 0) {
    d.hi |= 1 << 8;
    sysWrite32(cpu, d.addr + 4, d.hi);
  }
}

/** Load a segment register's visible and hidden parts from a descriptor. */
export function loadFromDescriptor(cpu: Cpu, seg: number, sel: number, d: Descriptor): void {
  cpu.segSel[seg] = sel;
  cpu.segBase[seg] = descBase(d);
  cpu.segLimit[seg] = descLimit(d);
  cpu.segAttr[seg] = descAttr(d);
  cpu.updateSegFlags(seg);
}

/** Load a null selector: the register becomes unusable (SDM Vol.3 3.4.2). */
export function loadNull(cpu: Cpu, seg: number, sel: number): void {
  cpu.segSel[seg] = sel;
  cpu.segBase[seg] = 0;
  cpu.segLimit[seg] = 0;
  cpu.segAttr[seg] = 0;
  cpu.updateSegFlags(seg);
}

/** Real-mode or virtual-8086-mode segment load: base = selector << 4. */
export function loadRealMode(cpu: Cpu, seg: number, sel: number): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBase[seg] = (sel & 0xffff) << 4;
  if (cpu.v86) {
    cpu.segLimit[seg] = 0xffff;
    cpu.segAttr[seg] =
      ATTR.P | ATTR.S | ATTR.RW | ATTR.A | (3 << ATTR.DPL_SHIFT) | (seg === SEG.CS ? ATTR.CODE : 0);
  } else if (seg === SEG.CS) {
    // Real mode keeps limit and attributes; a CS load makes the segment a 16-bit one.
    cpu.segAttr[seg] &= ~(ATTR.DB | ATTR.L);
  }
  cpu.updateSegFlags(seg);
  if (seg === SEG.CS || seg === SEG.SS) cpu.updateMode();
}

/**
 * MOV Sreg / POP Sreg / LDS.. for a data or stack segment register (not CS), with the
 * protected-mode checks of SDM Vol.2 MOV (Operation, "IF SS is loaded" / "IF DS, ES, FS, or GS").
 */
export function loadDataSegment(cpu: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if (!cpu.protectedMode || cpu.v86) {
    loadRealMode(cpu, seg, sel);
    return;
  }
  const rpl = sel & 3;
  if ((sel & 0xfffc) === 0) {
    if (seg === SEG.SS) {
      // 64-bit mode allows a null SS at CPL < 3 when RPL = CPL (SDM Vol.2 MOV, 64-bit mode).
      if (!cpu.long64 || cpu.cpl === 3 || rpl !== cpu.cpl) throw new CpuFault(13, 0);
      loadNull(cpu, seg, sel);
      cpu.segAttr[seg] = (cpu.cpl << ATTR.DPL_SHIFT) | ATTR.DB;
      return;
    }
    loadNull(cpu, seg, sel);
    return;
  }
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(13, sel & 0xfffc);
  const attr = descAttr(d);
  const dpl = (attr >> ATTR.DPL_SHIFT) & 3;
  const isCode = (attr & ATTR.CODE) !== 0;
  if ((attr & ATTR.S) === 0) throw new CpuFault(13, sel & 0xfffc);
  if (seg === SEG.SS) {
    if (rpl !== cpu.cpl || dpl !== cpu.cpl || isCode || (attr & ATTR.RW) === 0)
      throw new CpuFault(13, sel & 0xfffc);
    if ((attr & ATTR.P) === 0) throw new CpuFault(12, sel & 0xfffc);
  } else {
    if (isCode && (attr & ATTR.RW) === 0) throw new CpuFault(13, sel & 0xfffc);
    const conforming = isCode && (attr & ATTR.EC) !== 0;
    if (!conforming && (rpl > dpl || cpu.cpl > dpl)) throw new CpuFault(13, sel & 0xfffc);
    if ((attr & ATTR.P) === 0) throw new CpuFault(11, sel & 0xfffc);
  }
  setAccessed(cpu, d);
  loadFromDescriptor(cpu, seg, sel, d);
  if (seg === SEG.SS) cpu.updateMode();
}

/**
 * Load CS for a far JMP/CALL/RET/IRET or interrupt after the caller's privilege checks.
 * `cpl` becomes the new CPL and the RPL of the stored selector (SDM Vol.3 5.8).
 */
export function loadCodeSegment(cpu: Cpu, sel: number, d: Descriptor, cpl: number): void {
  setAccessed(cpu, d);
  loadFromDescriptor(cpu, SEG.CS, (sel & 0xfffc) | cpl, d);
  cpu.cpl = cpl;
  cpu.updateMode();
}

/**
 * After a privilege-level change to an outer level (RET/IRET), data segment registers whose
 * DPL is below the new CPL are nulled (SDM Vol.2 RET "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
 */
export function nullInvalidDataSegments(cpu: Cpu): void {
  for (const s of [SEG.ES, SEG.DS, SEG.FS, SEG.GS]) {
    const a = cpu.segAttr[s];
    const dpl = (a >> ATTR.DPL_SHIFT) & 3;
    const conformingCode = (a & ATTR.CODE) !== 0 && (a & ATTR.EC) !== 0;
    if ((a & ATTR.S) !== 0 && !conformingCode && dpl < cpu.cpl) loadNull(cpu, s, 0);
    else if ((a & ATTR.S) === 0 && (cpu.segSel[s] & 0xfffc) !== 0 && cpu.long64 === false)
      loadNull(cpu, s, 0);
  }
}
