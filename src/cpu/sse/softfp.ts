/**
 * Binary32/binary64 arithmetic for SSE exactly as the hardware does it (SDM Vol.1 4.8
 * "Real Numbers and Floating-Point Formats", 4.9 "Overview of Floating-Point Exceptions",
 * 10.2.3 "MXCSR", 11.5 "SSE, SSE2 and SSE3 Exceptions").
 *
 * Operands and results are raw bit patterns (binary32: one unsigned dword; binary64: lo/hi
 * dwords), never JS numbers, so NaN payloads survive. A fast path uses JS doubles when the
 * rounding mode is round-to-nearest and operands and result are normal, detecting inexact
 * results with error-free transformations (TwoSum; Dekker/Veltkamp TwoProduct). Everything
 * else goes through an exact BigInt slow path that rounds per MXCSR.RC with tininess detected
 * after rounding (verified on silicon: (1-2^-104)*2^-1022 sets PE but not UE), FTZ (tiny
 * results, exact or not, become zero with UE|PE when UM is masked; verified on silicon) and
 * DAZ.
 *
 * NaN rules (SDM Vol.1 4.8.3.5, Table 4-7): an SNaN operand is quieted; if both operands are
 * NaNs the first source wins; invalid operations return the QNaN floating-point indefinite.
 * Denormal-operand flag: set for a denormal operand unless a NaN operand decides the result;
 * x/0 with a denormal x reports only ZE (silicon).
 *
 * Results and the exception flags of the last operation are returned through `FP`.
 */

/** MXCSR exception flag bits (SDM Vol.1 Figure 10-3). */
export const MX_IE = 0x01;
/** Denormal operand. */
export const MX_DE = 0x02;
/** Divide by zero. */
export const MX_ZE = 0x04;
/** Overflow. */
export const MX_OE = 0x08;
/** Underflow. */
export const MX_UE = 0x10;
/** Precision (inexact). */
export const MX_PE = 0x20;
/** Denormals-are-zeros. */
export const MX_DAZ = 0x40;
/** Flush-to-zero. */
export const MX_FTZ = 0x8000;

/** Result registers of the last operation: `lo` (binary32 result or low dword), `hi`, and OR-ed `flags`. */
export const FP = { lo: 0, hi: 0, flags: 0 };

/** Operation selectors. */
export const enum FpOp {
  Add = 0,
  Sub = 1,
  Mul = 2,
  Div = 3,
  Sqrt = 4,
}

/** A binary floating-point format. */
interface Fmt {
  p: number; // precision incl. hidden bit
  emin: number;
  emax: number;
  ebits: number;
  fracMask: bigint;
  expMax: number; // all-ones exponent field
  signBit: bigint;
  quiet: bigint;
  indefinite: bigint;
}

function fmt(p: number, ebits: number): Fmt {
  const emax = (1 << (ebits - 1)) - 1;
  const total = BigInt(p + ebits);
  return {
    p,
    emin: 1 - emax,
    emax,
    ebits,
    fracMask: (1n << BigInt(p - 1)) - 1n,
    expMax: (1 << ebits) - 1,
    signBit: 1n << (total - 1n),
    quiet: 1n << BigInt(p - 2),
    indefinite: (((1n << BigInt(ebits + 2)) - 1n) << BigInt(p - 2)) | 0n,
  };
}

/** binary32. */
const F32 = fmt(24, 8);
/** binary64. */
const F64 = fmt(53, 11);

const CLS_ZERO = 0;
const CLS_DENORM = 1;
const CLS_NORMAL = 2;
const CLS_INF = 3;
const CLS_QNAN = 4;
const CLS_SNAN = 5;

function classOf(f: Fmt, v: bigint): number {
  const e = Number((v >> BigInt(f.p - 1)) & BigInt(f.expMax));
  const frac = v & f.fracMask;
  if (e === 0) return frac === 0n ? CLS_ZERO : CLS_DENORM;
  if (e === f.expMax) {
    if (frac === 0n) return CLS_INF;
    return frac & f.quiet ? CLS_QNAN : CLS_SNAN;
  }
  return CLS_NORMAL;
}

/** Unpacked finite value: (-1)^sign * m * 2^e. */
interface Unp {
  sign: number;
  m: bigint;
  e: number;
}

