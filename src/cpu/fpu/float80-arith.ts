/**
 * float80-arith.ts - x87 basic arithmetic on 80-bit values: FADD, FSUB, FMUL, FDIV, FSQRT
 * (Intel SDM Vol.1 4.8, 8.1.5.2 precision control, 8.5 exception conditions; Vol.2 instruction
 * pages for the special-operand tables). All results are rounded to the PC precision with the
 * RC rounding mode of the supplied control word; the returned number holds status-word flags.
 * Significands are handled as 32-bit words (16-bit limbs for products); no BigInt.
 */

import {
  CLS_DENORMAL,
  CLS_INF,
  CLS_QNAN,
  CLS_SNAN,
  CLS_UNSUPPORTED,
  CLS_ZERO,
  FE_DENORMAL,
  FE_ZERODIVIDE,
  Float80,
  RC_DOWN,
  U,
  V,
  classify,
  precisionBits,
  propagateNaN,
  roundPackExt,
  setInf,
  setIndefinite,
  setZero,
  unpack,
} from "./float80-core.js";

/**
 * Common special-operand screening for two-operand arithmetic: unsupported encodings → IE and
 * indefinite; NaNs per SDM Vol.1 Table 4-7. Returns -1 when the operation must continue,
 * otherwise the final flags (result already in dst).
 */
function screen2(dst: Float80, a: Float80, ca: number, b: Float80, cb: number): number {
  if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (ca >= CLS_QNAN || cb >= CLS_QNAN) return propagateNaN(dst, a, ca, b, cb);
  return -1;
}

function addSub(dst: Float80, a: Float80, b: Float80, negB: number, cw: number): number {
  const ca = classify(a),
    cb = classify(b);
  const sc = screen2(dst, a, ca, b, cb);
  if (sc >= 0) return sc;
  const flags = ca === CLS_DENORMAL || cb === CLS_DENORMAL ? FE_DENORMAL : 0;
  const sa = a.sign,
    sb = b.sign ^ negB;
  if (ca === CLS_INF) {
    if (cb === CLS_INF && sa !== sb) return flags | setIndefinite(dst);
    setInf(dst, sa);
    return flags;
  }
  if (cb === CLS_INF) {
    setInf(dst, sb);
    return flags;
  }
  const p = precisionBits(cw);
  if (ca === CLS_ZERO || cb === CLS_ZERO) {
    if (ca === CLS_ZERO && cb === CLS_ZERO) {
      // SDM Vol.1 4.8.3.9 / Table 4-3: unlike-signed zeros sum to +0 except when rounding down.
      setZero(dst, sa === sb ? sa : ((cw >>> 10) & 3) === RC_DOWN ? 1 : 0);
      return flags;
    }
    // x ± 0 = x, rounded to the current precision.
    unpack(ca === CLS_ZERO ? b : a, U);
    return flags | roundPackExt(dst, ca === CLS_ZERO ? sb : sa, U.exp, U.hi, U.lo, 0, p, cw);
  }
  unpack(a, U);
  unpack(b, V);
  // Order by magnitude: x is the larger.
  let xs = sa,
    xe = U.exp,
    xh = U.hi,
    xl = U.lo,
    ys = sb,
    ye = V.exp,
    yh = V.hi,
    yl = V.lo;
  if (ye > xe || (ye === xe && (yh > xh || (yh === xh && yl > xl)))) {
    xs = sb;
    xe = V.exp;
    xh = V.hi;
    xl = V.lo;
    ys = sa;
    ye = U.exp;
    yh = U.hi;
    yl = U.lo;
  }
  // Align y: shift right by d into a 96-bit value with sticky.
  const d = xe - ye;
  let y2 = yh,
    y1 = yl,
    y0 = 0;
  if (d >= 96) {
    y2 = 0;
    y1 = 0;
    y0 = 1;
  } else if (d > 0) {
    let sticky = 0,
      s = d;
    while (s >= 32) {
      if (y0 !== 0) sticky = 1;
      y0 = y1;
      y1 = y2;
      y2 = 0;
      s -= 32;
    }
    if (s > 0) {
      if (y0 << (32 - s) !== 0) sticky = 1;
      y0 = ((y0 >>> s) | (y1 << (32 - s))) >>> 0;
      y1 = ((y1 >>> s) | (y2 << (32 - s))) >>> 0;
      y2 = y2 >>> s;
    }
    y0 = (y0 | sticky) >>> 0;
  }
  let r2: number, r1: number, r0: number;
  let e = xe;
  if (xs === ys) {
    let t = y0; // x has no bits below lo
    r0 = t >>> 0;
    t = xl + y1;
    r1 = t >>> 0;
    t = xh + y2 + (t > 0xffffffff ? 1 : 0);
    r2 = t >>> 0;
    if (t > 0xffffffff) {
      // Carry out: shift right one with sticky.
      const st = r0 & 1;
      r0 = ((r0 >>> 1) | (r1 << 31) | st) >>> 0;
      r1 = ((r1 >>> 1) | (r2 << 31)) >>> 0;
      r2 = ((r2 >>> 1) | 0x80000000) >>> 0;
      e++;
    }
  } else {
    // x - y, x >= y.
    let t = 0 - y0;
    r0 = t >>> 0;
    let borrow = t < 0 ? 1 : 0;
    t = xl - y1 - borrow;
    r1 = t >>> 0;
    borrow = t < 0 ? 1 : 0;
    r2 = (xh - y2 - borrow) >>> 0;
    if (r2 === 0 && r1 === 0 && r0 === 0) {
      setZero(dst, ((cw >>> 10) & 3) === RC_DOWN ? 1 : 0);
      return flags;
    }
    // Normalise left.
    while (r2 === 0) {
      r2 = r1;
      r1 = r0;
      r0 = 0;
      e -= 32;
    }
    const n = Math.clz32(r2);
    if (n > 0) {
      r2 = ((r2 << n) | (r1 >>> (32 - n))) >>> 0;
      r1 = ((r1 << n) | (r0 >>> (32 - n))) >>> 0;
      r0 = (r0 << n) >>> 0;
      e -= n;
    }
  }
  return flags | roundPackExt(dst, xs, e, r2, r1, r0, p, cw);
}

