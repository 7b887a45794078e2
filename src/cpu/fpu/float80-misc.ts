/**
 * float80-misc.ts - x87 comparison (FCOM/FUCOM), FRNDINT, FSCALE, FXTRACT and the partial
 * remainders FPREM/FPREM1 on 80-bit values (Intel SDM Vol.1 8.1.3 condition codes, 8.3.6
 * comparison, 8.3.10 FPREM/FPREM1; Vol.2 instruction pages for the special-operand tables).
 * None of these is affected by precision control (SDM Vol.1 8.1.5.2): results round to 64 bits.
 * Results (where any) are exact except FRNDINT/FSCALE rounding; no BigInt is used.
 */

import {
  CLS_DENORMAL,
  CLS_INF,
  CLS_QNAN,
  CLS_SNAN,
  CLS_UNSUPPORTED,
  CLS_ZERO,
  FE_DENORMAL,
  FE_INVALID,
  FE_ZERODIVIDE,
  FSW_C0,
  FSW_C1,
  FSW_C2,
  FSW_C3,
  Float80,
  S,
  K,
  U,
  V,
  classify,
  clz64,
  propagateNaN,
  roundBits,
  roundPackExt,
  setIndefinite,
  setInf,
  setZero,
  shr96,
  unpack,
} from "./float80-core.js";

/** Compare result condition codes (C3,C2,C0; SDM Vol.1 Table 8-6): a > b. */
export const CMP_GREATER = 0;
/** Compare result: a < b (C0). */
export const CMP_LESS = FSW_C0;
/** Compare result: a = b (C3). */
export const CMP_EQUAL = FSW_C3;
/** Compare result: unordered (C3, C2, C0). */
export const CMP_UNORDERED = FSW_C3 | FSW_C2 | FSW_C0;
/** Mask of the condition-code bits written by comparisons. */
export const CMP_MASK = FSW_C3 | FSW_C2 | FSW_C0;

/**
 * FCOM (`ordered` = true: any NaN → IE) / FUCOM (only SNaN → IE) of a with b. Unsupported
 * encodings → IE and unordered; denormal operands → DE. Returns flags with the C3/C2/C0
 * result bits (CMP_*) set; C1 is 0 (SDM Vol.2 FCOM/FUCOM).
 */
export function f80Compare(a: Float80, b: Float80, ordered: boolean): number {
  const ca = classify(a),
    cb = classify(b);
  if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) return CMP_UNORDERED | FE_INVALID;
  if (ca >= CLS_QNAN || cb >= CLS_QNAN) {
    return CMP_UNORDERED | (ordered || ca === CLS_SNAN || cb === CLS_SNAN ? FE_INVALID : 0);
  }
  const flags = ca === CLS_DENORMAL || cb === CLS_DENORMAL ? FE_DENORMAL : 0;
  if (ca === CLS_ZERO && cb === CLS_ZERO) return flags | CMP_EQUAL;
  const c = cmpFinite(a, ca, b, cb);
  return flags | (c < 0 ? CMP_LESS : c > 0 ? CMP_GREATER : CMP_EQUAL);
}

/** Signed comparison of non-NaN values (at most one zero); returns -1, 0, 1. */
function cmpFinite(a: Float80, ca: number, b: Float80, cb: number): number {
  if (a.sign !== b.sign) {
    if (ca === CLS_ZERO) return b.sign ? 1 : -1;
    return a.sign ? -1 : 1;
  }
  let m: number;
  if (ca === CLS_ZERO) m = -1;
  else if (cb === CLS_ZERO) m = 1;
  else if (ca === CLS_INF || cb === CLS_INF) m = ca === cb ? 0 : ca === CLS_INF ? 1 : -1;
  else {
    unpack(a, U);
    unpack(b, V);
    m =
      U.exp !== V.exp
        ? U.exp > V.exp
          ? 1
          : -1
        : U.hi !== V.hi
          ? U.hi > V.hi
            ? 1
            : -1
          : U.lo !== V.lo
            ? U.lo > V.lo
              ? 1
              : -1
            : 0;
  }
  return a.sign ? -m : m;
}

/** Writes a normalised value from an integer significand hi:lo (nonzero) at exponent e of bit 63. */
function packInt(dst: Float80, sign: number, hi: number, lo: number, e: number): void {
  const n = clz64(hi, lo);
  if (n >= 32) {
    hi = (lo << (n - 32)) >>> 0;
    lo = 0;
  } else if (n > 0) {
    hi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    lo = (lo << n) >>> 0;
  }
  dst.set(sign, e - n, hi, lo);
}

/**
 * FRNDINT: rounds a to an integral value using RC (PC does not apply; SDM Vol.2 FRNDINT).
 * Returns PE/C1/DE/IE flags.
 */
