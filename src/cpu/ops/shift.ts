/**
 * Shifts and rotates: group 2 (C0, C1, D0, D1, D2, D3 /0-/7 — ROL, ROR, RCL, RCR, SHL, SHR,
 * SAL (/6, an alias of SHL), SAR) and the double-precision shifts SHLD/SHRD (0F A4/A5/AC/AD),
 * at 8/16/32/64-bit operand sizes (SDM Vol.2 "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD",
 * "SHRD"; flags per Vol.1 Appendix A).
 *
 * Count handling: the count is masked to 5 bits (6 bits with a 64-bit operand); a masked
 * count of 0 changes neither the destination nor any flag. RCL/RCR on 8/16-bit operands
 * rotate by (masked count) MOD 9 / MOD 17 (through CF).
 *
 * Flags. Shifts set SF/ZF/PF from the result (recorded lazily as LazyOp.Logic) and CF/OF/AF
 * eagerly; rotates change only CF and OF. Where the SDM leaves a flag undefined we follow
 * Intel silicon (our differential guests mask these flags):
 * - OF for counts > 1: SHL/SAL = MSB(result) XOR CF; SHR = MSB(original operand); SAR = 0;
 *   ROL = MSB(result) XOR CF; ROR = MSB(result) XOR next-MSB(result); RCL = MSB(result) XOR
 *   CF (new); RCR = MSB(result) XOR next-MSB(result); SHLD/SHRD = MSB(result) XOR
 *   MSB(original destination). These are the count-1 formulas applied to every count.
 * - RCL/RCR when the masked count is non-zero but a multiple of 9/17 (8/16-bit): the
 *   destination and CF are unchanged; OF is computed by the formula above.
 * - AF after a shift with a non-zero count (undefined): 0.
 * - CF of SHL/SHR when count >= operand width (undefined): the last bit shifted out of the
 *   operand viewed as zero-extended, i.e. for SHL bit (width - count) of the original when
 *   count == width and 0 beyond; for SHR 0 once count > width.
 * - SHLD/SHRD on 16-bit operands with count > 16 (result and flags undefined): the operand
 *   is shifted as the 48-bit concatenation dest:src:dest (SHLD) or dest:src:dest with the
 *   destination in the low word (SHRD); CF is the last bit shifted out of that value and OF
 *   follows the sign-change formula. This is the Intel behaviour as we understand it (not
 *   verified on Intel silicon here); AMD processors differ: they shift dest:src:src (the
 *   recording host of test/cpu/vectors/shift.json, whose vectors mask these cases).
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { LazyOp } from "../flags.js";
import { group, op, Imm, OPF_BYTE } from "../optable.js";
import { FLAGS } from "../../x86/eflags.js";
import { rmwLinear, sizeMask } from "./alu.js";

/** Group-2 operation index (ModRM.reg). */
export const enum ShiftOp {
  Rol = 0,
  Ror = 1,
  Rcl = 2,
  Rcr = 3,
  Shl = 4,
  Shr = 5,
  Sal = 6,
  Sar = 7,
}

const SZP = FLAGS.SF | FLAGS.ZF | FLAGS.PF;
const CLEAR_STATUS = ~(FLAGS.CF | FLAGS.OF | FLAGS.AF | SZP);

/** Scratch high half of a 64-bit helper's result. */
let outHi = 0;

/** x << n for 0 <= n (0 when n >= 32), as an unsigned 32-bit value. */
function shl32(x: number, n: number): number {
  return n >= 32 ? 0 : (x << n) >>> 0;
}

/** x >>> n for 0 <= n (0 when n >= 32). */
function shr32(x: number, n: number): number {
  return n >= 32 ? 0 : x >>> n;
}

/** (lo, hi) << n for 0 <= n (0 when n >= 64); the high half goes to outHi. */
function shl64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    outHi = hi >>> 0;
    return lo >>> 0;
  }
  if (n < 32) {
    outHi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    return (lo << n) >>> 0;
  }
  outHi = n < 64 ? (lo << (n - 32)) >>> 0 : 0;
  return 0;
}

/** (lo, hi) >>> n (logical) for 0 <= n (0 when n >= 64); the high half goes to outHi. */
function shr64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    outHi = hi >>> 0;
    return lo >>> 0;
  }
  if (n < 32) {
    outHi = hi >>> n;
    return ((lo >>> n) | (hi << (32 - n))) >>> 0;
  }
  outHi = 0;
  return n < 64 ? hi >>> (n - 32) : 0;
}

