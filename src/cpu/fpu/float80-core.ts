/**
 * float80-core.ts - representation, classification and the single rounding routine of the
 * 80-bit x87 extended-precision soft-float (Intel SDM Vol.1 4.2.2, 4.8, 8.2).
 *
 * A value is held as sign (0/1), biased 15-bit exponent and a 64-bit significand with an
 * explicit integer ("J") bit, stored as two unsigned 32-bit halves `hi` (bits 63..32) and `lo`.
 * No BigInt is used. Operations report x87 status-word bits (SDM Vol.1 8.1.3): IE, DE, ZE, OE,
 * UE, PE in bits 0..5 and the condition codes C0 (0x100), C1 (0x200), C2 (0x400), C3 (0x4000).
 *
 * Rounding (SDM Vol.1 4.8.4, 8.1.5.2/8.1.5.3): the x87 control word supplies RC (bits 10-11) and
 * PC (bits 8-9); the masks (bits 0-5) select masked/unmasked responses for overflow/underflow
 * (SDM Vol.1 4.9.1.4, 4.9.1.5, 8.5.4, 8.5.5). Behaviour verified against real x87 silicon:
 * - tininess is detected after rounding (to the precision, with unbounded exponent);
 * - a masked underflow sets UE only when the denormalised result is also inexact;
 * - denormal results are rounded at the fixed PC bit position of the 64-bit register significand;
 * - PC shortens the significand only; the 15-bit exponent range is kept.
 */

/** Invalid-operation exception flag (IE), status word bit 0. */
export const FE_INVALID = 0x01;
/** Denormal-operand exception flag (DE), status word bit 1. */
export const FE_DENORMAL = 0x02;
/** Divide-by-zero exception flag (ZE), status word bit 2. */
export const FE_ZERODIVIDE = 0x04;
/** Overflow exception flag (OE), status word bit 3. */
export const FE_OVERFLOW = 0x08;
/** Underflow exception flag (UE), status word bit 4. */
export const FE_UNDERFLOW = 0x10;
/** Precision (inexact) exception flag (PE), status word bit 5. */
export const FE_PRECISION = 0x20;
/** Condition code C0, status word bit 8. */
export const FSW_C0 = 0x100;
/** Condition code C1 (round-up indicator for arithmetic), status word bit 9 (SDM Vol.1 8.1.3.3). */
export const FSW_C1 = 0x200;
/** Condition code C2, status word bit 10. */
export const FSW_C2 = 0x400;
/** Condition code C3, status word bit 14. */
export const FSW_C3 = 0x4000;

/** Default x87 control word after FINIT: all exceptions masked, PC=64 bits, RC=nearest (SDM Vol.1 8.1.5). */
export const FCW_DEFAULT = 0x037f;
/** Rounding control: round to nearest, ties to even. */
export const RC_NEAREST = 0;
/** Rounding control: round down (toward -infinity). */
export const RC_DOWN = 1;
/** Rounding control: round up (toward +infinity). */
export const RC_UP = 2;
/** Rounding control: round toward zero (truncate). */
export const RC_ZERO = 3;

/** Builds a control word with all exceptions masked from RC (0-3) and PC (0=24, 2=53, 3=64 bits). */
export function makeControlWord(rc: number, pc = 3): number {
  return 0x007f | ((pc & 3) << 8) | ((rc & 3) << 10);
}

/** An 80-bit extended-precision value (SDM Vol.1 4.2.2, Figure 4-3). Mutable; ops write into it. */
export class Float80 {
  /** Sign bit: 0 positive, 1 negative. */
  sign: number;
  /** Biased exponent, 0..0x7FFF (bias 16383). */
  exp: number;
  /** Significand bits 63..32 (bit 63 is the explicit integer bit), unsigned. */
  hi: number;
  /** Significand bits 31..0, unsigned. */
  lo: number;

  /** Creates a value from its fields (default +0). */
  constructor(sign = 0, exp = 0, hi = 0, lo = 0) {
    this.sign = sign;
    this.exp = exp;
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
  }