export function f80RoundInt(dst: Float80, a: Float80, cw: number): number {
  const ca = classify(a);
  if (ca === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (ca === CLS_QNAN || ca === CLS_SNAN) return propagateNaN(dst, a, ca, null, 0);
  if (ca === CLS_ZERO || ca === CLS_INF) {
    dst.copy(a);
    return 0;
  }
  const flags = ca === CLS_DENORMAL ? FE_DENORMAL : 0;
  unpack(a, U);
  const ue = U.exp - 16383;
  if (ue >= 63) {
    dst.set(U.sign, U.exp, U.hi, U.lo);
    return flags;
  }
  shr96(U.hi, U.lo, 0, 63 - ue);
  roundBits(U.sign, S.w2, S.w1, S.w0, 64, (cw >>> 10) & 3);
  const f = flags | (K.inexact ? (K.up ? 0x20 | FSW_C1 : 0x20) : 0);
  if (K.carry) dst.set(U.sign, 16383 + 64, 0x80000000, 0);
  else if (K.hi === 0 && K.lo === 0) setZero(dst, U.sign);
  else packInt(dst, U.sign, K.hi, K.lo, 16383 + 63);
  return f;
}

/**
 * FSCALE: dst = a × 2^trunc(b) (SDM Vol.2 FSCALE table), rounded to 64 bits with RC.
 * Returns status flags (IE, DE, OE, UE, PE, C1).
 */
export function f80Scale(dst: Float80, a: Float80, b: Float80, cw: number): number {
  const ca = classify(a),
    cb = classify(b);
  if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (ca >= CLS_QNAN || cb >= CLS_QNAN) return propagateNaN(dst, a, ca, b, cb);
  const flags = ca === CLS_DENORMAL || cb === CLS_DENORMAL ? FE_DENORMAL : 0;
  if (cb === CLS_INF) {
    if (b.sign === 0) {
      if (ca === CLS_ZERO) return flags | setIndefinite(dst);
      setInf(dst, a.sign);
    } else {
      if (ca === CLS_INF) return flags | setIndefinite(dst);
      setZero(dst, a.sign);
    }
    return flags;
  }
  if (ca === CLS_ZERO || ca === CLS_INF) {
    dst.copy(a);
    return flags;
  }
  // n = trunc(b), clamped (any |n| beyond 2^17 overflows/underflows anyway).
  let n = 0;
  if (cb !== CLS_ZERO) {
    unpack(b, V);
    const ue = V.exp - 16383;
    if (ue > 20) n = 1 << 20;
    else if (ue >= 0) n = V.hi >>> (31 - ue);
    if (V.sign) n = -n;
  }
  unpack(a, U);
  return flags | roundPackExt(dst, U.sign, U.exp + n, U.hi, U.lo, 0, 64, cw);
}

/** Writes the small integer v (|v| < 2^31) as an exact extended value. */
function setSmallInt(dst: Float80, v: number): void {
  if (v === 0) {
    setZero(dst, 0);
    return;
  }
  const s = v < 0 ? 1 : 0;
  const m = Math.abs(v) >>> 0;
  const n = Math.clz32(m);
  dst.set(s, 16383 + 31 - n, (m << n) >>> 0, 0);
}

/**
 * FXTRACT: splits a into significand `sig` (same sign, exponent 0 i.e. value in [1,2)) and
 * unbiased exponent `expo` (SDM Vol.2 FXTRACT): ±0 → ZE, expo = -∞, sig = ±0; ±∞ → expo = +∞.
 */
export function f80Extract(sig: Float80, expo: Float80, a: Float80): number {
  const ca = classify(a);
  if (ca === CLS_UNSUPPORTED) {
    setIndefinite(expo);
    return setIndefinite(sig);
  }
  if (ca === CLS_QNAN || ca === CLS_SNAN) {
    propagateNaN(expo, a, ca, null, 0);
    return propagateNaN(sig, a, ca, null, 0);
  }
  if (ca === CLS_ZERO) {
    setInf(expo, 1);
    sig.copy(a);
    return FE_ZERODIVIDE;
  }
  if (ca === CLS_INF) {
    setInf(expo, 0);
    sig.copy(a);
    return 0;
  }
  unpack(a, U);
  setSmallInt(expo, U.exp - 16383);
  sig.set(U.sign, 16383, U.hi, U.lo);
  return ca === CLS_DENORMAL ? FE_DENORMAL : 0;
}

/**
 * FPREM (`ieee` = false: quotient truncated) / FPREM1 (`ieee` = true: quotient rounded to
 * nearest-even) partial remainder of a by b (SDM Vol.1 8.3.10, Vol.2 FPREM/FPREM1). When the
 * exponent difference D is < 64 the exact remainder is returned with C2 = 0 and the low three
 * quotient bits in C0 (Q2), C3 (Q1), C1 (Q0); otherwise a partial reduction by
 * 2^(D-N), N = 32 + ((D-32) mod 32) (as measured on silicon), is performed and C2 = 1.
 */
export function f80Rem(dst: Float80, a: Float80, b: Float80, cw: number, ieee: boolean): number {
  const ca = classify(a),
    cb = classify(b);
  if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (ca >= CLS_QNAN || cb >= CLS_QNAN) return propagateNaN(dst, a, ca, b, cb);
  if (ca === CLS_INF || cb === CLS_ZERO) return setIndefinite(dst);
  const flags = ca === CLS_DENORMAL || cb === CLS_DENORMAL ? FE_DENORMAL : 0;
  if (ca === CLS_ZERO || cb === CLS_INF) {
    dst.copy(a);
    // A pseudo-denormal dividend (exponent 0, J = 1) comes back as the equal normal, exponent
    // 1 (measured on silicon, AMD EPYC: FPREM/FPREM1 of 0000:8000000000000001 by ±∞ give
    // 0001:8000000000000001, tag valid); a true denormal stays as it is.
    if (dst.exp === 0 && dst.hi >= 0x80000000) dst.exp = 1;
    return flags;
  }
  unpack(a, U);
  unpack(b, V);
  const d = U.exp - V.exp;
  let sign = U.sign;
  if (d < 0) {
    if (ieee && d === -1 && (U.hi > V.hi || (U.hi === V.hi && U.lo > V.lo))) {
      // |a| > |b|/2: r = |b| - |a| = (2B - A) at a's exponent, quotient 1.
      const t = (V.lo << 1) >>> 0;
      let d0 = t - U.lo;
      const lo = d0 >>> 0;
      d0 = ((V.hi << 1) | (V.lo >>> 31)) - U.hi - (d0 < 0 ? 1 : 0);
      const hi = d0 >>> 0;
      packInt(dst, sign ^ 1, hi, lo, U.exp);
      return finishRem(dst, cw, flags | FSW_C1);
    }
    dst.set(U.sign, U.exp, U.hi, U.lo);
    return finishRem(dst, cw, flags);
  }
  const partial = d >= 64;
  const iters = partial ? 32 + ((d - 32) % 32) : d;
  const level = V.exp + (d - iters); // exponent of the remainder's bit 63
  // Long division of A by B producing iters+1 quotient bits; remainder R < B.
  const bh = V.hi,
    bl = V.lo;
  let rc = 0,
    rh = U.hi,
    rl = U.lo,
    q = 0;
  for (let i = 0; i <= iters; i++) {
    q = (q << 1) & 7;
    if (rc || rh > bh || (rh === bh && rl >= bl)) {
      const t = rl - bl;
      rl = t >>> 0;
      rh = (rh - bh - (t < 0 ? 1 : 0)) >>> 0;
      q |= 1;
    }
    if (i < iters) {
      rc = rh >>> 31;
      rh = ((rh << 1) | (rl >>> 31)) >>> 0;
      rl = (rl << 1) >>> 0;
    }
  }
  if (partial) {
    if (rh === 0 && rl === 0) setZero(dst, sign);
    else packInt(dst, sign, rh, rl, level);
    return finishRem(dst, cw, flags | FSW_C2);
  }
  if (ieee) {
    // Compare 2R with B.
    const r2c = rh >>> 31,
      r2h = ((rh << 1) | (rl >>> 31)) >>> 0,
      r2l = (rl << 1) >>> 0;
    const c = r2c ? 1 : r2h !== bh ? (r2h > bh ? 1 : -1) : r2l !== bl ? (r2l > bl ? 1 : -1) : 0;
    if (c > 0 || (c === 0 && q & 1)) {
      const t = bl - rl;
      rl = t >>> 0;
      rh = (bh - rh - (t < 0 ? 1 : 0)) >>> 0;
      sign ^= 1;
      q = (q + 1) & 7;
    }
  }
  const cc = (q & 4 ? FSW_C0 : 0) | (q & 2 ? FSW_C3 : 0) | (q & 1 ? FSW_C1 : 0);
  if (rh === 0 && rl === 0) setZero(dst, U.sign);
  else packInt(dst, sign, rh, rl, level);
  return finishRem(dst, cw, flags | cc);
}

/** Renormalises an exact remainder that may lie in the denormal range (exact, so no flags when masked). */
function finishRem(dst: Float80, cw: number, flags: number): number {
  if (dst.exp < 1 || dst.exp >= 0x7fff) {
    if (classify(dst) === CLS_ZERO) return flags;
    const e = dst.exp;
    return flags | roundPackExt(dst, dst.sign, e, dst.hi, dst.lo, 0, 64, cw);
  }
  return flags;
}