/** Bit k (0..63) of (lo, hi); 0 outside that range. */
function bit64(lo: number, hi: number, k: number): number {
  if (k < 0 || k > 63) return 0;
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/** Record the flags of a shift: SF/ZF/PF lazily from the result, CF/OF eagerly, AF=0. */
function shiftFlags(cpu: Cpu, size: number, r: number, rh: number, cf: number, of: number): void {
  cpu.eflags = (cpu.eflags & CLEAR_STATUS) | cf | (of << 11);
  if (size === 8) cpu.setLazy64(LazyOp.Logic, 0, 0, 0, 0, r, rh, SZP);
  else cpu.setLazy(LazyOp.Logic, size, 0, 0, r, SZP);
}

/** Record the flags of a rotate: CF and OF only (SF/ZF/AF/PF are unaffected). */
function rotateFlags(cpu: Cpu, cf: number, of: number): void {
  cpu.setFlagBits(FLAGS.CF | FLAGS.OF, cf | (of << 11));
}

/**
 * Perform group-2 operation `kind` on `a` (size 1/2/4; unsigned, masked) by the raw `count`
 * and set flags. Returns the result; a masked count of 0 returns `a` with flags untouched.
 */
export function shift32(cpu: Cpu, kind: number, size: number, a: number, count: number): number {
  const c = count & 0x1f;
  if (c === 0) return a;
  const w = size * 8;
  const m = sizeMask(size);
  const msb = w - 1;
  let r: number;
  let cf: number;
  switch (kind) {
    case ShiftOp.Shl:
    case ShiftOp.Sal:
      r = shl32(a, c) & m;
      if (size === 4) r >>>= 0;
      cf = c <= w ? (a >>> (w - c)) & 1 : 0;
      shiftFlags(cpu, size, r, 0, cf, ((r >>> msb) & 1) ^ cf);
      return r;
    case ShiftOp.Shr:
      r = a >>> c;
      cf = (a >>> (c - 1)) & 1;
      shiftFlags(cpu, size, r, 0, cf, (a >>> msb) & 1);
      return r;
    case ShiftOp.Sar: {
      const s = (a << (32 - w)) >> (32 - w);
      r = (s >> c) & m;
      if (size === 4) r >>>= 0;
      cf = (s >> (c - 1)) & 1;
      shiftFlags(cpu, size, r, 0, cf, 0);
      return r;
    }
    case ShiftOp.Rol: {
      const n = c & msb;
      r = n === 0 ? a : (shl32(a, n) | (a >>> (w - n))) & m;
      if (size === 4) r >>>= 0;
      cf = r & 1;
      rotateFlags(cpu, cf, ((r >>> msb) & 1) ^ cf);
      return r;
    }
    case ShiftOp.Ror: {
      const n = c & msb;
      r = n === 0 ? a : ((a >>> n) | shl32(a, w - n)) & m;
      if (size === 4) r >>>= 0;
      cf = (r >>> msb) & 1;
      rotateFlags(cpu, cf, cf ^ ((r >>> (msb - 1)) & 1));
      return r;
    }
    case ShiftOp.Rcl: {
      const n = size === 4 ? c : c % (w + 1);
      const cin = cpu.getCF();
      if (n === 0) {
        r = a;
        cf = cin;
      } else {
        r = (shl32(a, n) | shl32(cin, n - 1) | shr32(a, w + 1 - n)) & m;
        if (size === 4) r >>>= 0;
        cf = (a >>> (w - n)) & 1;
      }
      rotateFlags(cpu, cf, ((r >>> msb) & 1) ^ cf);
      return r;
    }
    default: {
      // RCR
      const n = size === 4 ? c : c % (w + 1);
      const cin = cpu.getCF();
      if (n === 0) {
        r = a;
        cf = cin;
      } else {
        r = (shr32(a, n) | shl32(cin, w - n) | shl32(a, w + 1 - n)) & m;
        if (size === 4) r >>>= 0;
        cf = (a >>> (n - 1)) & 1;
      }
      rotateFlags(cpu, cf, ((r >>> msb) ^ (r >>> (msb - 1))) & 1);
      return r;
    }
  }
}

/**
 * Group-2 operation `kind` on the 64-bit value (a, ah) by the raw `count` (masked to 6 bits);
 * sets flags and returns the low half of the result with the high half in cpu.rhi.
 */
export function shift64(cpu: Cpu, kind: number, a: number, ah: number, count: number): number {
  const c = count & 0x3f;
  cpu.rhi = ah;
  if (c === 0) return a;
  let r: number;
  let rh: number;
  let cf: number;
  switch (kind) {
    case ShiftOp.Shl:
    case ShiftOp.Sal:
      r = shl64(a, ah, c);
      rh = outHi;
      cf = bit64(a, ah, 64 - c);
      shiftFlags(cpu, 8, r, rh, cf, (rh >>> 31) ^ cf);
      break;
    case ShiftOp.Shr:
      r = shr64(a, ah, c);
      rh = outHi;
      cf = bit64(a, ah, c - 1);
      shiftFlags(cpu, 8, r, rh, cf, ah >>> 31);
      break;
    case ShiftOp.Sar: {
      const fill = ah & 0x80000000 ? 0xffffffff : 0;
      // Logical shift plus the sign fill shifted into the vacated high bits.
      const lo1 = shr64(a, ah, c);
      const hi1 = outHi;
      const lo2 = shl64(fill, fill, 64 - c);
      r = (lo1 | lo2) >>> 0;
      rh = (hi1 | outHi) >>> 0;
      cf = bit64(a, ah, c - 1);
      shiftFlags(cpu, 8, r, rh, cf, 0);
      break;
    }
    case ShiftOp.Rol: {
      const lo1 = shl64(a, ah, c);
      const hi1 = outHi;
      const lo2 = shr64(a, ah, 64 - c);
      r = (lo1 | lo2) >>> 0;
      rh = (hi1 | outHi) >>> 0;
      cf = r & 1;
      rotateFlags(cpu, cf, (rh >>> 31) ^ cf);
      break;
    }
    case ShiftOp.Ror: {
      const lo1 = shr64(a, ah, c);
      const hi1 = outHi;
      const lo2 = shl64(a, ah, 64 - c);
      r = (lo1 | lo2) >>> 0;
      rh = (hi1 | outHi) >>> 0;
      cf = rh >>> 31;
      rotateFlags(cpu, cf, cf ^ ((rh >>> 30) & 1));
      break;
    }
    case ShiftOp.Rcl: {
      // 65-bit rotate through CF: (x << c) | (CF << (c-1)) | (x >>> (65 - c)).
      const cin = cpu.getCF();
      const lo1 = shl64(a, ah, c);
      const hi1 = outHi;
      const lo2 = shr64(a, ah, 65 - c);
      const hi2 = outHi;
      const lo3 = shl64(cin, 0, c - 1);
      r = (lo1 | lo2 | lo3) >>> 0;
      rh = (hi1 | hi2 | outHi) >>> 0;
      cf = bit64(a, ah, 64 - c);
      rotateFlags(cpu, cf, (rh >>> 31) ^ cf);
      break;
    }
    default: {
      // RCR: (x >>> c) | (CF << (64-c)) | (x << (65 - c)).
      const cin = cpu.getCF();
      const lo1 = shr64(a, ah, c);
      const hi1 = outHi;
      const lo2 = shl64(a, ah, 65 - c);
      const hi2 = outHi;
      const lo3 = shl64(cin, 0, 64 - c);
      r = (lo1 | lo2 | lo3) >>> 0;
      rh = (hi1 | hi2 | outHi) >>> 0;
      cf = bit64(a, ah, c - 1);
      rotateFlags(cpu, cf, ((rh >>> 31) ^ (rh >>> 30)) & 1);
      break;
    }
  }
  cpu.rhi = rh;
  return r;
}

/** Group-2 handler factory: `countKind` 0 = imm8, 1 = 1, 2 = CL. */
function group2(kind: number, byte: boolean, countKind: number) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const count = countKind === 0 ? i.imm : countKind === 1 ? 1 : cpu.lo[1] & 0xff;
    if (i.mod === 3) {
      if (size === 1) {
        cpu.setReg8(i.rm, i.rex, shift32(cpu, kind, 1, cpu.getReg8(i.rm, i.rex), count));
      } else if (size === 8) {
        const a = cpu.lo[i.rm] >>> 0;
        const r = shift64(cpu, kind, a, cpu.hi[i.rm] >>> 0, count);
        cpu.lo[i.rm] = r;
        cpu.hi[i.rm] = cpu.rhi;
      } else if (size === 4) {
        // A 32-bit destination is written (upper half zeroed) even when the count is 0.
        cpu.setReg(i.rm, 4, shift32(cpu, kind, 4, cpu.lo[i.rm] >>> 0, count));
      } else {
        cpu.setReg(i.rm, 2, shift32(cpu, kind, 2, cpu.lo[i.rm] & 0xffff, count));
      }
      return;
    }
    const lin = rmwLinear(cpu, i, size);
    const a = cpu.linRead(lin, size);
    if (size === 8) {
      const r = shift64(cpu, kind, a, cpu.rhi, count);
      cpu.linWrite(lin, 8, r, cpu.rhi);
    } else {
      cpu.linWrite(lin, size, shift32(cpu, kind, size, a, count));
    }
  };
}