  /** Sets all fields; returns this. */
  set(sign: number, exp: number, hi: number, lo: number): this {
    this.sign = sign;
    this.exp = exp;
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }

  /** Copies another value into this one; returns this. */
  copy(o: Float80): this {
    this.sign = o.sign;
    this.exp = o.exp;
    this.hi = o.hi;
    this.lo = o.lo;
    return this;
  }

  /** Returns a new copy. */
  clone(): Float80 {
    return new Float80(this.sign, this.exp, this.hi, this.lo);
  }

  /** Sign/exponent word as stored in memory (bits 79..64). */
  get se(): number {
    return (this.sign << 15) | this.exp;
  }

  /** Builds a value from the 16-bit sign/exponent word and significand halves. */
  static fromParts(se: number, hi: number, lo: number): Float80 {
    return new Float80((se >>> 15) & 1, se & 0x7fff, hi, lo);
  }

  /** Parses 20 hex digits "SSSSMMMMMMMMMMMMMMMM" (sign/exponent then significand). */
  static fromHex(s: string): Float80 {
    return Float80.fromParts(
      parseInt(s.slice(0, 4), 16),
      parseInt(s.slice(4, 12), 16),
      parseInt(s.slice(12, 20), 16),
    );
  }

  /** Formats as 20 hex digits (inverse of fromHex). */
  toHex(): string {
    const h = (v: number, n: number): string => v.toString(16).padStart(n, "0");
    return h(this.se, 4) + h(this.hi, 8) + h(this.lo, 8);
  }

  /** Writes the 10-byte little-endian memory image (FSTP m80) into `out` at `off`. */
  toBytes(out: Uint8Array, off = 0): void {
    for (let i = 0; i < 4; i++) {
      out[off + i] = (this.lo >>> (8 * i)) & 0xff;
      out[off + 4 + i] = (this.hi >>> (8 * i)) & 0xff;
    }
    out[off + 8] = this.se & 0xff;
    out[off + 9] = this.se >>> 8;
  }

  /** Reads a 10-byte little-endian memory image (FLD m80; no exceptions, SDM Vol.1 8.2). */
  static fromBytes(b: ArrayLike<number>, off = 0): Float80 {
    const w = (i: number): number =>
      (b[off + i] | (b[off + i + 1] << 8) | (b[off + i + 2] << 16) | (b[off + i + 3] << 24)) >>> 0;
    return Float80.fromParts(b[off + 8] | (b[off + 9] << 8), w(4), w(0));
  }
}

/** Class: ±0. */
export const CLS_ZERO = 0;
/** Class: denormal or pseudo-denormal (exponent 0, nonzero significand; SDM Vol.1 8.2.2). */
export const CLS_DENORMAL = 1;
/** Class: normal finite. */
export const CLS_NORMAL = 2;
/** Class: ±infinity. */
export const CLS_INF = 3;
/** Class: quiet NaN. */
export const CLS_QNAN = 4;
/** Class: signalling NaN. */
export const CLS_SNAN = 5;
/** Class: unsupported encoding (unnormal, pseudo-NaN, pseudo-infinity; SDM Vol.1 8.2.2). */
export const CLS_UNSUPPORTED = 6;

/**
 * Classifies an extended value (SDM Vol.1 Table 8-3). Pseudo-denormals (exp 0, J=1) are
 * reported as denormals: the Pentium and later processors accept them as operands with DE
 * (SDM Vol.1 8.2.2), which real silicon confirms.
 */
export function classify(x: Float80): number {
  const j = x.hi >>> 31;
  if (x.exp === 0x7fff) {
    if (!j) return CLS_UNSUPPORTED;
    if ((x.hi & 0x7fffffff) === 0 && x.lo === 0) return CLS_INF;
    return x.hi & 0x40000000 ? CLS_QNAN : CLS_SNAN;
  }
  if (x.exp === 0) return x.hi === 0 && x.lo === 0 ? CLS_ZERO : CLS_DENORMAL;
  return j ? CLS_NORMAL : CLS_UNSUPPORTED;
}