/** FADD: dst = a + b (SDM Vol.2 FADD; Vol.1 4.8.3.9, 8.5). Returns status flags incl. C1. */
export function f80Add(dst: Float80, a: Float80, b: Float80, cw: number): number {
  return addSub(dst, a, b, 0, cw);
}

/** FSUB: dst = a - b (SDM Vol.2 FSUB). Returns status flags incl. C1. */
export function f80Sub(dst: Float80, a: Float80, b: Float80, cw: number): number {
  return addSub(dst, a, b, 1, cw);
}

/** Scratch for the 128-bit product, as 16-bit limbs (least significant first). */
const limb = new Float64Array(8);

/** FMUL: dst = a × b (SDM Vol.2 FMUL). Returns status flags incl. C1. */
export function f80Mul(dst: Float80, a: Float80, b: Float80, cw: number): number {
  const ca = classify(a),
    cb = classify(b);
  const sc = screen2(dst, a, ca, b, cb);
  if (sc >= 0) return sc;
  const flags = ca === CLS_DENORMAL || cb === CLS_DENORMAL ? FE_DENORMAL : 0;
  const s = a.sign ^ b.sign;
  if (ca === CLS_INF || cb === CLS_INF) {
    if (ca === CLS_ZERO || cb === CLS_ZERO) return flags | setIndefinite(dst);
    setInf(dst, s);
    return flags;
  }
  if (ca === CLS_ZERO || cb === CLS_ZERO) {
    setZero(dst, s);
    return flags;
  }
  unpack(a, U);
  unpack(b, V);
  const a0 = U.lo & 0xffff,
    a1 = U.lo >>> 16,
    a2 = U.hi & 0xffff,
    a3 = U.hi >>> 16;
  const b0 = V.lo & 0xffff,
    b1 = V.lo >>> 16,
    b2 = V.hi & 0xffff,
    b3 = V.hi >>> 16;
  limb[0] = a0 * b0;
  limb[1] = a0 * b1 + a1 * b0;
  limb[2] = a0 * b2 + a1 * b1 + a2 * b0;
  limb[3] = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  limb[4] = a1 * b3 + a2 * b2 + a3 * b1;
  limb[5] = a2 * b3 + a3 * b2;
  limb[6] = a3 * b3;
  limb[7] = 0;
  let carry = 0;
  for (let i = 0; i < 8; i++) {
    const t = limb[i] + carry;
    const q = Math.floor(t / 65536);
    limb[i] = t - q * 65536;
    carry = q;
  }
  let w3 = (limb[7] * 65536 + limb[6]) >>> 0,
    w2 = (limb[5] * 65536 + limb[4]) >>> 0,
    w1 = (limb[3] * 65536 + limb[2]) >>> 0,
    w0 = (limb[1] * 65536 + limb[0]) >>> 0;
  let e = U.exp + V.exp - 16383 + 1;
  if (!(w3 & 0x80000000)) {
    w3 = ((w3 << 1) | (w2 >>> 31)) >>> 0;
    w2 = ((w2 << 1) | (w1 >>> 31)) >>> 0;
    w1 = ((w1 << 1) | (w0 >>> 31)) >>> 0;
    w0 = (w0 << 1) >>> 0;
    e--;
  }
  return flags | roundPackExt(dst, s, e, w3, w2, (w1 | (w0 !== 0 ? 1 : 0)) >>> 0, precisionBits(cw), cw);
}