/**
 * SHLD (left = true) / SHRD of `dst` by `count` bits filled from `src`, sizes 2/4 (the
 * 64-bit form is shld64). Returns the result; a masked count of 0 leaves flags untouched.
 */
function shiftDouble32(
  cpu: Cpu,
  left: boolean,
  size: number,
  dst: number,
  src: number,
  count: number,
): number {
  const c = count & 0x1f;
  if (c === 0) return dst;
  const w = size * 8;
  let r: number;
  let cf: number;
  if (size === 4) {
    if (left) {
      r = ((dst << c) | (src >>> (32 - c))) >>> 0;
      cf = (dst >>> (32 - c)) & 1;
    } else {
      r = ((dst >>> c) | (src << (32 - c))) >>> 0;
      cf = (dst >>> (c - 1)) & 1;
    }
  } else if (left) {
    // 48-bit value dst:src:dst, shifted left; the result is bits 47..32.
    const hi = dst;
    const lo = ((src << 16) | dst) >>> 0;
    // Bits of (hi:lo) << c, take bits 47..32 → (hi << c | lo >>> (32 - c)) & 0xffff.
    r = ((hi << c) | (lo >>> (32 - c))) & 0xffff;
    cf = c <= 16 ? (hi >>> (16 - c)) & 1 : (lo >>> (48 - c)) & 1;
  } else {
    // 48-bit value dst:src:dst with the destination in bits 15..0, shifted right.
    const lo = ((src << 16) | dst) >>> 0;
    const hi = dst;
    r = ((lo >>> c) | (hi << (32 - c))) & 0xffff;
    cf = (lo >>> (c - 1)) & 1;
  }
  const msb = w - 1;
  shiftFlags(cpu, size, r, 0, cf, ((r ^ dst) >>> msb) & 1);
  return r;
}

