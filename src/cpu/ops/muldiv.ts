/**
 * Multiply and divide: MUL/IMUL/DIV/IDIV (group 3, F6/F7 /4-/7), IMUL r, r/m (0F AF) and
 * IMUL r, r/m, imm (69, 6B) at 8/16/32/64-bit operand sizes (SDM Vol.2 "MUL", "IMUL", "DIV",
 * "IDIV"; flags per Vol.1 Appendix A).
 *
 * Arithmetic: 8/16-bit products and quotients are exact in doubles; 32x32 products use
 * Math.imul for the low half and 16-bit limbs for the high half, 64/32 division is long
 * division in 16-bit steps (no BigInt). 64x64 products are built from 32-bit partial
 * products; 128/64 division uses BigInt as a slow path.
 *
 * Flags: CF=OF per the SDM (MUL: upper half non-zero; IMUL: the product does not fit the
 * destination). The SDM leaves SF/ZF/AF/PF undefined after MUL/IMUL and all six status flags
 * undefined after DIV/IDIV. Our choice (documented, masked by the differential guests):
 * after MUL/IMUL, SF/ZF/PF reflect the low half of the product (AL/AX/EAX/RAX, or the
 * destination register of the 2-/3-operand forms) and AF=0, as Intel Core processors do;
 * after DIV/IDIV the flags are left unchanged.
 *
 * #DE (vector 0) on a zero divisor or a quotient that does not fit, including IDIV of the
 * most negative dividend by -1; the state is unchanged when it is raised.
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { LazyOp } from "../flags.js";
import { de } from "../fault.js";
import { group, op, Imm, OPF_BYTE } from "../optable.js";
import { FLAGS } from "../../x86/eflags.js";

const TWO32 = 4294967296;
const SZP = FLAGS.SF | FLAGS.ZF | FLAGS.PF;
const CLEAR_STATUS = ~(FLAGS.CF | FLAGS.OF | FLAGS.AF | SZP);

/** Scratch outputs of the wide-arithmetic helpers. */
const w = { h: 0, p1: 0, p2: 0, p3: 0 };

/** High 32 bits of the unsigned product a*b (a, b unsigned 32-bit). */
export function mulHiU32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const t = al * bl;
  const mid = ah * bl + al * bh + Math.floor(t / 65536);
  return (ah * bh + Math.floor(mid / 65536)) >>> 0;
}

/**
 * Unsigned 64x64→128 multiply of (a0, a1) by (b0, b1). Returns limb 0; limbs 1..3 (32-bit,
 * unsigned) are left in the module scratch `w.p1..p3`.
 */
function mulU64(a0: number, a1: number, b0: number, b1: number): number {
  const r0 = Math.imul(a0, b0) >>> 0;
  const c00 = mulHiU32(a0, b0);
  const l01 = Math.imul(a0, b1) >>> 0;
  const h01 = mulHiU32(a0, b1);
  const l10 = Math.imul(a1, b0) >>> 0;
  const h10 = mulHiU32(a1, b0);
  const l11 = Math.imul(a1, b1) >>> 0;
  const h11 = mulHiU32(a1, b1);
  const s1 = c00 + l01 + l10; // < 3 * 2^32
  const carry1 = Math.floor(s1 / TWO32);
  const s2 = h01 + h10 + l11 + carry1;
  const carry2 = Math.floor(s2 / TWO32);
  w.p1 = s1 >>> 0;
  w.p2 = s2 >>> 0;
  w.p3 = (h11 + carry2) >>> 0;
  return r0;
}

/**
 * Signed 64x64→128 multiply: like mulU64, then the high 64 bits are corrected by subtracting
 * b (when a < 0) and a (when b < 0) — the two's-complement identity.
 */
function mulS64(a0: number, a1: number, b0: number, b1: number): number {
  const r0 = mulU64(a0, a1, b0, b1);
  let p2 = w.p2;
  let p3 = w.p3;
  if (a1 & 0x80000000) {
    const s = p2 - b0;
    p2 = s >>> 0;
    p3 = (p3 - b1 - (s < 0 ? 1 : 0)) >>> 0;
  }
  if (b1 & 0x80000000) {
    const s = p2 - a0;
    p2 = s >>> 0;
    p3 = (p3 - a1 - (s < 0 ? 1 : 0)) >>> 0;
  }
  w.p2 = p2;
  w.p3 = p3;
  return r0;
}

