/**
 * float80-conv.ts - conversions between the 80-bit extended format and float32/float64 bit
 * patterns (FLD/FST m32/m64), two's-complement integers (FILD/FIST/FISTP/FISTTP m16/m32/m64)
 * and 18-digit packed BCD (FBLD/FBSTP m80). Intel SDM Vol.1 4.2.1/4.2.2 (formats), 4.7 (BCD),
 * 4.8.3.7 (indefinites), 8.2 (loads/stores), Vol.2 instruction pages. No BigInt: 64-bit
 * integers are hi/lo uint32 halves and BCD digits are produced by hi/lo division by 10.
 */

import {
  CLS_INF,
  CLS_QNAN,
  CLS_SNAN,
  CLS_UNSUPPORTED,
  CLS_ZERO,
  FE_DENORMAL,
  FE_INVALID,
  FE_PRECISION,
  FSW_C1,
  Float80,
  K,
  R,
  S,
  U,
  classify,
  clz64,
  roundBits,
  roundPack,
  setZero,
  shr96,
  unpack,
} from "./float80-core.js";

/** A 64-bit two's-complement integer or raw bit pattern as unsigned 32-bit halves. */
export interface Int64Parts {
  /** Bits 63..32, unsigned. */
  hi: number;
  /** Bits 31..0, unsigned. */
  lo: number;
}

/** Writes a normalised value for the nonzero unsigned 64-bit integer hi:lo. */
function setUint64(dst: Float80, sign: number, hi: number, lo: number): void {
  if (hi === 0 && lo === 0) {
    setZero(dst, sign);
    return;
  }
  const n = clz64(hi, lo);
  if (n >= 32) {
    hi = (lo << (n - 32)) >>> 0;
    lo = 0;
  } else if (n > 0) {
    hi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    lo = (lo << n) >>> 0;
  }
  dst.set(sign, 16383 + 63 - n, hi, lo);
}

/** FILD m16/m32: dst = v (a signed 32-bit integer); always exact. */
export function f80FromInt32(dst: Float80, v: number): void {
  v |= 0;
  setUint64(dst, v < 0 ? 1 : 0, 0, Math.abs(v) >>> 0);
}

/** FILD m64: dst = the signed 64-bit integer hi:lo (two's complement); always exact. */
export function f80FromInt64(dst: Float80, hi: number, lo: number): void {
  hi >>>= 0;
  lo >>>= 0;
  if (hi & 0x80000000) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    setUint64(dst, 1, hi, lo);
  } else setUint64(dst, 0, hi, lo);
}

/**
 * FIST/FISTP (and FISTTP with RC forced to 3 by the caller): converts a to a signed integer of
 * `bits` (16, 32, 64) rounding per RC. The result is written sign-extended to 64 bits into
 * `out`. NaN, ∞, unsupported or out-of-range → IE and the integer indefinite (most negative
 * value) (SDM Vol.1 4.8.3.7, Table 4-2). Returns IE/PE/C1 flags (no DE: silicon reports none).
 */
export function f80ToInt(a: Float80, bits: 16 | 32 | 64, cw: number, out: Int64Parts): number {
  const ca = classify(a);
  const indefinite = (): number => {
    out.hi = 0xffffffff;
    out.lo = bits === 64 ? 0 : bits === 32 ? 0x80000000 : 0xffff8000;
    if (bits === 64) out.hi = 0x80000000;
    return FE_INVALID;
  };
  if (ca === CLS_UNSUPPORTED || ca === CLS_INF || ca === CLS_QNAN || ca === CLS_SNAN) return indefinite();
  if (ca === CLS_ZERO) {
    out.hi = 0;
    out.lo = 0;
    return 0;
  }
  unpack(a, U);
  const ue = U.exp - 16383;
  if (ue > 63) return indefinite();
  shr96(U.hi, U.lo, 0, 63 - ue);
  roundBits(U.sign, S.w2, S.w1, S.w0, 64, (cw >>> 10) & 3);
  if (K.carry) return indefinite();
  let hi = K.hi,
    lo = K.lo;
  // Range check on the magnitude: at most 2^(bits-1) - 1, or 2^(bits-1) when negative.
  const neg = U.sign !== 0;
  let ok: boolean;
  if (bits === 64) ok = hi < 0x80000000 || (neg && hi === 0x80000000 && lo === 0);
  else {
    const lim = bits === 32 ? 0x80000000 : 0x8000;
    ok = hi === 0 && (lo < lim || (neg && lo === lim));
  }
  if (!ok) return indefinite();
  const f = K.inexact ? (K.up ? FE_PRECISION | FSW_C1 : FE_PRECISION) : 0;
  if (neg) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  out.hi = hi;
  out.lo = lo;
  return f;
}

/**
 * FLD m32: converts float32 bits to extended (exact). SNaN → IE and quieted; denormal → DE
 * (SDM Vol.2 FLD). Returns the flags.
 */
