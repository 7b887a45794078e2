/**
 * Helpers called from compiled blocks (jit/compile.ts) for instruction forms too long to
 * emit inline. Each one implements exactly the semantics of the corresponding handler in
 * ops/ (same results, same flag recording); values are taken and stored in int32 form.
 */
import type { Cpu } from "../cpu.js";
import type { SseState } from "../sse/sse-state.js";
import { DIV96, divRemainder, divU64by32, divU96by32 } from "../ops/muldiv.js";

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

/** Outputs of imul64w besides its return value: high half (int32) and CF|OF (0 or 801H). */
export const IM = { hi: 0, of: 0 };

/**
 * IMUL r64, r/m64 (0F AF at 64-bit operand size, SDM Vol.2 IMUL) without flag recording:
 * returns the low half of the low 64 bits of the signed product (a, ah) * (b, bh) as int32,
 * with the high half in `IM.hi` (int32) and `IM.of` = 801H (CF|OF) when the product does not
 * fit in 64 bits, else 0. Compiled code records the flags in its own locals.
 */
export function imul64w(a: number, ah: number, b: number, bh: number): number {
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
  IM.of = w2 !== ext || w3 !== ext ? 0x801 : 0;
  IM.hi = w1 | 0;
  return w0 | 0;
}

/** Outputs of divq/divd besides their return value: high half of the quotient, remainder. */
export const DQ = { hi: 0, rem: 0 };

/**
 * DIV r/m64 (F7 /6, SDM Vol.2 DIV) when the divisor `d` is below 2^32 and RDX (`n2`) is
 * below it (so no #DE): RDX:RAX (`n2`:`n1`:`n0`) / d by ops/muldiv.ts divU96by32, as the
 * handler does. Returns the low half of the quotient (int32), the high half in DQ.hi and the
 * remainder in DQ.rem (int32 form).
 */
export function divq(n2: number, n1: number, n0: number, d: number): number {
  const q = divU96by32(n2 >>> 0, n1 >>> 0, n0 >>> 0, d >>> 0) | 0;
  DQ.hi = DIV96.qh | 0;
  DQ.rem = DIV96.rem | 0;
  return q;
}

/** DIV r/m32 when EDX (`n1`) is below the non-zero divisor `d`: EDX:EAX / d, as divq. */
export function divd(n1: number, n0: number, d: number): number {
  const q = divU64by32(n1 >>> 0, n0 >>> 0, d >>> 0) | 0;
  DQ.rem = divRemainder() | 0;
  return q;
}

/**
 * CF|OF (801H) when the signed 64-bit product (a, ah) * (b, bh) does not fit in 64 bits, else
 * 0: the flags of IMUL r64, r/m64, for compiled code that computes the product inline and
 * needs the flags only when it stores them.
 */
export function imul64of(a: number, ah: number, b: number, bh: number): number {
  imul64w(a, ah, b, bh);
  return IM.of;
}

/**
 * IMUL r64, r/m64 with the flags recorded in the cpu: imul64w, then CF=OF=1 when the product
 * does not fit in 64 bits, SF/ZF/PF from the result (lazily), AF=0 — as muldiv.ts imulTrunc;
 * the high half is also left in `cpu.rhi`.
 */