/** Record MUL/IMUL flags: CF=OF=`ovf`, SF/ZF/PF from the low result `r` (with high half rh), AF=0. */
function mulFlags(cpu: Cpu, size: number, r: number, rh: number, ovf: boolean): void {
  cpu.eflags = (cpu.eflags & CLEAR_STATUS) | (ovf ? FLAGS.CF | FLAGS.OF : 0);
  if (size === 8) cpu.setLazy64(LazyOp.Logic, 0, 0, 0, 0, r, rh, SZP);
  else cpu.setLazy(LazyOp.Logic, size, 0, 0, r, SZP);
}

/** Sign-extend an unsigned value of `size` bytes (1, 2, 4) to a JS integer. */
function sext(v: number, size: number): number {
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}

/** MUL r/m (F6/F7 /4): unsigned rDX:rAX = rAX * r/m. */
function mul(byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const b = cpu.readRM(i, size);
    const bh = cpu.rhi;
    if (size === 1) {
      const p = (cpu.lo[0] & 0xff) * b;
      cpu.setReg(0, 2, p);
      mulFlags(cpu, 1, p & 0xff, 0, p > 0xff);
    } else if (size === 2) {
      const p = (cpu.lo[0] & 0xffff) * b;
      cpu.setReg(0, 2, p & 0xffff);
      cpu.setReg(2, 2, p >>> 16);
      mulFlags(cpu, 2, p & 0xffff, 0, p > 0xffff);
    } else if (size === 4) {
      const a = cpu.lo[0] >>> 0;
      const lo = Math.imul(a, b) >>> 0;
      const hi = mulHiU32(a, b);
      cpu.setReg(0, 4, lo);
      cpu.setReg(2, 4, hi);
      mulFlags(cpu, 4, lo, 0, hi !== 0);
    } else {
      const r0 = mulU64(cpu.lo[0] >>> 0, cpu.hi[0] >>> 0, b, bh);
      const r1 = w.p1;
      cpu.setReg(0, 8, r0, r1);
      cpu.setReg(2, 8, w.p2, w.p3);
      mulFlags(cpu, 8, r0, r1, (w.p2 | w.p3) !== 0);
    }
  };
}

/** IMUL r/m (F6/F7 /5): signed rDX:rAX = rAX * r/m. */
function imul1(byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const b = cpu.readRM(i, size);
    const bh = cpu.rhi;
    if (size === 1) {
      const p = ((cpu.lo[0] << 24) >> 24) * sext(b, 1);
      cpu.setReg(0, 2, p & 0xffff);
      mulFlags(cpu, 1, p & 0xff, 0, p !== (p << 24) >> 24);
    } else if (size === 2) {
      const p = ((cpu.lo[0] << 16) >> 16) * sext(b, 2);
      cpu.setReg(0, 2, p & 0xffff);
      cpu.setReg(2, 2, (p >> 16) & 0xffff);
      mulFlags(cpu, 2, p & 0xffff, 0, p !== (p << 16) >> 16);
    } else if (size === 4) {
      const a = cpu.lo[0] | 0;
      const lo = Math.imul(a, b) >>> 0;
      const hi = imulHi32(a, b | 0);
      cpu.setReg(0, 4, lo);
      cpu.setReg(2, 4, hi);
      mulFlags(cpu, 4, lo, 0, hi !== (lo & 0x80000000 ? 0xffffffff : 0));
    } else {
      const r0 = mulS64(cpu.lo[0] >>> 0, cpu.hi[0] >>> 0, b, bh);
      const r1 = w.p1;
      const ext = r1 & 0x80000000 ? 0xffffffff : 0;
      cpu.setReg(0, 8, r0, r1);
      cpu.setReg(2, 8, w.p2, w.p3);
      mulFlags(cpu, 8, r0, r1, w.p2 !== ext || w.p3 !== ext);
    }
  };
}

/** High 32 bits (unsigned) of the signed product of two signed 32-bit integers. */
function imulHi32(a: number, b: number): number {
  let hi = mulHiU32(a >>> 0, b >>> 0);
  if (a < 0) hi -= b >>> 0;
  if (b < 0) hi -= a >>> 0;
  return hi >>> 0;
}

/**
 * Signed a*b truncated to `size` (2, 4, 8) into the ModRM.reg destination, with CF=OF set when
 * the product does not fit (IMUL r, r/m and IMUL r, r/m, imm).
 */