/** Stores the QNaN floating-point indefinite (sign 1, exp 0x7FFF, 0xC000000000000000; SDM Vol.1 4.8.3.7). */
export function setIndefinite(dst: Float80): number {
  dst.set(1, 0x7fff, 0xc0000000, 0);
  return FE_INVALID;
}

/** Stores ±infinity. */
export function setInf(dst: Float80, sign: number): void {
  dst.set(sign, 0x7fff, 0x80000000, 0);
}

/** Stores ±0. */
export function setZero(dst: Float80, sign: number): void {
  dst.set(sign, 0, 0, 0);
}

/**
 * NaN propagation for one or two operands (SDM Vol.1 4.8.3.5, Table 4-7, 8.5.1.2): any SNaN
 * raises IE; a SNaN is quieted (bit 62 set); a SNaN/QNaN pair yields the QNaN; two NaNs of
 * the same kind yield the one with the larger significand (ties: the first operand). `cb` is ignored when b is null.
 */
export function propagateNaN(dst: Float80, a: Float80, ca: number, b: Float80 | null, cb: number): number {
  let flags = 0;
  if (ca === CLS_SNAN || cb === CLS_SNAN) flags = FE_INVALID;
  const aNaN = ca === CLS_QNAN || ca === CLS_SNAN;
  const bNaN = b !== null && (cb === CLS_QNAN || cb === CLS_SNAN);
  let src: Float80;
  if (aNaN && bNaN && b !== null && ca !== cb) {
    src = ca === CLS_QNAN ? a : b; // SNaN and QNaN: the QNaN wins (Table 4-7)
  } else if (aNaN && bNaN && b !== null) {
    const ah = a.hi | 0x40000000,
      bh = b.hi | 0x40000000;
    src = bh > ah || (bh === ah && b.lo > a.lo) ? b : a;
  } else src = aNaN || b === null ? a : b;
  dst.set(src.sign, 0x7fff, src.hi | 0xc0000000, src.lo);
  return flags;
}

/** Counts leading zeros of the 64-bit value hi:lo (64 when zero). */
export function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/** Output of {@link unpack}: normalised significand (bit 63 set) and unbounded biased exponent. */
export const U = { sign: 0, exp: 0, hi: 0, lo: 0 };
/** Second unpack slot, used by two-operand operations. */
export const V = { sign: 0, exp: 0, hi: 0, lo: 0 };

/**
 * Unpacks a finite nonzero value (normal, denormal or pseudo-denormal) into `out`, normalising
 * the significand; denormals get an exponent below 1 (exp-0 values use effective exponent 1).
 */
export function unpack(x: Float80, out: typeof U): void {
  out.sign = x.sign;
  let hi = x.hi,
    lo = x.lo,
    e = x.exp === 0 ? 1 : x.exp;
  const n = clz64(hi, lo);
  if (n >= 32) {
    hi = lo;
    lo = 0;
    e -= 32;
    const m = n - 32;
    if (m) hi = (hi << m) >>> 0;
    e -= m;
  } else if (n > 0) {
    hi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    lo = (lo << n) >>> 0;
    e -= n;
  }
  out.exp = e;
  out.hi = hi;
  out.lo = lo;
}

/** Output of {@link shr96}: three words (w2 most significant) with sticky bit folded into w0 bit 0. */
export const S = { w2: 0, w1: 0, w0: 0 };