function unpack(f: Fmt, v: bigint): Unp {
  const sign = v & f.signBit ? 1 : 0;
  const ef = Number((v >> BigInt(f.p - 1)) & BigInt(f.expMax));
  const frac = v & f.fracMask;
  if (ef === 0) return { sign, m: frac, e: f.emin - (f.p - 1) };
  return { sign, m: frac | (1n << BigInt(f.p - 1)), e: ef - (1 - f.emin) - (f.p - 1) };
}

function bitLen(m: bigint): number {
  return m === 0n ? 0 : m.toString(2).length;
}

/** Rounding control from MXCSR: 0 nearest, 1 down, 2 up, 3 toward zero. */
function rcOf(mx: number): number {
  return (mx >> 13) & 3;
}

/**
 * Round (-1)^sign * (m + sticky) * 2^e to format `f` per `mx` (RC, FTZ, UM/OM masks), OR-ing
 * flags into FP.flags. `sticky` means nonzero bits exist below 2^e.
 */
function roundPack(f: Fmt, sign: number, m: bigint, e: number, sticky: boolean, mx: number): bigint {
  const sgn = sign ? f.signBit : 0n;
  if (m === 0n && !sticky) return sgn;
  const rc = rcOf(mx);
  if (m === 0n) {
    m = 1n; // only sticky bits: a value far below the rounding point
    e -= 4 * f.p;
  }
  // Keep at least two bits below the unbounded rounding point so `sticky` never needs shifting in.
  let n = bitLen(m);
  if (n < f.p + 2) {
    const sh = f.p + 2 - n;
    m <<= BigInt(sh);
    e -= sh;
    n += sh;
  }
  const E = n - 1 + e;
  const roundAt = (lsb: number): [bigint, boolean] => {
    const k = lsb - e;
    if (k <= 0) return [m << BigInt(-k), sticky];
    const kb = BigInt(k);
    let q = m >> kb;
    const rem = m & ((1n << kb) - 1n);
    const half = 1n << (kb - 1n);
    const inexact = rem !== 0n || sticky;
    let up = false;
    if (inexact) {
      if (rc === 0) up = rem > half || (rem === half && (sticky || (q & 1n) === 1n));
      else if (rc === 1) up = sign === 1;
      else if (rc === 2) up = sign === 0;
    }
    if (up) q += 1n;
    return [q, inexact];
  };
  const unbLsb = E - f.p + 1;
  const [qu, inexU] = roundAt(unbLsb);
  // Overflow (no gradual overflow: bounded and unbounded rounding agree above emin).
  const eAfter = qu >> BigInt(f.p) ? E + 1 : E;
  if (eAfter > f.emax) {
    FP.flags |= MX_OE | MX_PE;
    const toInf = rc === 0 || (rc === 1 && sign === 1) || (rc === 2 && sign === 0);
    const expField = BigInt(f.expMax) << BigInt(f.p - 1);
    return sgn | (toInf ? expField : expField - 1n);
  }
  const tiny = E < f.emin && !(E === f.emin - 1 && qu >> BigInt(f.p) !== 0n);
  if (tiny) {
    const umMasked = (mx & (MX_UE << 7)) !== 0;
    if (umMasked && mx & MX_FTZ) {
      FP.flags |= MX_UE | MX_PE;
      return sgn;
    }
    const lsb = f.emin - f.p + 1;
    const [q, inex] = roundAt(lsb);
    if (inex) FP.flags |= MX_UE | MX_PE;
    else if (!umMasked) FP.flags |= MX_UE;
    return sgn | q; // q < 2^(p-1) is a denormal; q = 2^(p-1) encodes the smallest normal
  }
  if (inexU) FP.flags |= MX_PE;
  let q = qu;
  let lsb = unbLsb;
  if (q >> BigInt(f.p)) {
    q >>= 1n;
    lsb++;
  }
  const biased = BigInt(lsb + f.p - 1 - f.emin); // exponent field minus 1 (hidden bit adds 1)
  return sgn | ((biased << BigInt(f.p - 1)) + q);
}

function quietNaN(f: Fmt, v: bigint): bigint {
  return v | f.quiet;
}

/** NaN propagation for two operands (Table 4-7); returns null when neither is a NaN. */
function nanResult(f: Fmt, a: bigint, ca: number, b: bigint, cb: number): bigint | null {
  const an = ca >= CLS_QNAN;
  const bn = cb >= CLS_QNAN;
  if (!an && !bn) return null;
  if (ca === CLS_SNAN || cb === CLS_SNAN) FP.flags |= MX_IE;
  return quietNaN(f, an ? a : b);
}