/** FDIV: dst = a ÷ b (SDM Vol.2 FDIV; ZE for finite nonzero ÷ 0). Returns status flags incl. C1. */
export function f80Div(dst: Float80, a: Float80, b: Float80, cw: number): number {
  const ca = classify(a),
    cb = classify(b);
  const sc = screen2(dst, a, ca, b, cb);
  if (sc >= 0) return sc;
  const flags = ca === CLS_DENORMAL || cb === CLS_DENORMAL ? FE_DENORMAL : 0;
  const s = a.sign ^ b.sign;
  if (ca === CLS_INF) {
    if (cb === CLS_INF) return flags | setIndefinite(dst);
    setInf(dst, s);
    return flags;
  }
  if (cb === CLS_INF) {
    setZero(dst, s);
    return flags;
  }
  if (cb === CLS_ZERO) {
    if (ca === CLS_ZERO) return flags | setIndefinite(dst);
    setInf(dst, s);
    return FE_ZERODIVIDE; // silicon reports ZE without DE for denormal ÷ 0
  }
  if (ca === CLS_ZERO) {
    setZero(dst, s);
    return flags;
  }
  unpack(a, U);
  unpack(b, V);
  const dh = V.hi,
    dl = V.lo;
  let rc = 0,
    rh = U.hi,
    rl = U.lo;
  let e = U.exp - V.exp + 16383;
  if (rh < dh || (rh === dh && rl < dl)) {
    rc = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = (rl << 1) >>> 0;
    e--;
  }
  // Restoring division: 66 quotient bits (64 + 2 guard) and a sticky bit from the remainder.
  let q2 = 0,
    q1 = 0,
    q0 = 0;
  for (let i = 0; i < 66; i++) {
    if (rc || rh > dh || (rh === dh && rl >= dl)) {
      const t = rl - dl;
      rl = t >>> 0;
      rh = (rh - dh - (t < 0 ? 1 : 0)) >>> 0;
      rc = 0;
      if (i < 32) q2 |= 1 << (31 - i);
      else if (i < 64) q1 |= 1 << (63 - i);
      else q0 |= 1 << (95 - i);
    }
    rc = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = (rl << 1) >>> 0;
  }
  if (rc || rh || rl) q0 |= 1;
  return flags | roundPackExt(dst, s, e, q2 >>> 0, q1 >>> 0, q0 >>> 0, precisionBits(cw), cw);
}

/** FSQRT: dst = √a (SDM Vol.2 FSQRT; √-0 = -0, negative nonzero → IE). Returns status flags incl. C1. */
export function f80Sqrt(dst: Float80, a: Float80, cw: number): number {
  const ca = classify(a);
  if (ca === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (ca === CLS_QNAN || ca === CLS_SNAN) return propagateNaN(dst, a, ca, null, 0);
  if (ca === CLS_ZERO) {
    dst.copy(a);
    return 0;
  }
  if (a.sign) return setIndefinite(dst); // silicon reports IE without DE here
  const flags = ca === CLS_DENORMAL ? FE_DENORMAL : 0;
  if (ca === CLS_INF) {
    dst.copy(a);
    return flags;
  }
  unpack(a, U);
  const ue = U.exp - 16383;
  const odd = ue & 1;
  const mh = U.hi,
    ml = U.lo;
  // Digit-by-digit square root of N = M·2^(67+odd) (132 bits), two radicand bits per step;
  // root Q has 66 bits (1 integer + 65 fraction bits of the result).
  let r2 = 0,
    r1 = 0,
    r0 = 0,
    q2 = 0,
    q1 = 0,
    q0 = 0;
  const mbit = (k: number): number => {
    const i = k - 67 - odd;
    if (i < 0 || i > 63) return 0;
    return i >= 32 ? (mh >>> (i - 32)) & 1 : (ml >>> i) & 1;
  };
  for (let j = 0; j < 66; j++) {
    const pair = (mbit(131 - 2 * j) << 1) | mbit(130 - 2 * j);
    // r = (r << 2) | pair
    r2 = ((r2 << 2) | (r1 >>> 30)) >>> 0;
    r1 = ((r1 << 2) | (r0 >>> 30)) >>> 0;
    r0 = ((r0 << 2) | pair) >>> 0;
    // t = (q << 2) | 1
    const t2 = ((q2 << 2) | (q1 >>> 30)) >>> 0,
      t1 = ((q1 << 2) | (q0 >>> 30)) >>> 0,
      t0 = ((q0 << 2) | 1) >>> 0;
    // q <<= 1
    q2 = ((q2 << 1) | (q1 >>> 31)) >>> 0;
    q1 = ((q1 << 1) | (q0 >>> 31)) >>> 0;
    q0 = (q0 << 1) >>> 0;
    if (r2 > t2 || (r2 === t2 && (r1 > t1 || (r1 === t1 && r0 >= t0)))) {
      let t = r0 - t0;
      r0 = t >>> 0;
      let bw = t < 0 ? 1 : 0;
      t = r1 - t1 - bw;
      r1 = t >>> 0;
      bw = t < 0 ? 1 : 0;
      r2 = (r2 - t2 - bw) >>> 0;
      q0 = (q0 | 1) >>> 0;
    }
  }
  // Q (66 bits, top bit at 2^65) → 96-bit normalised: shift left by 30.
  const hi = ((q2 << 30) | (q1 >>> 2)) >>> 0,
    lo = ((q1 << 30) | (q0 >>> 2)) >>> 0,
    ext = ((q0 << 30) | (r2 || r1 || r0 ? 1 : 0)) >>> 0;
  const e = ((ue - odd) >> 1) + 16383;
  return flags | roundPackExt(dst, 0, e, hi, lo, ext, precisionBits(cw), cw);
}