/** Shifts the 96-bit value w2:w1:w0 right by `s` bits, ORing every lost bit into bit 0 (sticky). */
export function shr96(w2: number, w1: number, w0: number, s: number): void {
  if (s <= 0) {
    S.w2 = w2;
    S.w1 = w1;
    S.w0 = w0;
    return;
  }
  if (s >= 96) {
    S.w2 = 0;
    S.w1 = 0;
    S.w0 = w2 !== 0 || w1 !== 0 || w0 !== 0 ? 1 : 0;
    return;
  }
  let sticky = 0;
  while (s >= 32) {
    if (w0 !== 0) sticky = 1;
    w0 = w1;
    w1 = w2;
    w2 = 0;
    s -= 32;
  }
  if (s > 0) {
    if (w0 << (32 - s) !== 0) sticky = 1;
    w0 = ((w0 >>> s) | (w1 << (32 - s))) >>> 0;
    w1 = ((w1 >>> s) | (w2 << (32 - s))) >>> 0;
    w2 = w2 >>> s;
  }
  S.w2 = w2;
  S.w1 = w1;
  S.w0 = (w0 | sticky) >>> 0;
}

/** Output of {@link roundBits}. */
export const K = { hi: 0, lo: 0, carry: 0, inexact: false, up: false };

/**
 * Rounds the 96-bit significand hi:lo:ext to its top `n` bits (1..64) using rounding control
 * `rc` (SDM Vol.1 4.8.4, Table 4-8). Results: K.hi:K.lo (low bits cleared), K.carry (1 when
 * the kept part overflowed to 2^64, then K.hi:K.lo is 0), K.inexact, K.up (magnitude rounded up).
 */
export function roundBits(sign: number, hi: number, lo: number, ext: number, n: number, rc: number): void {
  let kh: number, kl: number, half: number, sticky: boolean, lsb: number;
  if (n >= 64) {
    kh = hi;
    kl = lo;
    half = ext >>> 31;
    sticky = (ext & 0x7fffffff) !== 0;
    lsb = lo & 1;
  } else if (n > 32) {
    const m = 64 - n;
    kh = hi;
    kl = (lo & (0xffffffff << m)) >>> 0;
    half = (lo >>> (m - 1)) & 1;
    sticky = (lo & ((1 << (m - 1)) - 1)) !== 0 || ext !== 0;
    lsb = (lo >>> m) & 1;
  } else if (n === 32) {
    kh = hi;
    kl = 0;
    half = lo >>> 31;
    sticky = (lo & 0x7fffffff) !== 0 || ext !== 0;
    lsb = hi & 1;
  } else {
    const m = 32 - n;
    kh = (hi & (0xffffffff << m)) >>> 0;
    kl = 0;
    half = (hi >>> (m - 1)) & 1;
    sticky = (hi & ((1 << (m - 1)) - 1)) !== 0 || lo !== 0 || ext !== 0;
    lsb = (hi >>> m) & 1;
  }
  const inexact = half !== 0 || sticky;
  let up: boolean;
  switch (rc) {
    case RC_NEAREST:
      up = half !== 0 && (sticky || lsb !== 0);
      break;
    case RC_DOWN:
      up = inexact && sign !== 0;
      break;
    case RC_UP:
      up = inexact && sign === 0;
      break;
    default:
      up = false;
  }
  let carry = 0;
  if (up) {
    if (n > 32) {
      const unit = n >= 64 ? 1 : 2 ** (64 - n);
      const s = kl + unit;
      kl = s >>> 0;
      if (s > 0xffffffff) {
        const t = kh + 1;
        kh = t >>> 0;
        if (t > 0xffffffff) carry = 1;
      }
    } else {
      const t = kh + 2 ** (32 - n);
      kh = t >>> 0;
      if (t > 0xffffffff) carry = 1;
    }
  }
  K.hi = kh;
  K.lo = kl;
  K.carry = carry;
  K.inexact = inexact;
  K.up = up;
}

/** Output of {@link roundPack}: biased exponent in the target format and 64-bit significand. */
export const R = { exp: 0, hi: 0, lo: 0 };

