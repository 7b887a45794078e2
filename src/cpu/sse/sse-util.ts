/**
 * Shared plumbing for the SSE instruction groups: the #UD/#NM availability checks (SDM
 * Vol.3 Table 2-2 and 13.x; Vol.2 2.4 / Table 2-18 "Type 1..5 exception conditions"), 128-,
 * 64- and 32-bit memory operands with the 16-byte alignment rule (#GP(0), SDM Vol.1 11.6.6),
 * and delivery of SIMD floating-point exceptions (#XM or #UD, SDM Vol.1 11.5.2 / Vol.3 6.15
 * "Interrupt 19").
 */
import { Access, type Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { CpuFault } from "../fault.js";
import { CR0, CR4 } from "../../x86/cr.js";

/** Scratch for a 128-bit source operand (register or memory). */
export const SRC = new Int32Array(4);
/** Scratch for a 128-bit result. */
export const DST = new Int32Array(4);
/** Byte view of SRC. */
export const SRCB = new Uint8Array(SRC.buffer);
/** Byte view of DST. */
export const DSTB = new Uint8Array(DST.buffer);

/**
 * SSE availability (SDM Vol.3 Table 2-2): CR0.EM=1 or CR4.OSFXSR=0 → #UD; CR0.TS=1 → #NM.
 */
export function sseCheck(cpu: Cpu): void {
  if (cpu.cr0 & CR0.EM || !(cpu.cr4 & CR4.OSFXSR)) throw new CpuFault(6, -1);
  if (cpu.cr0 & CR0.TS) throw new CpuFault(7, -1);
}

/** Linear address of the memory operand for `size` bytes; `align` enforces natural alignment with #GP(0). */
export function memLinear(cpu: Cpu, i: Instr, size: number, write: boolean, align: number): number {
  const lin = cpu.linear(i.seg, cpu.ea(i), size, write);
  if (align > 1 && lin & (align - 1)) throw new CpuFault(13, 0);
  return lin;
}

/** Read 16 bytes at linear `lin` into `out`. */
export function linRead128(cpu: Cpu, lin: number, out: Int32Array): void {
  if ((lin & 0xfff) > 0xff0) cpu.translate(lin + 15, Access.Read); // fault before any use
  out[0] = cpu.linRead32(lin);
  out[1] = cpu.linRead32(lin + 4);
  out[2] = cpu.linRead32(lin + 8);
  out[3] = cpu.linRead32(lin + 12);
}

/** Write 16 bytes from `v` (offset `off` dwords) at linear `lin`, checking both pages first. */
export function linWrite128(cpu: Cpu, lin: number, v: Int32Array, off = 0): void {
  cpu.translate(lin, Access.Write);
  if ((lin & 0xfff) > 0xff0) cpu.translate(lin + 15, Access.Write);
  cpu.linWrite32(lin, v[off]);
  cpu.linWrite32(lin + 4, v[off + 1]);
  cpu.linWrite32(lin + 8, v[off + 2]);
  cpu.linWrite32(lin + 12, v[off + 3]);
}

/**
 * Load the 128-bit r/m source into SRC. `align` = true applies the legacy-SSE 16-byte
 * alignment rule for memory operands.
 */
export function readRm128(cpu: Cpu, i: Instr, align: boolean): Int32Array {
  if (i.mod === 3) {
    const x = cpu.sse.xmm;
    const b = i.rm << 2;
    SRC[0] = x[b];
    SRC[1] = x[b + 1];
    SRC[2] = x[b + 2];
    SRC[3] = x[b + 3];
  } else {
    linRead128(cpu, memLinear(cpu, i, 16, false, align ? 16 : 1), SRC);
  }
  return SRC;
}

/**
 * Load the low `size` bytes (4 or 8) of the r/m source into SRC[0..1]; the rest is zeroed.
 * Register sources copy all four dwords (callers use only what they need).
 */
export function readRmLow(cpu: Cpu, i: Instr, size: 4 | 8): Int32Array {
  if (i.mod === 3) return readRm128(cpu, i, false);
  const lin = memLinear(cpu, i, size, false, 1);
  if (size === 8) {
    SRC[0] = cpu.linRead64(lin);
    SRC[1] = cpu.rhi;
  } else {
    SRC[0] = cpu.linRead32(lin);
    SRC[1] = 0;
  }
  SRC[2] = SRC[3] = 0;
  return SRC;
}

/** Copy `v` into XMM register `r`. */
export function setXmm(cpu: Cpu, r: number, v: Int32Array): void {
  const x = cpu.sse.xmm;
  const b = r << 2;
  x[b] = v[0];
  x[b + 1] = v[1];
  x[b + 2] = v[2];
  x[b + 3] = v[3];
}

/**
 * Commit the SIMD floating-point exception flags `all` gathered over every element, per SDM
 * Vol.1 11.5.1-11.5.2: if an unmasked pre-computation exception (IE, DE, ZE) occurred only
 * those flags are set; else if an unmasked post-computation exception (OE, UE, PE) occurred
 * all flags are set; in both cases the destination is left unchanged and #XM
 * (CR4.OSXMMEXCPT=1) or #UD is raised. Otherwise the flags are OR-ed into MXCSR and the
 * caller writes the result.
 */
export function commitFlags(cpu: Cpu, all: number): void {
  if (all === 0) return;
  const sse = cpu.sse;
  const masks = (sse.mxcsr >> 7) & 0x3f;
  const pre = all & 7;
  if (pre & ~masks) {
    sse.mxcsr |= pre;
    simdFault(cpu);
  }
  if (all & ~masks & 0x3f) {
    sse.mxcsr |= all & 0x3f;
    simdFault(cpu);
  }
  sse.mxcsr |= all & 0x3f;
}

/** Raise the SIMD floating-point exception: #XM if CR4.OSXMMEXCPT=1, else #UD. */
export function simdFault(cpu: Cpu): never {
  throw new CpuFault(cpu.cr4 & CR4.OSXMMEXCPT ? 19 : 6, -1);
}

/** Write `size` bytes (1, 2, 4 or 8; 8 as lo/hi) to the r/m memory operand (no alignment rule). */
export function writeMem(cpu: Cpu, i: Instr, size: number, lo: number, hi = 0): void {
  const lin = memLinear(cpu, i, size, true, 1);
  cpu.linWrite(lin, size, lo, hi);
}