function daz(f: Fmt, v: bigint, c: number, mx: number): [bigint, number] {
  if (c !== CLS_DENORM) return [v, c];
  if (mx & MX_DAZ) return [v & f.signBit, CLS_ZERO];
  return [v, c];
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLen(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Exact slow path for ADD/SUB/MUL/DIV/SQRT on format `f`. */
function slowOp(f: Fmt, op: FpOp, a: bigint, b: bigint, mx: number): bigint {
  let ca = classOf(f, a);
  let cb = classOf(f, b);
  if (op === FpOp.Sqrt) {
    // SQRT has one source (b).
    if (cb >= CLS_QNAN) {
      if (cb === CLS_SNAN) FP.flags |= MX_IE;
      return quietNaN(f, b);
    }
    [b, cb] = daz(f, b, cb, mx);
    const neg = (b & f.signBit) !== 0n;
    if (cb === CLS_ZERO) return b;
    if (neg) {
      FP.flags |= MX_IE; // no DE for a negative denormal (silicon)
      return f.indefinite;
    }
    if (cb === CLS_DENORM) FP.flags |= MX_DE;
    if (cb === CLS_INF) return b;
    const u = unpack(f, b);
    let m = u.m;
    let e = u.e;
    let s = Math.max(0, 2 * (f.p + 3) - bitLen(m));
    if ((e - s) & 1) s++;
    m <<= BigInt(s);
    e -= s;
    const r = isqrt(m);
    return roundPack(f, 0, r, e / 2, r * r !== m, mx);
  }
  const nan = nanResult(f, a, ca, b, cb);
  if (nan !== null) return nan;
  [a, ca] = daz(f, a, ca, mx);
  [b, cb] = daz(f, b, cb, mx);
  const sa = a & f.signBit ? 1 : 0;
  let sb = b & f.signBit ? 1 : 0;
  if (op === FpOp.Sub) {
    sb ^= 1;
    b ^= f.signBit;
  }
  const infBits = BigInt(f.expMax) << BigInt(f.p - 1);
  const den = ca === CLS_DENORM || cb === CLS_DENORM;
  if (op === FpOp.Add || op === FpOp.Sub) {
    if (ca === CLS_INF || cb === CLS_INF) {
      if (den) FP.flags |= MX_DE;
      if (ca === CLS_INF && cb === CLS_INF && sa !== sb) {
        FP.flags |= MX_IE;
        return f.indefinite;
      }
      return ca === CLS_INF ? a : b;
    }
    if (den) FP.flags |= MX_DE;
    if (ca === CLS_ZERO && cb === CLS_ZERO) {
      if (sa === sb) return a;
      return rcOf(mx) === 1 ? f.signBit : 0n;
    }
    const ua = unpack(f, a);
    const ub = unpack(f, b);
    const e = Math.min(ua.e, ub.e);
    const ma = (sa ? -ua.m : ua.m) << BigInt(ua.e - e);
    const mb = (sb ? -ub.m : ub.m) << BigInt(ub.e - e);
    const sum = ma + mb;
    if (sum === 0n) return rcOf(mx) === 1 ? f.signBit : 0n;
    return roundPack(f, sum < 0n ? 1 : 0, sum < 0n ? -sum : sum, e, false, mx);
  }
  const sign = sa ^ sb;
  const sgn = sign ? f.signBit : 0n;
  if (op === FpOp.Mul) {
    if ((ca === CLS_INF && cb === CLS_ZERO) || (ca === CLS_ZERO && cb === CLS_INF)) {
      FP.flags |= MX_IE;
      return f.indefinite;
    }
    if (den) FP.flags |= MX_DE;
    if (ca === CLS_INF || cb === CLS_INF) return sgn | infBits;
    if (ca === CLS_ZERO || cb === CLS_ZERO) return sgn;
    const ua = unpack(f, a);
    const ub = unpack(f, b);
    return roundPack(f, sign, ua.m * ub.m, ua.e + ub.e, false, mx);
  }
  // Division.
  if ((ca === CLS_INF && cb === CLS_INF) || (ca === CLS_ZERO && cb === CLS_ZERO)) {
    FP.flags |= MX_IE;
    return f.indefinite;
  }
  if (cb === CLS_ZERO && ca !== CLS_INF) {
    FP.flags |= MX_ZE;
    return sgn | infBits;
  }
  if (den) FP.flags |= MX_DE;
  if (ca === CLS_INF) return sgn | infBits;
  if (cb === CLS_INF || ca === CLS_ZERO) return sgn;
  const ua = unpack(f, a);
  const ub = unpack(f, b);
  const s = Math.max(0, f.p + 3 + bitLen(ub.m) - bitLen(ua.m));
  const num = ua.m << BigInt(s);
  const q = num / ub.m;
  return roundPack(f, sign, q, ua.e - ub.e - s, num % ub.m !== 0n, mx);
}

// ------------------------------------------------------------------ fast path helpers

const SPLIT = 134217729; // 2^27 + 1 (Veltkamp)

/** Error of a*b (exact when no intermediate over/underflow): a*b - fl(a*b). */
function twoProdErr(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/** Error of a+b: a+b - fl(a+b) (Knuth TwoSum). */
function twoSumErr(a: number, b: number, s: number): number {
  const bb = s - a;
  return a - (s - bb) + (b - bb);
}

const cvt = new DataView(new ArrayBuffer(8));

function f32Val(bits: number): number {
  cvt.setUint32(0, bits, true);
  return cvt.getFloat32(0, true);
}
function f32Bits(v: number): number {
  cvt.setFloat32(0, v, true);
  return cvt.getUint32(0, true);
}
function f64Val(lo: number, hi: number): number {
  cvt.setUint32(0, lo, true);
  cvt.setUint32(4, hi, true);
  return cvt.getFloat64(0, true);
}
function setF64(v: number): void {
  cvt.setFloat64(0, v, true);
  FP.lo = cvt.getUint32(0, true);
  FP.hi = cvt.getUint32(4, true);
}

/** Normal (not zero/denormal/inf/NaN) binary32 bit pattern. */
function normal32(bits: number): boolean {
  const e = (bits >>> 23) & 0xff;
  return e !== 0 && e !== 0xff;
}

const MIN32 = 1.1754943508222875e-38; // 2^-126
const MIN64 = 2.2250738585072014e-308; // 2^-1022
const MAX32 = 3.4028234663852886e38;

function fast32(op: FpOp, a: number, b: number): number {
  // returns bits or -1 when the fast path does not apply
  if (!normal32(b) || (op !== FpOp.Sqrt && !normal32(a))) return -1;
  const x = f32Val(a);
  const y = f32Val(b);
  let d: number;
  let inexact: boolean;
  switch (op) {
    case FpOp.Add:
    case FpOp.Sub: {
      const yy = op === FpOp.Sub ? -y : y;
      d = x + yy;
      const r = Math.fround(d);
      inexact = r !== d || twoSumErr(x, yy, d) !== 0;
      d = r;
      break;
    }
    case FpOp.Mul: {
      const p = x * y;
      d = Math.fround(p);
      inexact = d !== p;
      break;
    }
    case FpOp.Div:
      d = Math.fround(x / y);
      inexact = d * y !== x;
      break;
    default:
      if (y < 0) return -1;
      d = Math.fround(Math.sqrt(y));
      inexact = d * d !== y;
      break;
  }
  const m = Math.abs(d);
  if (!(m > MIN32 && m <= MAX32)) return -1;
  if (inexact) FP.flags |= MX_PE;
  return f32Bits(d);
}

/** Operand magnitudes at or above this take the exact path (no overflow in the error terms). */
const QUICK_BIG = 1e290;
/** Products and quotients at or below this take the exact path (their error terms stay normal). */
const QUICK_TINY = 1e-270;

/**
 * binary64 `x op y` (SQRT: of y) on JS doubles, for the cases where the hardware result is
 * the IEEE round-to-nearest one and the only possible flag is PE: both operands zero or
 * normal and below 1e290 in magnitude; a result that is an exact zero or normal (ADD/SUB),
 * above 1e-270 (MUL/DIV/SQRT, whose inexactness is then decided exactly by TwoProduct; a
 * zero operand gives an exact signed zero, x/0 is left out). Returns NaN when the case is
 * not covered — the caller then takes the exact path — and otherwise the result, with MX_PE
 * OR-ed into FP.flags when it is inexact. The caller must have checked MXCSR.RC = nearest;
 * DAZ and FTZ never matter here (no denormal operand, no tiny result). Shared by the SSE
 * handlers and compiled code (jit/runtime.ts).
 */
export function f64Quick(op: FpOp, x: number, y: number): number {
  const ay = Math.abs(y);
  if (!(ay >= MIN64 && ay < QUICK_BIG) && y !== 0) return NaN; // NaN, infinity, denormal, huge
  if (op === FpOp.Sqrt) {
    if (y === 0) return y; // sqrt(±0) = ±0, exact
    if (y < 0 || ay <= QUICK_TINY) return NaN;
    const d = Math.sqrt(y);
    const p = d * d;
    if (p !== y || twoProdErr(d, d, p) !== 0) FP.flags |= MX_PE;
    return d;
  }
  const ax = Math.abs(x);
  if (!(ax >= MIN64 && ax < QUICK_BIG) && x !== 0) return NaN;
  switch (op) {
    case FpOp.Add:
    case FpOp.Sub: {
      const yy = op === FpOp.Sub ? -y : y;
      const d = x + yy;
      if (d === 0) return d; // an exact zero (x = -yy, or two zeros): IEEE's sign rules
      if (!(Math.abs(d) >= MIN64)) return NaN; // tiny: UE rules
      if (twoSumErr(x, yy, d) !== 0) FP.flags |= MX_PE;
      return d;
    }
    case FpOp.Mul: {
      const d = x * y;
      if (x === 0 || y === 0) return d; // ±0, exact
      const ad = Math.abs(d);
      if (!(ad > QUICK_TINY && ad < QUICK_BIG)) return NaN;
      if (twoProdErr(x, y, d) !== 0) FP.flags |= MX_PE;
      return d;
    }
    default: {
      if (y === 0) return NaN; // ZE or IE
      const d = x / y;
      if (x === 0) return d; // ±0, exact
      const ad = Math.abs(d);
      if (!(ad > QUICK_TINY && ad < QUICK_BIG) || ax <= QUICK_TINY || ay <= QUICK_TINY) return NaN;
      const p = d * y;
      if (p !== x || twoProdErr(d, y, p) !== 0) FP.flags |= MX_PE;
      return d;
    }
  }
}

function fast64(op: FpOp, alo: number, ahi: number, blo: number, bhi: number): boolean {
  const d = f64Quick(op, f64Val(alo, ahi), f64Val(blo, bhi));
  if (d !== d) return false;
  setF64(d);
  return true;
}

function big64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
function setBig64(v: bigint): void {
  FP.lo = Number(v & 0xffffffffn);
  FP.hi = Number(v >> 32n);
}

/** binary32 `a op b` (SQRT: of b); returns the result bits, flags OR-ed into FP.flags. */
export function f32Arith(op: FpOp, a: number, b: number, mx: number): number {
  a >>>= 0;
  b >>>= 0;
  if ((mx & 0x6000) === 0) {
    const r = fast32(op, a, b);
    if (r >= 0) return r;
  }
  return Number(slowOp(F32, op, BigInt(a), BigInt(b), mx));
}

/** binary64 `a op b` (SQRT: of b); result in FP.lo/FP.hi, flags OR-ed into FP.flags. */
export function f64Arith(op: FpOp, alo: number, ahi: number, blo: number, bhi: number, mx: number): void {
  if ((mx & 0x6000) === 0 && fast64(op, alo >>> 0, ahi >>> 0, blo >>> 0, bhi >>> 0)) return;
  setBig64(slowOp(F64, op, big64(alo, ahi), big64(blo, bhi), mx));
}

// ------------------------------------------------------------------ compare / min / max

/** Compare result: 0 equal, 1 less, 2 greater, 3 unordered. */
export const enum Cmp {
  Eq = 0,
  Lt = 1,
  Gt = 2,
  Un = 3,
}

function cmpGeneric(f: Fmt, a: bigint, b: bigint, mx: number, signalQnan: boolean): Cmp {
  let ca = classOf(f, a);
  let cb = classOf(f, b);
  if (ca >= CLS_QNAN || cb >= CLS_QNAN) {
    if (signalQnan || ca === CLS_SNAN || cb === CLS_SNAN) FP.flags |= MX_IE;
    return Cmp.Un;
  }
  if (ca === CLS_DENORM || cb === CLS_DENORM) {
    if (mx & MX_DAZ) {
      [a, ca] = daz(f, a, ca, mx);
      [b, cb] = daz(f, b, cb, mx);
    } else FP.flags |= MX_DE;
  }
  const key = (v: bigint, c: number): bigint => {
    if (c === CLS_ZERO) return 0n;
    const mag = v & ~f.signBit;
    return v & f.signBit ? -mag : mag;
  };
  const ka = key(a, ca);
  const kb = key(b, cb);
  return ka === kb ? Cmp.Eq : ka < kb ? Cmp.Lt : Cmp.Gt;
}

/** Compare binary32 a with b; `signalQnan` for COMISS / ordered-signalling predicates. */
export function f32Compare(a: number, b: number, mx: number, signalQnan: boolean): Cmp {
  return cmpGeneric(F32, BigInt(a >>> 0), BigInt(b >>> 0), mx, signalQnan);
}

/** Compare binary64 a with b. */
export function f64Compare(
  alo: number,
  ahi: number,
  blo: number,
  bhi: number,
  mx: number,
  signalQnan: boolean,
): Cmp {
  const x = f64Val(alo, ahi);
  const y = f64Val(blo, bhi);
  // No NaN and no denormal (DE/DAZ): the host's comparison, with -0 = +0.
  if ((Math.abs(x) >= MIN64 || x === 0) && (Math.abs(y) >= MIN64 || y === 0))
    return x === y ? Cmp.Eq : x < y ? Cmp.Lt : Cmp.Gt;
  return cmpGeneric(F64, big64(alo, ahi), big64(blo, bhi), mx, signalQnan);
}

/**
 * Predicate `pred` (0-7: EQ LT LE UNORD NEQ NLT NLE ORD, SDM Vol.2 CMPPS Table 3-7) of a and b
 * given their comparison; also raises IE for QNaNs with the signalling predicates.
 */
export function cmpPredicate(c: Cmp, pred: number): boolean {
  switch (pred & 7) {
    case 0:
      return c === Cmp.Eq;
    case 1:
      return c === Cmp.Lt;
    case 2:
      return c === Cmp.Lt || c === Cmp.Eq;
    case 3:
      return c === Cmp.Un;
    case 4:
      return c !== Cmp.Eq;
    case 5:
      return c !== Cmp.Lt;
    case 6:
      return !(c === Cmp.Lt || c === Cmp.Eq);
    default:
      return c !== Cmp.Un;
  }
}

/** True for the predicates that signal on QNaN operands (LT, LE, NLT, NLE). */
export function predSignals(pred: number): boolean {
  const p = pred & 3;
  return p === 1 || p === 2;
}

/**
 * MINSS/MAXSS semantics (SDM Vol.2 MINPS): returns true when the result is the FIRST source.
 * If either is a NaN (IE raised) or both are zero, the second source is returned.
 */
export function f32MinMaxFirst(a: number, b: number, mx: number, isMax: boolean): boolean {
  const c = f32Compare(a, b, mx, true);
  if (c === Cmp.Un) return false;
  return isMax ? c === Cmp.Gt : c === Cmp.Lt;
}

/** binary64 MIN/MAX selection (see f32MinMaxFirst). */
export function f64MinMaxFirst(
  alo: number,
  ahi: number,
  blo: number,
  bhi: number,
  mx: number,
  isMax: boolean,
): boolean {
  const c = f64Compare(alo, ahi, blo, bhi, mx, true);
  if (c === Cmp.Un) return false;
  return isMax ? c === Cmp.Gt : c === Cmp.Lt;
}

// ------------------------------------------------------------------ conversions

/** binary32 → binary64 (CVTSS2SD): exact; SNaN quieted with IE; denormal → DE (or 0 with DAZ). */
export function f32ToF64(a: number, mx: number): void {
  a >>>= 0;
  const c = classOf(F32, BigInt(a));
  const sign = a >>> 31;
  if (c >= CLS_QNAN) {
    if (c === CLS_SNAN) FP.flags |= MX_IE;
    const frac = a & 0x3fffff;
    FP.hi = ((sign << 31) | 0x7ff80000 | (frac >>> 3)) >>> 0;
    FP.lo = (frac << 29) >>> 0;
    return;
  }
  if (c === CLS_DENORM) {
    if (mx & MX_DAZ) {
      FP.lo = 0;
      FP.hi = (sign << 31) >>> 0;
      return;
    }
    FP.flags |= MX_DE;
  }
  setF64(f32Val(a));
}

/** binary64 → binary32 (CVTSD2SS), rounded per MXCSR; returns bits. */
export function f64ToF32(lo: number, hi: number, mx: number): number {
  const v = big64(lo, hi);
  let c = classOf(F64, v);
  const sign = hi >>> 31;
  if (c >= CLS_QNAN) {
    if (c === CLS_SNAN) FP.flags |= MX_IE;
    return ((sign << 31) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29)) >>> 0;
  }
  if (c === CLS_DENORM) {
    if (mx & MX_DAZ) c = CLS_ZERO;
    else FP.flags |= MX_DE;
  }
  if (c === CLS_ZERO) return (sign << 31) >>> 0;
  if (c === CLS_INF) return ((sign << 31) | 0x7f800000) >>> 0;
  const u = unpack(F64, v);
  return Number(roundPack(F32, u.sign, u.m, u.e, false, mx));
}

/** Signed integer → binary32 (CVTSI2SS / CVTDQ2PS); `hi` is the high dword for 64-bit sources (signed). */
export function intToF32(lo: number, hi: number, mx: number): number {
  const v = (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
  const s = v < 0n ? 1 : 0;
  return Number(roundPack(F32, s, s ? -v : v, 0, false, mx));
}

/** Signed integer → binary64 (CVTSI2SD / CVTDQ2PD); result in FP.lo/hi. */
export function intToF64(lo: number, hi: number, mx: number): void {
  if (hi >= -2097152 && hi < 2097152) {
    // |v| < 2^53: exact in a double (no rounding, no flags).
    setF64(hi * 4294967296 + (lo >>> 0));
    return;
  }
  intToF64Exact(lo, hi, mx);
}

function intToF64Exact(lo: number, hi: number, mx: number): void {
  const v = (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
  const s = v < 0n ? 1 : 0;
  setBig64(roundPack(F64, s, s ? -v : v, 0, false, mx));
}

function toInt(f: Fmt, v: bigint, bits: number, mx: number, truncate: boolean): void {
  const c = classOf(f, v);
  const indef = (): void => {
    FP.flags |= MX_IE;
    FP.lo = bits === 32 ? 0x80000000 : 0;
    FP.hi = bits === 32 ? 0 : 0x80000000;
  };
  if (c >= CLS_INF) return indef();
  if (c === CLS_ZERO || (c === CLS_DENORM && mx & MX_DAZ)) {
    FP.lo = FP.hi = 0;
    return;
  }
  // Conversions to integer report only IE and PE (SDM Vol.2 CVTSS2SI "SIMD Floating-Point Exceptions").
  const u = unpack(f, v);
  let q: bigint;
  let inexact: boolean;
  if (u.e >= 0) {
    q = u.m << BigInt(u.e);
    inexact = false;
  } else {
    const k = BigInt(-u.e);
    q = u.m >> k;
    const rem = u.m & ((1n << k) - 1n);
    inexact = rem !== 0n;
    const half = 1n << (k - 1n);
    const rc = truncate ? 3 : rcOf(mx);
    let up = false;
    if (inexact) {
      if (rc === 0) up = rem > half || (rem === half && (q & 1n) === 1n);
      else if (rc === 1) up = u.sign === 1;
      else if (rc === 2) up = u.sign === 0;
    }
    if (up) q += 1n;
  }
  const r = u.sign ? -q : q;
  const lim = 1n << BigInt(bits - 1);
  if (r >= lim || r < -lim) return indef();
  if (inexact) FP.flags |= MX_PE;
  const w = BigInt.asUintN(64, r);
  FP.lo = Number(w & 0xffffffffn);
  FP.hi = Number(w >> 32n);
}

/** binary32 → int32/int64 (CVTSS2SI, CVTTSS2SI, CVTPS2DQ): result in FP.lo/hi, integer indefinite on overflow/NaN. */
export function f32ToInt(a: number, bits: 32 | 64, mx: number, truncate: boolean): void {
  toInt(F32, BigInt(a >>> 0), bits, mx, truncate);
}

/** binary64 → int32/int64 (CVTSD2SI, CVTTSD2SI, CVTPD2DQ): result in FP.lo/hi. */
export function f64ToInt(lo: number, hi: number, bits: 32 | 64, mx: number, truncate: boolean): void {
  const x = f64Val(lo, hi);
  const ax = Math.abs(x);
  if ((ax >= MIN64 && ax < 9007199254740992) || x === 0) {
    // Normal or zero below 2^53 (no NaN, infinity or denormal): round on the host.
    const rc = truncate ? 3 : rcOf(mx);
    let r: number;
    if (rc === 3) r = Math.trunc(x);
    else if (rc === 1) r = Math.floor(x);
    else if (rc === 2) r = Math.ceil(x);
    else {
      r = Math.round(x); // ties toward +infinity; ties-to-even below
      if (r - x === 0.5 && r % 2 !== 0) r -= 1;
    }
    if (bits === 64 || (r >= -2147483648 && r <= 2147483647)) {
      if (r !== x) FP.flags |= MX_PE;
      FP.lo = r >>> 0;
      FP.hi = Math.floor(r / 4294967296) >>> 0;
      return;
    }
  }
  toInt(F64, big64(lo, hi), bits, mx, truncate);
}

function roundInt(f: Fmt, v: bigint, mode: number, mx: number): bigint {
  // ROUNDSS/SD (SDM Vol.2 ROUNDPS): imm8[2] selects MXCSR.RC, imm8[3] suppresses PE.
  let c = classOf(f, v);
  if (c >= CLS_QNAN) {
    if (c === CLS_SNAN) FP.flags |= MX_IE;
    return quietNaN(f, v);
  }
  if (c === CLS_DENORM && mx & MX_DAZ) {
    v &= f.signBit; // ROUNDxx reports only IE and PE (SDM Vol.2 ROUNDPS)
    c = CLS_ZERO;
  }
  if (c === CLS_ZERO || c === CLS_INF) return v;
  const u = unpack(f, v);
  if (u.e >= 0) return v;
  const rc = mode & 4 ? rcOf(mx) : mode & 3;
  const k = BigInt(-u.e);
  let q = u.m >> k;
  const rem = u.m & ((1n << k) - 1n);
  const half = 1n << (k - 1n);
  let up = false;
  if (rem !== 0n) {
    if (!(mode & 8)) FP.flags |= MX_PE;
    if (rc === 0) up = rem > half || (rem === half && (q & 1n) === 1n);
    else if (rc === 1) up = u.sign === 1;
    else if (rc === 2) up = u.sign === 0;
  }
  if (up) q += 1n;
  if (q === 0n) return u.sign ? f.signBit : 0n;
  const saved = FP.flags;
  const r = roundPack(f, u.sign, q, 0, false, 0x1f80);
  FP.flags = saved;
  return r;
}

/** ROUNDSS: round binary32 to an integral value per imm8 `mode`. */
export function f32RoundInt(a: number, mode: number, mx: number): number {
  return Number(roundInt(F32, BigInt(a >>> 0), mode, mx));
}

/** ROUNDSD: round binary64 to an integral value; result in FP.lo/hi. */
export function f64RoundInt(lo: number, hi: number, mode: number, mx: number): void {
  setBig64(roundInt(F64, big64(lo, hi), mode, mx));
}

/** True when binary32 bits are a NaN. */
export function isNaN32(a: number): boolean {
  return (a & 0x7f800000) === 0x7f800000 && (a & 0x7fffff) !== 0;
}

/**
 * The exact (BigInt) paths of the binary64 operations that have a fast path on host doubles,
 * for tests that compare the two: same arguments and FP outputs as f64Arith, f64Compare,
 * intToF64 and f64ToInt.
 */
export const exactF64 = {
  arith(op: FpOp, alo: number, ahi: number, blo: number, bhi: number, mx: number): void {
    setBig64(slowOp(F64, op, big64(alo, ahi), big64(blo, bhi), mx));
  },
  compare(alo: number, ahi: number, blo: number, bhi: number, mx: number, signalQnan: boolean): Cmp {
    return cmpGeneric(F64, big64(alo, ahi), big64(blo, bhi), mx, signalQnan);
  },
  intToF64: intToF64Exact,
  toInt(lo: number, hi: number, bits: 32 | 64, mx: number, truncate: boolean): void {
    toInt(F64, big64(lo, hi), bits, mx, truncate);
  },
};