export function imul64v(cpu: Cpu, a: number, ah: number, b: number, bh: number): number {
  const r = imul64w(a, ah, b, bh);
  cpu.eflags = (cpu.eflags & ~STATUS) | IM.of;
  cpu.lfOp = 4;
  cpu.lfSize = 8;
  cpu.lfR = r;
  cpu.lfRh = IM.hi;
  cpu.lazyMask = SZP;
  cpu.rhi = IM.hi;
  return r;
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

/** Scratch: the result of quick(); T: a memory source operand copied for quick(). */
const Q = new Float64Array(1);
const T = new Float64Array(2);

/**
 * softfp.ts f64Quick for compiled code: the same cases and results, but operands are read
 * from `f[d]` and `ys[yi]` and the result is left in `Q[0]`, so that no double crosses a call
 * boundary (a call V8 does not inline would box it). Returns -1 when the case is not covered,
 * else 1 for an inexact result and 0 for an exact one. Every error term is computed inline.
 */
function quick(op: number, f: Float64Array, d: number, ys: Float64Array, yi: number): number {
  const y = ys[yi];
  const ay = Math.abs(y);
  if (!(ay >= 2.2250738585072014e-308 && ay < 1e290) && y !== 0) return -1;
  if (op === 4) {
    if (y === 0) {
      Q[0] = y;
      return 0;
    }
    if (y < 0 || ay <= 1e-270) return -1;
    const r = Math.sqrt(y);
    Q[0] = r;
    const p = r * r;
    if (p !== y) return 1;
    let t = 134217729 * r;
    const h = t - (t - r);
    const l = r - h;
    t = h * h - p + h * l + l * h + l * l;
    return t !== 0 ? 1 : 0;
  }
  const x = f[d];
  const ax = Math.abs(x);
  if (!(ax >= 2.2250738585072014e-308 && ax < 1e290) && x !== 0) return -1;
  if (op <= 1) {
    const yy = op === 1 ? -y : y;
    const r = x + yy;
    Q[0] = r;
    if (r === 0) return 0;
    if (!(Math.abs(r) >= 2.2250738585072014e-308)) return -1;
    const bb = r - x;
    return x - (r - bb) + (yy - bb) !== 0 ? 1 : 0;
  }
  let a: number;
  let b: number;
  let p: number;
  if (op === 2) {
    const r = x * y;
    Q[0] = r;
    if (x === 0 || y === 0) return 0;
    const ar = Math.abs(r);
    if (!(ar > 1e-270 && ar < 1e290)) return -1;
    a = x;
    b = y;
    p = r;
  } else {
    if (y === 0) return -1;
    const r = x / y;
    Q[0] = r;
    if (x === 0) return 0;
    const ar = Math.abs(r);
    if (!(ar > 1e-270 && ar < 1e290) || ax <= 1e-270 || ay <= 1e-270) return -1;
    p = r * y;
    if (p !== x) return 1;
    a = r;
    b = y;
  }
  // Dekker/Veltkamp TwoProduct: a*b - p exactly.
  let t = 134217729 * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = 134217729 * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl !== 0 ? 1 : 0;
}

/**
 * The double arithmetic of compiled SSE code (jit/sse.ts). ADDSD/SUBSD/MULSD/DIVSD/SQRTSD and
 * the PD forms (`op`: softfp.ts FpOp) on XMM register `d` (index of its low double in
 * `sse.f64`) with the source double(s) at `ys[yi]` (a register: `ys` = `sse.f64`) or at
 * physical address `pa` of `dv` (memory, the `m` forms). When MXCSR selects round to nearest
 * with PE masked and every lane is a case softfp.ts f64Quick covers (then the result is the
 * handler's, and PE, a masked flag, is the one possible exception), the result is written, PE
 * is OR-ed into MXCSR when inexact, and true is returned; otherwise nothing changes and false
 * tells the compiled code to let the handler execute the instruction.
 */
export function sd(sse: SseState, op: number, d: number, ys: Float64Array, yi: number): boolean {
  const mx = sse.mxcsr;
  if ((mx & 0x7000) !== 0x1000) return false;
  const f = sse.f64;
  const s = quick(op, f, d, ys, yi);
  if (s < 0) return false;
  f[d] = Q[0];
  if (s !== 0) sse.mxcsr = mx | 0x20;
  return true;
}

/** sd with the source double in memory (see sd). */
export function sdm(sse: SseState, op: number, d: number, dv: DataView, pa: number): boolean {
  T[0] = dv.getFloat64(pa, true);
  return sd(sse, op, d, T, 0);
}

/** The PD forms: both lanes (see sd). */
export function pd(sse: SseState, op: number, d: number, ys: Float64Array, yi: number): boolean {
  const mx = sse.mxcsr;
  if ((mx & 0x7000) !== 0x1000) return false;
  const f = sse.f64;
  const s0 = quick(op, f, d, ys, yi);
  if (s0 < 0) return false;
  const r0 = Q[0];
  const s1 = quick(op, f, d + 1, ys, yi + 1);
  if (s1 < 0) return false;
  f[d] = r0;
  f[d + 1] = Q[0];
  if ((s0 | s1) !== 0) sse.mxcsr = mx | 0x20;
  return true;
}

/** pd with the 16-byte source in memory (see sd). */
export function pdm(sse: SseState, op: number, d: number, dv: DataView, pa: number): boolean {
  T[0] = dv.getFloat64(pa, true);
  T[1] = dv.getFloat64(pa + 8, true);
  return pd(sse, op, d, T, 0);
}

/**
 * COMISD/UCOMISD of the low double of XMM register `d` (index in `sse.f64`) with `ys[yi]`:
 * returns the ZF/PF/CF bits (EFLAGS positions: 40H equal, 1 less, 0 greater), or -1 when an
 * operand is a NaN or a denormal (IE/DE/DAZ rules: the handler runs instead).
 */
export function comisd(sse: SseState, d: number, ys: Float64Array, yi: number): number {
  const x = sse.f64[d];
  const y = ys[yi];
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  if (!((ax >= 2.2250738585072014e-308 || x === 0) && (ay >= 2.2250738585072014e-308 || y === 0))) return -1;
  return x === y ? 0x40 : x < y ? 1 : 0;
}

/** comisd with the source double in memory. */
export function comisdm(sse: SseState, d: number, dv: DataView, pa: number): number {
  T[0] = dv.getFloat64(pa, true);
  return comisd(sse, d, T, 0);
}