function imulTrunc(cpu: Cpu, i: Instr, size: number, a: number, ah: number, b: number, bh: number): void {
  if (size === 2) {
    const p = sext(a, 2) * sext(b, 2);
    const r = p & 0xffff;
    cpu.setReg(i.reg, 2, r);
    mulFlags(cpu, 2, r, 0, p !== (p << 16) >> 16);
  } else if (size === 4) {
    const lo = Math.imul(a, b) >>> 0;
    const hi = imulHi32(a | 0, b | 0);
    cpu.setReg(i.reg, 4, lo);
    mulFlags(cpu, 4, lo, 0, hi !== (lo & 0x80000000 ? 0xffffffff : 0));
  } else {
    const r0 = mulS64(a, ah, b, bh);
    const r1 = w.p1;
    const ext = r1 & 0x80000000 ? 0xffffffff : 0;
    cpu.setReg(i.reg, 8, r0, r1);
    mulFlags(cpu, 8, r0, r1, w.p2 !== ext || w.p3 !== ext);
  }
}

/** IMUL r, r/m (0F AF). */
function imul2(cpu: Cpu, i: Instr): void {
  const size = i.osize;
  const b = cpu.readRM(i, size);
  const bh = cpu.rhi;
  const a = cpu.getReg(i.reg, size);
  imulTrunc(cpu, i, size, a, cpu.rhi, b, bh);
}

/** IMUL r, r/m, imm (69 imm16/32, 6B imm8; the immediate is sign-extended). */
function imul3(cpu: Cpu, i: Instr): void {
  const size = i.osize;
  const a = cpu.readRM(i, size);
  const ah = cpu.rhi;
  // The decoder sign-extends Ibs, and Iz at 64-bit operand size; lower sizes use the low bits.
  const imm = i.imm | 0;
  const b = size === 2 ? imm & 0xffff : imm >>> 0;
  const bh = size === 8 && imm < 0 ? 0xffffffff : 0;
  imulTrunc(cpu, i, size, a, ah, b, bh);
}

/**
 * Unsigned division of the 64-bit (hi, lo) by d (32-bit, non-zero, hi < d): long division in
 * 16-bit steps, every intermediate below 2^48 so exact in doubles. Quotient returned,
 * remainder in w.h.
 */
export function divU64by32(hi: number, lo: number, d: number): number {
  let t = hi * 65536 + (lo >>> 16);
  const r1 = t % d;
  const q1 = (t - r1) / d;
  t = r1 * 65536 + (lo & 0xffff);
  const r0 = t % d;
  const q0 = (t - r0) / d;
  w.h = r0;
  return (q1 * 65536 + q0) >>> 0;
}

/** The remainder left by the last divU64by32. */
export function divRemainder(): number {
  return w.h;
}

/** Outputs of divU96by32 besides its return value (both unsigned). */
export const DIV96 = { qh: 0, rem: 0 };

/**
 * Unsigned division of the three 32-bit digits (n2, n1, n0) by d (32-bit, non-zero, n2 < d)
 * in two exact divU64by32 steps: the low half of the quotient is returned, the high half and
 * the remainder are left in DIV96. DIV r/m64 by a divisor below 2^32 (RDX:RAX).
 */
export function divU96by32(n2: number, n1: number, n0: number, d: number): number {
  DIV96.qh = divU64by32(n2, n1, d);
  const ql = divU64by32(w.h, n0, d);
  DIV96.rem = w.h;
  return ql;
}

const BIG64 = BigInt(64);
const BIG32 = BigInt(32);
const MASK64 = (BigInt(1) << BIG64) - BigInt(1);

/** (lo, hi) as an unsigned BigInt. */
function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << BIG32) | BigInt(lo >>> 0);
}

/** Write an unsigned 64-bit BigInt to register r. */
function setBig(cpu: Cpu, r: number, v: bigint): void {
  const x = v & MASK64;
  cpu.lo[r] = Number(x & BigInt(0xffffffff)) | 0;
  cpu.hi[r] = Number(x >> BIG32) | 0;
}