export function f80FromFloat32(dst: Float80, bits: number): number {
  bits >>>= 0;
  const sign = bits >>> 31,
    e = (bits >>> 23) & 0xff,
    f = bits & 0x7fffff;
  if (e === 0xff) {
    if (f === 0) {
      dst.set(sign, 0x7fff, 0x80000000, 0);
      return 0;
    }
    dst.set(sign, 0x7fff, (0xc0000000 | (f << 8)) >>> 0, 0);
    return f & 0x400000 ? 0 : FE_INVALID;
  }
  if (e === 0) {
    if (f === 0) {
      setZero(dst, sign);
      return 0;
    }
    const n = Math.clz32(f) - 8; // leading zeros within the 23-bit fraction, plus the J position
    dst.set(sign, 16383 - 126 - n, (f << (8 + n)) >>> 0, 0);
    return FE_DENORMAL;
  }
  dst.set(sign, e - 127 + 16383, (0x80000000 | (f << 8)) >>> 0, 0);
  return 0;
}

/**
 * FLD m64: converts float64 bits hi:lo to extended (exact). SNaN → IE and quieted;
 * denormal → DE. Returns the flags.
 */
export function f80FromFloat64(dst: Float80, hi: number, lo: number): number {
  hi >>>= 0;
  lo >>>= 0;
  const sign = hi >>> 31,
    e = (hi >>> 20) & 0x7ff,
    fh = hi & 0xfffff;
  // Significand with J at bit 63: fraction (52 bits) shifted left by 11.
  let sh = ((fh << 11) | (lo >>> 21)) >>> 0,
    sl = (lo << 11) >>> 0;
  if (e === 0x7ff) {
    if (fh === 0 && lo === 0) {
      dst.set(sign, 0x7fff, 0x80000000, 0);
      return 0;
    }
    dst.set(sign, 0x7fff, (sh | 0xc0000000) >>> 0, sl);
    return fh & 0x80000 ? 0 : FE_INVALID;
  }
  if (e === 0) {
    if (fh === 0 && lo === 0) {
      setZero(dst, sign);
      return 0;
    }
    const n = clz64(sh, sl);
    if (n >= 32) {
      sh = (sl << (n - 32)) >>> 0;
      sl = 0;
    } else {
      sh = ((sh << n) | (sl >>> (32 - n))) >>> 0;
      sl = (sl << n) >>> 0;
    }
    dst.set(sign, 16383 - 1022 - n, sh, sl);
    return FE_DENORMAL;
  }
  dst.set(sign, e - 1023 + 16383, (sh | 0x80000000) >>> 0, sl);
  return 0;
}

/** Common FST m32/m64 rounding; `p` 24/53, `bias` 127/1023, `emax` 0xFE/0x7FE. Result in R. */
function toNarrow(a: Float80, p: number, bias: number, emax: number, cw: number): number {
  // Silicon raises no DE for an extended denormal source of FST m32/m64.
  unpack(a, U);
  return roundPack(U.sign, U.exp - 16383 + bias, U.hi, U.lo, 0, p, emax, cw);
}

/**
 * FST m32: rounds a to float32 bits with RC (SDM Vol.2 FST). NaN → quieted (IE for SNaN),
 * unsupported → IE and the float32 indefinite 0xFFC00000. Masked overflow/underflow per
 * SDM Vol.1 4.9.1.4/4.9.1.5; with OE/UE unmasked the caller must not store. Returns
 * `{bits, flags}` via `out.lo` (bits) and the return value (flags).
 */
export function f80ToFloat32(a: Float80, cw: number, out: Int64Parts): number {
  const ca = classify(a);
  out.hi = 0;
  switch (ca) {
    case CLS_UNSUPPORTED:
      out.lo = 0xffc00000;
      return FE_INVALID;
    case CLS_QNAN:
    case CLS_SNAN:
      out.lo = ((a.sign << 31) | 0x7fc00000 | ((a.hi >>> 8) & 0x3fffff)) >>> 0;
      return ca === CLS_SNAN ? FE_INVALID : 0;
    case CLS_INF:
      out.lo = ((a.sign << 31) | 0x7f800000) >>> 0;
      return 0;
    case CLS_ZERO:
      out.lo = (a.sign << 31) >>> 0;
      return 0;
  }
  const f = toNarrow(a, 24, 127, 0xfe, cw);
  out.lo = ((a.sign << 31) | (R.exp << 23) | ((R.hi >>> 8) & 0x7fffff)) >>> 0;
  return f;
}

/**
 * FST m64: rounds a to float64 bits (written to out.hi/out.lo) with RC; NaN/∞/unsupported as
 * for {@link f80ToFloat32} (indefinite 0xFFF8000000000000). Returns the flags.
 */