/** Significand precision selected by the PC field (SDM Vol.1 Table 8-2); reserved 01 acts as 64. */
export function precisionBits(cw: number): number {
  const pc = (cw >>> 8) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

/** Bias adjustment applied to unmasked overflow/underflow results in registers (SDM Vol.1 8.5.4). */
const BIAS_ADJUST = 24576;

function overflowResult(sign: number, p: number, emax: number, rc: number): number {
  const toInf = rc === RC_NEAREST || (rc === RC_DOWN && sign !== 0) || (rc === RC_UP && sign === 0);
  if (toInf) {
    R.exp = emax + 1;
    R.hi = 0x80000000;
    R.lo = 0;
    return FE_OVERFLOW | FE_PRECISION | FSW_C1;
  }
  R.exp = emax;
  if (p >= 64) {
    R.hi = 0xffffffff;
    R.lo = 0xffffffff;
  } else if (p > 32) {
    R.hi = 0xffffffff;
    R.lo = (0xffffffff << (64 - p)) >>> 0;
  } else {
    R.hi = (0xffffffff << (32 - p)) >>> 0;
    R.lo = 0;
  }
  return FE_OVERFLOW | FE_PRECISION;
}

function inexactFlags(): number {
  return K.inexact ? (K.up ? FE_PRECISION | FSW_C1 : FE_PRECISION) : 0;
}

/**
 * Rounds a nonzero value sign × (hi:lo:ext / 2^95) × 2^(e - bias) with hi bit 31 set, to `p`
 * significand bits, into a format whose largest finite biased exponent is `emax` (0x7FFE
 * extended, 0x7FE double, 0xFE single). The result is left in {@link R} (denormals have
 * R.exp 0, their significand shifted right, J bit clear). Returns PE/UE/OE/C1 flags.
 * Overflow (SDM Vol.1 4.9.1.4): masked → ∞ or largest finite per RC; unmasked on the extended
 * format → exponent reduced by 24576. Underflow (SDM Vol.1 4.9.1.5): tiny after rounding;
 * masked → denormalised and rounded, UE only if inexact; unmasked → UE, and on the extended
 * format exponent increased by 24576 (memory formats: caller must not store).
 */
export function roundPack(
  sign: number,
  e: number,
  hi: number,
  lo: number,
  ext: number,
  p: number,
  emax: number,
  cw: number,
): number {
  const rc = (cw >>> 10) & 3;
  const isExt = emax === 0x7ffe;
  roundBits(sign, hi, lo, ext, p, rc);
  let ee = e,
    rh = K.hi,
    rl = K.lo;
  if (K.carry) {
    rh = 0x80000000;
    rl = 0;
    ee++;
  }
  if (ee > emax) {
    if (isExt && !(cw & FE_OVERFLOW)) {
      R.exp = ee - BIAS_ADJUST;
      R.hi = rh;
      R.lo = rl;
      return FE_OVERFLOW | inexactFlags();
    }
    return overflowResult(sign, p, emax, rc);
  }
  if (ee >= 1) {
    R.exp = ee;
    R.hi = rh;
    R.lo = rl;
    return inexactFlags();
  }
  // Tiny after rounding.
  if (!(cw & FE_UNDERFLOW) && isExt) {
    R.exp = ee + BIAS_ADJUST;
    R.hi = rh;
    R.lo = rl;
    return FE_UNDERFLOW | inexactFlags();
  }
  const unmaskedUE = cw & FE_UNDERFLOW ? 0 : FE_UNDERFLOW;
  shr96(hi, lo, ext, 1 - e);
  roundBits(sign, S.w2, S.w1, S.w0, p, rc);
  R.hi = K.hi;
  R.lo = K.lo;
  R.exp = K.hi >>> 31;
  return K.inexact ? FE_UNDERFLOW | inexactFlags() : unmaskedUE;
}

/** Rounds as {@link roundPack} into the extended format and stores the result in `dst`. */
export function roundPackExt(
  dst: Float80,
  sign: number,
  e: number,
  hi: number,
  lo: number,
  ext: number,
  p: number,
  cw: number,
): number {
  const f = roundPack(sign, e, hi, lo, ext, p, 0x7ffe, cw);
  dst.set(sign, R.exp, R.hi, R.lo);
  return f;
}