/** DIV r/m (F6/F7 /6): unsigned rDX:rAX / r/m. */
function div(byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const d = cpu.readRM(i, size);
    const dh = cpu.rhi;
    if (size === 1) {
      if (d === 0) de();
      const n = cpu.lo[0] & 0xffff;
      const q = Math.floor(n / d);
      if (q > 0xff) de();
      cpu.setReg(0, 2, ((n - q * d) << 8) | q);
    } else if (size === 2) {
      if (d === 0) de();
      const n = (cpu.lo[2] & 0xffff) * 65536 + (cpu.lo[0] & 0xffff);
      const q = Math.floor(n / d);
      if (q > 0xffff) de();
      cpu.setReg(0, 2, q);
      cpu.setReg(2, 2, n - q * d);
    } else if (size === 4) {
      const hi = cpu.lo[2] >>> 0;
      if (d === 0 || hi >= d) de();
      const q = divU64by32(hi, cpu.lo[0] >>> 0, d);
      cpu.setReg(0, 4, q);
      cpu.setReg(2, 4, w.h);
    } else if (dh === 0 && d !== 0 && cpu.hi[2] === 0 && cpu.lo[2] >>> 0 < d) {
      // Divisor below 2^32 and RDX < divisor (so no #DE): RDX:RAX is three 32-bit digits
      // with the top one below d, divided in two exact divU64by32 steps (no BigInt).
      cpu.lo[0] = divU96by32(cpu.lo[2] >>> 0, cpu.hi[0] >>> 0, cpu.lo[0] >>> 0, d);
      cpu.hi[0] = DIV96.qh;
      cpu.lo[2] = DIV96.rem;
      cpu.hi[2] = 0;
    } else {
      const dv = big(d, dh);
      const hi = big(cpu.lo[2], cpu.hi[2]);
      if (dv === BigInt(0) || hi >= dv) de();
      const n = (hi << BIG64) | big(cpu.lo[0], cpu.hi[0]);
      const q = n / dv;
      setBig(cpu, 0, q);
      setBig(cpu, 2, n - q * dv);
    }
  };
}

/** IDIV r/m (F6/F7 /7): signed rDX:rAX / r/m, quotient truncated toward zero. */
function idiv(byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const dRaw = cpu.readRM(i, size);
    const dh = cpu.rhi;
    if (size === 1 || size === 2) {
      const d = sext(dRaw, size);
      if (d === 0) de();
      const n = size === 1 ? (cpu.lo[0] << 16) >> 16 : ((cpu.lo[2] & 0xffff) << 16) | (cpu.lo[0] & 0xffff);
      const q = Math.trunc(n / d);
      const lim = size === 1 ? 0x80 : 0x8000;
      if (q >= lim || q < -lim) de();
      const r = n % d; // sign of the dividend, like IDIV
      if (size === 1) cpu.setReg(0, 2, ((r & 0xff) << 8) | (q & 0xff));
      else {
        cpu.setReg(0, 2, q & 0xffff);
        cpu.setReg(2, 2, r & 0xffff);
      }
    } else if (size === 4) {
      const d = dRaw | 0;
      if (d === 0) de();
      let hi = cpu.lo[2] >>> 0;
      let lo = cpu.lo[0] >>> 0;
      const negN = (hi & 0x80000000) !== 0;
      if (negN) {
        // |dividend| as an unsigned 64-bit pair (2^63 is representable).
        lo = (~lo + 1) >>> 0;
        hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
      }
      const ad = Math.abs(d);
      if (hi >= ad) de();
      const q = divU64by32(hi, lo, ad);
      const negQ = negN !== d < 0;
      if (negQ ? q > 0x80000000 : q > 0x7fffffff) de();
      cpu.setReg(0, 4, negQ ? -q >>> 0 : q);
      cpu.setReg(2, 4, negN ? -w.h >>> 0 : w.h);
    } else {
      const d = BigInt.asIntN(64, big(dRaw, dh));
      if (d === BigInt(0)) de();
      const n = BigInt.asIntN(128, (big(cpu.lo[2], cpu.hi[2]) << BIG64) | big(cpu.lo[0], cpu.hi[0]));
      const q = n / d; // BigInt division truncates toward zero
      if (q !== BigInt.asIntN(64, q)) de();
      setBig(cpu, 0, q);
      setBig(cpu, 2, n - q * d);
    }
  };
}

group(0xf6, 4, "mul", mul(true), Imm.None, OPF_BYTE);
group(0xf7, 4, "mul", mul(false));
group(0xf6, 5, "imul", imul1(true), Imm.None, OPF_BYTE);
group(0xf7, 5, "imul", imul1(false));
group(0xf6, 6, "div", div(true), Imm.None, OPF_BYTE);
group(0xf7, 6, "div", div(false));
group(0xf6, 7, "idiv", idiv(true), Imm.None, OPF_BYTE);
group(0xf7, 7, "idiv", idiv(false));
op(0x1af, "imul", imul2, true);
op(0x69, "imul", imul3, true, Imm.Iz);
op(0x6b, "imul", imul3, true, Imm.Ibs);