export function f80ToFloat64(a: Float80, cw: number, out: Int64Parts): number {
  const ca = classify(a);
  const s = a.sign << 31;
  switch (ca) {
    case CLS_UNSUPPORTED:
      out.hi = 0xfff80000;
      out.lo = 0;
      return FE_INVALID;
    case CLS_QNAN:
    case CLS_SNAN:
      out.hi = (s | 0x7ff80000 | ((a.hi >>> 11) & 0x7ffff)) >>> 0;
      out.lo = ((a.hi << 21) | (a.lo >>> 11)) >>> 0;
      return ca === CLS_SNAN ? FE_INVALID : 0;
    case CLS_INF:
      out.hi = (s | 0x7ff00000) >>> 0;
      out.lo = 0;
      return 0;
    case CLS_ZERO:
      out.hi = s >>> 0;
      out.lo = 0;
      return 0;
  }
  const f = toNarrow(a, 53, 1023, 0x7fe, cw);
  out.hi = (s | (R.exp << 20) | ((R.hi >>> 11) & 0xfffff)) >>> 0;
  out.lo = ((R.hi << 21) | (R.lo >>> 11)) >>> 0;
  return f;
}

/**
 * FBLD: loads 18-digit packed BCD (10 bytes little-endian, sign in bit 7 of byte 9; SDM
 * Vol.1 4.7, Figure 4-10). Exact; invalid digits are taken at face value (undefined on
 * hardware). Returns flags (always 0).
 */
export function f80FromBcd(dst: Float80, b: ArrayLike<number>, off = 0): number {
  // value = H·10^9 + L with H = digits 17..9 and L = digits 8..0 (both < 10^9).
  let h = 0,
    l = 0;
  for (let k = 17; k >= 0; k--) {
    const byte = b[off + (k >>> 1)];
    const digit = k & 1 ? byte >>> 4 : byte & 15;
    if (k >= 9) h = h * 10 + digit;
    else l = l * 10 + digit;
  }
  // 64-bit H·10^9 + L using 16-bit-limb products (10^9 = 0x3B9ACA00).
  const p0 = h * 0xca00; // < 2^46
  const p1 = h * 0x3b9a; // < 2^44, weight 2^16
  let lo = (p0 % 0x100000000) + (p1 % 0x10000) * 0x10000 + l;
  let hi = Math.floor(p0 / 0x100000000) + Math.floor(p1 / 0x10000);
  hi += Math.floor(lo / 0x100000000);
  lo = lo % 0x100000000;
  setUint64(dst, (b[off + 9] >>> 7) & 1, hi >>> 0, lo >>> 0);
  return 0;
}

/**
 * FBSTP: rounds a to an integer per RC and stores 18-digit packed BCD into `out[off..off+9]`.
 * NaN, ∞, unsupported or |value| ≥ 10^18 → IE and the packed-BCD indefinite
 * FFFF C000 0000 0000 0000h (SDM Vol.1 4.8.3.7, Table 4-3). Returns IE/PE/C1 flags.
 */
export function f80ToBcd(a: Float80, cw: number, out: Uint8Array, off = 0): number {
  const ca = classify(a);
  const indefinite = (): number => {
    for (let i = 0; i < 7; i++) out[off + i] = 0;
    out[off + 7] = 0xc0;
    out[off + 8] = 0xff;
    out[off + 9] = 0xff;
    return FE_INVALID;
  };
  if (ca === CLS_UNSUPPORTED || ca === CLS_INF || ca === CLS_QNAN || ca === CLS_SNAN) return indefinite();
  let hi = 0,
    lo = 0,
    f = 0;
  if (ca !== CLS_ZERO) {
    unpack(a, U);
    const ue = U.exp - 16383;
    if (ue > 59) return indefinite();
    shr96(U.hi, U.lo, 0, 63 - ue);
    roundBits(U.sign, S.w2, S.w1, S.w0, 64, (cw >>> 10) & 3);
    hi = K.hi;
    lo = K.lo;
    // 10^18 - 1 = 0x0DE0B6B3_A763FFFF
    if (hi > 0x0de0b6b3 || (hi === 0x0de0b6b3 && lo > 0xa763ffff)) return indefinite();
    f = K.inexact ? (K.up ? FE_PRECISION | FSW_C1 : FE_PRECISION) : 0;
  }
  for (let i = 0; i < 9; i++) {
    // Two decimal digits per byte: divide hi:lo by 100.
    const qh = Math.floor(hi / 100);
    const rem = hi - qh * 100;
    const t = rem * 0x100000000 + lo; // < 100·2^32 < 2^39: exact
    const ql = Math.floor(t / 100);
    const d = t - ql * 100;
    hi = qh;
    lo = ql;
    out[off + i] = ((Math.floor(d / 10) << 4) | (d % 10)) & 0xff;
  }
  out[off + 9] = a.sign ? 0x80 : 0;
  return f;
}
