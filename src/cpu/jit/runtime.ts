/**
 * Helpers called from compiled blocks (jit/compile.ts) for instruction forms too long to
 * emit inline. Each one implements exactly the semantics of the corresponding handler in
 * ops/ (same results, same flag recording); values are taken and stored in int32 form.
 */
import type { Cpu } from "../cpu.js";
import { PERM } from "../mmu.js";

export { PERM };

/**
 * The checks the run loop (cpu.ts run()) makes between blocks other than the instruction
 * budget: no pending SMI/NMI/INTR, no stop request, no code invalidation, no halt, shutdown
 * or interrupt shadow, and the chain epoch `ep` the function was entered with. Compiled
 * functions call it before moving to the next block after something could have changed that
 * state (jit/compile.ts LOOP_OK).
 */
export function loopOk(cpu: Cpu, ep: number): boolean {
  return (
    !cpu.intrPending &&
    !cpu.nmiPending &&
    !cpu.smiPending &&
    !cpu.stopRequested &&
    !cpu.blockInvalidated &&
    !cpu.interruptShadow &&
    !cpu.halted &&
    !cpu.shutdownState &&
    cpu.chainEpoch === ep
  );
}

const TWO32 = 4294967296;
/** CF|PF|AF|ZF|SF|OF. */
const STATUS = 0x8d5;
/** PF|ZF|SF. */
const SZP = 0xc4;

/**
 * Materialize the lazily recorded flags into EFLAGS (cpu.materializeFlags) and return it:
 * for compiled rotates, which change CF/OF and keep the other flags.
 */
export function materialize(cpu: Cpu): number {
  cpu.materializeFlags();
  return cpu.eflags;
}

/** Scratch: high half of the last mul32 product. */
let mulHi = 0;

/** Unsigned 32x32 multiply: returns the low 32 bits, high 32 bits in mulHi (both unsigned). */
function mul32(x: number, y: number): number {
  const xl = x & 0xffff;
  const xh = x >>> 16;
  const yl = y & 0xffff;
  const yh = y >>> 16;
  const ll = xl * yl;
  const lh = xl * yh;
  const hl = xh * yl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mulHi = xh * yh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16);
  return ((mid << 16) | (ll & 0xffff)) >>> 0;
}

/**
 * IMUL r64, r/m64 (0F AF at 64-bit operand size, SDM Vol.2 IMUL) as compiled code uses it:
 * returns the low half of the low 64 bits of the signed product (a, ah) * (b, bh) as int32,
 * the high half in `cpu.rhi` (int32); records CF=OF=1 when the product does not fit in 64
 * bits, SF/ZF/PF from the result (lazily), AF=0 — as muldiv.ts imulTrunc.
 */
export function imul64v(cpu: Cpu, a: number, ah: number, b: number, bh: number): number {
  const a0 = a >>> 0;
  const a1 = ah >>> 0;
  const b0 = b >>> 0;
  const b1 = bh >>> 0;
  const w0 = mul32(a0, b0);
  const h0 = mulHi;
  const l1 = mul32(a0, b1);
  const h1 = mulHi;
  const l2 = mul32(a1, b0);
  const h2 = mulHi;
  const l3 = mul32(a1, b1);
  const h3 = mulHi;
  const s1 = h0 + l1 + l2;
  const w1 = s1 >>> 0;
  const s2 = h1 + h2 + l3 + Math.floor(s1 / TWO32);
  let w2 = s2 >>> 0;
  let w3 = (h3 + Math.floor(s2 / TWO32)) >>> 0;
  // Signed correction of the high 64 bits (two's complement identity).
  if (ah < 0) {
    const s = w2 - b0;
    w2 = s >>> 0;
    w3 = (w3 - b1 - (s < 0 ? 1 : 0)) >>> 0;
  }
  if (bh < 0) {
    const s = w2 - a0;
    w2 = s >>> 0;
    w3 = (w3 - a1 - (s < 0 ? 1 : 0)) >>> 0;
  }
  const ext = w1 & 0x80000000 ? 0xffffffff : 0;
  const ovf = w2 !== ext || w3 !== ext;
  cpu.eflags = (cpu.eflags & ~STATUS) | (ovf ? 0x801 : 0);
  cpu.lfOp = 4;
  cpu.lfSize = 8;
  cpu.lfR = w0 | 0;
  cpu.lfRh = w1 | 0;
  cpu.lazyMask = SZP;
  cpu.rhi = w1 | 0;
  return w0 | 0;
}

/** IMUL r64, r/m64 into register `d` of the cpu (imul64v, then the register write). */
export function imul64(cpu: Cpu, d: number, a: number, ah: number, b: number, bh: number): void {
  const r = imul64v(cpu, a, ah, b, bh);
  cpu.lo[d] = r;
  cpu.hi[d] = cpu.rhi;
}

/**
 * IMUL r32, r/m32 as compiled code uses it: returns the low 32 bits of the product (int32;
 * the caller zeroes the upper half of the destination), flags as imul64v at 32 bits.
 */
export function imul32v(cpu: Cpu, a: number, b: number): number {
  const r = Math.imul(a, b);
  // The double product is exact whenever it fits in 32 bits, and far outside otherwise.
  cpu.eflags = (cpu.eflags & ~STATUS) | ((a | 0) * (b | 0) !== r ? 0x801 : 0);
  cpu.lfOp = 4;
  cpu.lfSize = 4;
  cpu.lfR = r;
  cpu.lazyMask = SZP;
  return r;
}

/** IMUL r32, r/m32 into register `d` of the cpu (imul32v; the upper half is zeroed). */
export function imul32(cpu: Cpu, d: number, a: number, b: number): void {
  cpu.lo[d] = imul32v(cpu, a, b);
  cpu.hi[d] = 0;
}