/** SHLD/SHRD on 64-bit operands; result low half returned, high half in cpu.rhi. */
function shiftDouble64(
  cpu: Cpu,
  left: boolean,
  d: number,
  dh: number,
  s: number,
  sh: number,
  count: number,
): number {
  const c = count & 0x3f;
  cpu.rhi = dh;
  if (c === 0) return d;
  let r: number;
  let rh: number;
  let cf: number;
  if (left) {
    const lo1 = shl64(d, dh, c);
    const hi1 = outHi;
    const lo2 = shr64(s, sh, 64 - c);
    r = (lo1 | lo2) >>> 0;
    rh = (hi1 | outHi) >>> 0;
    cf = bit64(d, dh, 64 - c);
  } else {
    const lo1 = shr64(d, dh, c);
    const hi1 = outHi;
    const lo2 = shl64(s, sh, 64 - c);
    r = (lo1 | lo2) >>> 0;
    rh = (hi1 | outHi) >>> 0;
    cf = bit64(d, dh, c - 1);
  }
  shiftFlags(cpu, 8, r, rh, cf, ((rh ^ dh) >>> 31) & 1);
  cpu.rhi = rh;
  return r;
}

/** SHLD/SHRD handler factory; `byCl` selects the CL-count form. */
function shiftDouble(left: boolean, byCl: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = i.osize;
    const count = byCl ? cpu.lo[1] & 0xff : i.imm;
    const s = cpu.getReg(i.reg, size);
    const sh = cpu.rhi;
    if (i.mod === 3) {
      if (size === 8) {
        const r = shiftDouble64(cpu, left, cpu.lo[i.rm] >>> 0, cpu.hi[i.rm] >>> 0, s, sh, count);
        cpu.lo[i.rm] = r;
        cpu.hi[i.rm] = cpu.rhi;
      } else {
        cpu.setReg(i.rm, size, shiftDouble32(cpu, left, size, cpu.getReg(i.rm, size), s, count));
      }
      return;
    }
    const lin = rmwLinear(cpu, i, size);
    const d = cpu.linRead(lin, size);
    if (size === 8) {
      const r = shiftDouble64(cpu, left, d, cpu.rhi, s, sh, count);
      cpu.linWrite(lin, 8, r, cpu.rhi);
    } else {
      cpu.linWrite(lin, size, shiftDouble32(cpu, left, size, d, s, count));
    }
  };
}

const NAMES = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"];
for (let n = 0; n < 8; n++) {
  const kind = n === ShiftOp.Sal ? ShiftOp.Shl : n;
  group(0xc0, n, NAMES[n], group2(kind, true, 0), Imm.Ib, OPF_BYTE);
  group(0xc1, n, NAMES[n], group2(kind, false, 0), Imm.Ib);
  group(0xd0, n, NAMES[n], group2(kind, true, 1), Imm.None, OPF_BYTE);
  group(0xd1, n, NAMES[n], group2(kind, false, 1));
  group(0xd2, n, NAMES[n], group2(kind, true, 2), Imm.None, OPF_BYTE);
  group(0xd3, n, NAMES[n], group2(kind, false, 2));
}
op(0x1a4, "shld", shiftDouble(true, false), true, Imm.Ib);
op(0x1a5, "shld", shiftDouble(true, true), true);
op(0x1ac, "shrd", shiftDouble(false, false), true, Imm.Ib);
op(0x1ad, "shrd", shiftDouble(false, true), true);
