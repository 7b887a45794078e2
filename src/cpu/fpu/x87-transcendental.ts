/**
 * x87-transcendental.ts - the x87 transcendental instructions FSIN, FCOS, FSINCOS, FPTAN,
 * FPATAN, F2XM1, FYL2X and FYL2XP1 on 80-bit values (Intel SDM Vol.1 8.3.8-8.3.10 "Transcendental
 * Instructions", Vol.2 instruction pages for the special-operand tables).
 *
 * Method: the exact operand significands are lifted into BigInt fixed point with
 * {@link WORK} fractional bits (≈ 2^-200 relative error after argument reduction), series
 * are summed in that precision (sin/cos Taylor, atan by angle halving + Taylor, atanh series
 * for logarithms, exp series for 2^x), and the result is rounded ONCE to the 64-bit
 * significand with the control word's RC through `roundPackExt` (so OE/UE/PE and C1 are
 * reported like any other arithmetic result). Results are therefore correctly rounded except
 * in astronomically rare hard cases (error < 2^-130 ulp). These instructions are not hot;
 * BigInt is used only here, never in the interpreter's fast paths. PC does not apply
 * (SDM Vol.1 8.1.5.2).
 *
 * Silicon is not correctly rounded, so results differ from it in the last bit. Measured on the
 * build machine's AMD EPYC (31,200 random in-domain operands of F2XM1, FYL2X, FYL2XP1, FPTAN,
 * FPATAN and FSIN, all four RC, against 400-bit mpmath values): silicon's error reaches 0.60 ulp
 * in round-to-nearest and 1.11 ulp in the directed modes (so its value before rounding is off by
 * up to ~0.11 ulp, in either direction); it differs from pinvm by exactly 1 ulp on 0.6% (FSIN)
 * to 2.9% (FYL2XP1) of the operands. No simple model reproduces it: rounding the exact value to
 * an N-bit intermediate (N = 64..79; to nearest, toward zero or away) and then to 64 bits matches
 * silicon no better than correct rounding does. pinvm therefore stays correctly rounded. Outside
 * the SDM's domains the AMD EPYC returns the operand x unchanged with PE for F2XM1 with |x| > 1
 * and FYL2XP1 with x ≤ -1, where this module computes the mathematical value (Intel's behaviour
 * there was not measured); see X87_SILICON_DIFFERS in test/integration/guests.test.ts.
 *
 * Argument reduction of FSIN/FCOS/FSINCOS/FPTAN follows the silicon: the x87 reduces by a
 * 66-bit approximation of π (SDM Vol.1 8.3.10 "Transcendental Instruction Accuracy"),
 * π66 = C90FDAA2 2168C234 C × 2^-66 × 4 (the true π truncated after 66 significand bits;
 * the next bits are 0100..., so truncation equals round-to-nearest). The remainder
 * x − k·π66/2 is formed exactly, then its sine/cosine is computed accurately. Operands with
 * |x| ≥ 2^63 set C2 and are left unchanged.
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
  FE_PRECISION,
  FE_UNDERFLOW,
  FE_ZERODIVIDE,
  FSW_C1,
  FSW_C2,
  Float80,
  classify,
  propagateNaN,
  roundPackExt,
  setIndefinite,
  setInf,
  setZero,
} from "./float80.js";

/** Fractional bits of the fixed-point working precision. */
const WORK = 200;
const ONE = 1n << BigInt(WORK);
const BW = BigInt(WORK);

/** π to 400 bits: 0xC90F...302B × 2^-398 (derived by Machin's formula, see module comment). */
const PI_400 =
  0xc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302bn;
/** π in fixed point (WORK fractional bits). */
const PI_FIX = PI_400 >> BigInt(398 - WORK);
/** π/2 in fixed point. */
const PIO2_FIX = PI_FIX >> 1n;
/** The x87's 66-bit π used for argument reduction: π66 = 0x3243F6A8885A308D3 × 2^-64 ... as integer m × 2^-64 with m = top 66 bits. */
const PI66 = PI_400 >> BigInt(400 - 66); // value = PI66 × 2^-64
/** ln 2 to 400 bits (0xB172...ED2E × 2^-400). */
const LN2_FIX =
  0xb17217f7d1cf79abc9e3b39803f2f6af40f343267298b62d8a0d175b8baafa2be7b876206debac98559552fb4afa1b10ed2en >>
  BigInt(400 - WORK);

/** A real number m × 2^e with m ≥ 0 a BigInt and a separate sign. */
interface Big {
  sign: number;
  m: bigint;
  e: number;
}

function bitLen(m: bigint): number {
  return m === 0n ? 0 : m.toString(2).length;
}

/** Lifts a finite nonzero extended value into m × 2^e (exact). */
function lift(x: Float80): Big {
  const m = (BigInt(x.hi) << 32n) | BigInt(x.lo);
  return { sign: x.sign, m, e: (x.exp === 0 ? 1 : x.exp) - 16383 - 63 };
}

/** Converts m × 2^e to fixed point with WORK fractional bits (truncating). */
function toFix(m: bigint, e: number): bigint {
  const s = e + WORK;
  return s >= 0 ? m << BigInt(s) : m >> BigInt(-s);
}

/**
 * Rounds sign × m × 2^e (m > 0) to the extended format with RC from `cw` into dst.
 * `inexact` forces the sticky bit (the true value lies strictly beyond the computed one in
 * the direction of larger magnitude by less than one unit of m).
 */
function roundBig(dst: Float80, sign: number, m: bigint, e: number, cw: number, inexact = false): number {
  if (m === 0n) {
    setZero(dst, sign);
    return 0;
  }
  const n = bitLen(m);
  let t: bigint;
  let sticky = inexact;
  if (n > 96) {
    const sh = BigInt(n - 96);
    t = m >> sh;
    if (t << sh !== m) sticky = true;
  } else t = m << BigInt(96 - n);
  const hi = Number((t >> 64n) & 0xffffffffn);
  const lo = Number((t >> 32n) & 0xffffffffn);
  const ext = Number(t & 0xffffffffn) | (sticky ? 1 : 0);
  return roundPackExt(dst, sign, e + n - 1 + 16383, hi, lo, ext >>> 0, 64, cw);
}

/** Rounds a signed fixed-point value (WORK fractional bits) scaled by 2^e. */
function roundFix(dst: Float80, v: bigint, e: number, cw: number): number {
  return v < 0n ? roundBig(dst, 1, -v, e - WORK, cw) : roundBig(dst, 0, v, e - WORK, cw);
}

/** u² in fixed point, never 0 for u ≠ 0 (so tiny arguments still perturb the series correctly). */
function sqFix(u: bigint): bigint {
  if (u === 0n) return 0n;
  const r = (u * u) >> BW;
  return r === 0n ? 1n : r;
}

/** sin(r)/r and cos(r) in fixed point for a fixed-point |r| ≤ ~0.8. */
function sinCosSeries(r2: bigint): { s: bigint; c: bigint } {
  // S = Σ (-1)^k r^2k/(2k+1)!, C = Σ (-1)^k r^2k/(2k)!
  let s = ONE,
    c = ONE,
    term = ONE; // r^2k/(2k)!
  for (let k = 1; ; k++) {
    term = (term * r2) >> BW;
    const tc = term / BigInt((2 * k - 1) * (2 * k));
    const ts = tc / BigInt(2 * k + 1);
    term = tc;
    if (tc === 0n) break;
    if (k & 1) {
      c -= tc;
      s -= ts;
    } else {
      c += tc;
      s += ts;
    }
  }
  // Keep the strict inequalities S < 1, C < 1 for r ≠ 0 even when every term underflowed.
  if (r2 !== 0n) {
    if (s === ONE) s -= 1n;
    if (c === ONE) c -= 1n;
  }
  return { s, c };
}

/** Result of a reduced trigonometric evaluation: sin and cos as sign × m × 2^e. */
interface Trig {
  sin: Big;
  cos: Big;
}

/**
 * sin and cos of a finite x with |x| < 2^63, argument-reduced with π66 like the silicon:
 * |x| = k·π66/2 + r exactly, |r| ≤ π66/4, then the quadrant k mod 4 selects ±sin r / ±cos r.
 */
function trig(x: Float80): Trig {
  const a = lift(x);
  // Exact remainder on the common scale 2^L, L = min(e, -65); π66/2 = PI66 × 2^-65.
  const L = Math.min(a.e, -65);
  const X = a.m << BigInt(a.e - L);
  const H = PI66 << BigInt(-65 - L);
  let k = 0n;
  let rm = X;
  if (X > H >> 1n) {
    k = (2n * X + H) / (2n * H); // nearest multiple
    rm = X - k * H;
  }
  const rNeg = rm < 0n ? 1 : 0;
  const rAbs = rNeg ? -rm : rm;
  let r2 = sqFix(toFix(rAbs, L));
  if (r2 === 0n && rAbs !== 0n) r2 = 1n; // r below the fixed-point resolution: still inexact
  const { s, c } = sinCosSeries(r2);
  // sin r = r·S keeps r's full relative precision (r is exact).
  const sinR: Big = { sign: rNeg, m: rAbs * s, e: L - WORK };
  const cosR: Big = { sign: 0, m: c, e: -WORK };
  const neg = (b: Big): Big => ({ sign: b.sign ^ 1, m: b.m, e: b.e });
  let sn: Big, cs: Big;
  switch (Number(k & 3n)) {
    case 0:
      sn = sinR;
      cs = cosR;
      break;
    case 1:
      sn = cosR;
      cs = neg(sinR);
      break;
    case 2:
      sn = neg(sinR);
      cs = neg(cosR);
      break;
    default:
      sn = neg(cosR);
      cs = sinR;
  }
  // sin(−x) = −sin(x), cos(−x) = cos(x)
  if (a.sign) sn = neg(sn);
  return { sin: sn, cos: cs };
}

function roundB(dst: Float80, b: Big, cw: number): number {
  return roundBig(dst, b.sign, b.m, b.e, cw);
}

/** Screens a one-operand trig argument. Returns -1 to continue, else final flags (dst written or C2 set). */
function trigScreen(dst: Float80, x: Float80): number {
  const c = classify(x);
  if (c === CLS_UNSUPPORTED || c === CLS_INF) return setIndefinite(dst);
  if (c === CLS_QNAN || c === CLS_SNAN) return propagateNaN(dst, x, c, null, 0);
  if (c !== CLS_ZERO && x.exp >= 16383 + 63) return FSW_C2; // out of range: operand unchanged
  return -1;
}

/**
 * FSIN (SDM Vol.2 FSIN): dst = sin(x). ±0 → ±0; ±∞ → IE; |x| ≥ 2^63 → C2 = 1 and the
 * caller leaves ST(0) unchanged. Returns status flags (C1 round-up, C2).
 */
export function f80Sin(dst: Float80, x: Float80, cw: number): number {
  const sc = trigScreen(dst, x);
  if (sc >= 0) return sc;
  if (classify(x) === CLS_ZERO) {
    dst.copy(x);
    return 0;
  }
  const de = classify(x) === CLS_DENORMAL ? FE_DENORMAL : 0;
  const t = trig(x);
  return de | roundB(dst, t.sin, cw);
}

/** FCOS (SDM Vol.2 FCOS): dst = cos(x); ±0 → +1 (exact). Same range rules as FSIN. */
export function f80Cos(dst: Float80, x: Float80, cw: number): number {
  const sc = trigScreen(dst, x);
  if (sc >= 0) return sc;
  if (classify(x) === CLS_ZERO) {
    dst.set(0, 16383, 0x80000000, 0);
    return 0;
  }
  const de = classify(x) === CLS_DENORMAL ? FE_DENORMAL : 0;
  return de | roundB(dst, trig(x).cos, cw);
}

/**
 * FSINCOS (SDM Vol.2 FSINCOS): sin into `s`, cos into `c`. Flags of both roundings are
 * merged (C1 from the cosine, which ends on top of the stack).
 */
export function f80SinCos(s: Float80, c: Float80, x: Float80, cw: number): number {
  const sc = trigScreen(s, x);
  if (sc >= 0) {
    c.copy(s);
    return sc;
  }
  if (classify(x) === CLS_ZERO) {
    s.copy(x);
    c.set(0, 16383, 0x80000000, 0);
    return 0;
  }
  const de = classify(x) === CLS_DENORMAL ? FE_DENORMAL : 0;
  const t = trig(x);
  const fs = roundB(s, t.sin, cw);
  const fc = roundB(c, t.cos, cw);
  return de | ((fs | fc) & 0x3f) | (fc & FSW_C1);
}

/** FPTAN (SDM Vol.2 FPTAN): dst = tan(x) (the caller then pushes +1.0). Same range rules as FSIN. */
export function f80Tan(dst: Float80, x: Float80, cw: number): number {
  const sc = trigScreen(dst, x);
  if (sc >= 0) return sc;
  if (classify(x) === CLS_ZERO) {
    dst.copy(x);
    return 0;
  }
  const de = classify(x) === CLS_DENORMAL ? FE_DENORMAL : 0;
  const t = trig(x);
  // tan = sin / cos, quotient with WORK+64 extra bits.
  const q = (t.sin.m << BigInt(WORK + 64)) / t.cos.m;
  return de | roundBig(dst, t.sin.sign ^ t.cos.sign, q | 1n, t.sin.e - t.cos.e - WORK - 64, cw);
}

/** atan(u) for fixed-point 0 ≤ u ≤ 1 (WORK fractional bits), by three angle halvings and Taylor. */
function atanFix(u: bigint): bigint {
  let halvings = 0;
  while (u > ONE >> 3n && halvings < 4) {
    // atan(u) = 2 atan(u / (1 + sqrt(1 + u²)))
    const root = isqrt((ONE + ((u * u) >> BW)) << BW);
    u = (u << BW) / (ONE + root);
    halvings++;
  }
  const u2 = (u * u) >> BW;
  let sum = 0n,
    pow = u;
  for (let k = 0; pow !== 0n; k++) {
    const t = pow / BigInt(2 * k + 1);
    sum += k & 1 ? -t : t;
    pow = (pow * u2) >> BW;
  }
  return sum << BigInt(halvings);
}

/** Integer square root (floor). */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLen(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/**
 * FPATAN (SDM Vol.2 FPATAN, special-operand table): dst = arctan(y/x) with the quadrant of
 * (x, y), in [-π, π]; y = ST(1), x = ST(0). Zero/infinity combinations follow the table.
 */
export function f80Atan(dst: Float80, y: Float80, x: Float80, cw: number): number {
  const cy = classify(y),
    cx = classify(x);
  if (cy === CLS_UNSUPPORTED || cx === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (cy >= CLS_QNAN || cx >= CLS_QNAN) return propagateNaN(dst, x, cx, y, cy);
  const de = cy === CLS_DENORMAL || cx === CLS_DENORMAL ? FE_DENORMAL : 0;
  // Angle as fixed point multiple of π/4 for the exact special cases.
  const piMul = (num: number, den: number): number =>
    de | roundFix(dst, ((PI_FIX * BigInt(num)) / BigInt(den)) * (y.sign ? -1n : 1n), 0, cw);
  if (cy === CLS_ZERO) {
    if (x.sign) return piMul(1, 1);
    setZero(dst, y.sign);
    return de;
  }
  if (cy === CLS_INF) {
    if (cx === CLS_INF) return piMul(x.sign ? 3 : 1, 4);
    return piMul(1, 2);
  }
  if (cx === CLS_INF) {
    if (x.sign) return piMul(1, 1);
    setZero(dst, y.sign);
    return de;
  }
  if (cx === CLS_ZERO) return piMul(1, 2);
  const a = lift(y),
    b = lift(x);
  // q = |y|/|x| = Q × 2^qe with Q having ~WORK+64 bits.
  const Q = (a.m << BigInt(WORK + 64)) / b.m;
  const qe = a.e - b.e - WORK - 64;
  const qBits = bitLen(Q) + qe; // q in [2^(qBits-1), 2^qBits)
  let res: Big;
  if (qBits <= -8) {
    // tiny q: atan(q) = q·(1 - q²/3 + ...), computed relative to q.
    const qFix = toFix(Q, qe); // may lose bits when very tiny, only used for q²
    const q2 = sqFix(qFix);
    let sum = ONE,
      pow = ONE;
    for (let k = 1; ; k++) {
      pow = (pow * q2) >> BW;
      if (pow === 0n) break;
      const t = pow / BigInt(2 * k + 1);
      sum += k & 1 ? -t : t;
    }
    if (sum === ONE) sum -= 1n;
    res = { sign: 0, m: Q * sum, e: qe - WORK };
  } else if (qBits <= 0) {
    res = { sign: 0, m: atanFix(toFix(Q, qe)), e: -WORK };
  } else {
    // q > 1 (or ≥ 1): atan(q) = π/2 − atan(1/q)
    const inv = (b.m << BigInt(WORK + 64)) / a.m; // 1/q × 2^(b.e-a.e-WORK-64)
    const invFix = toFix(inv, b.e - a.e - WORK - 64);
    res = { sign: 0, m: PIO2_FIX - atanFix(invFix), e: -WORK };
  }
  if (x.sign) {
    // θ = π − atan(|y/x|)
    const t = toFix(res.m, res.e);
    res = { sign: 0, m: PI_FIX - t, e: -WORK };
  }
  res.sign = y.sign;
  return de | roundBig(dst, res.sign, res.m, res.e, cw, res.m !== 0n);
}

/** e^z − 1 over z for fixed-point z (|z| ≤ 1): Σ z^k/(k+1)!. */
function expm1OverZ(z: bigint): bigint {
  let sum = ONE,
    term = ONE;
  for (let k = 1; ; k++) {
    term = ((term * z) / BigInt(k + 1)) >> BW;
    if (term === 0n) break;
    sum += term;
  }
  if (sum === ONE && z !== 0n) sum += z > 0n ? 1n : -1n;
  return sum;
}

/**
 * F2XM1 (SDM Vol.2 F2XM1): dst = 2^x − 1 for −1 ≤ x ≤ +1 (outside that range the SDM leaves
 * the result undefined; this computes the mathematical value). ±0 → ±0, +∞ → +∞, −∞ → −1.
 */
export function f80F2xm1(dst: Float80, x: Float80, cw: number): number {
  const c = classify(x);
  if (c === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (c === CLS_QNAN || c === CLS_SNAN) return propagateNaN(dst, x, c, null, 0);
  if (c === CLS_ZERO) {
    dst.copy(x);
    return 0;
  }
  if (c === CLS_INF) {
    if (x.sign) dst.set(1, 16383, 0x80000000, 0);
    else setInf(dst, 0);
    return 0;
  }
  const de = c === CLS_DENORMAL ? FE_DENORMAL : 0;
  const a = lift(x);
  if (a.e >= -63) {
    // |x| ≥ 1: exact for integers, otherwise 2^n·2^f − 1 with n = trunc(x).
    const intPart = a.e >= 0 ? a.m << BigInt(a.e) : a.m >> BigInt(-a.e);
    if (!a.sign && intPart > 16400n) return de | roundBig(dst, 0, 1n, 16400, cw, true);
    if (a.sign && intPart > 100n) return de | roundBig(dst, 1, (1n << 100n) - 1n, -100, cw, true);
    const n = Number(intPart) * (a.sign ? -1 : 1);
    const fracM = a.e >= 0 ? 0n : a.m - (intPart << BigInt(-a.e));
    const f = toFix(fracM, a.e) * (a.sign ? -1n : 1n);
    // 2^f = 1 + z·E(z), z = f ln2
    const z = (f * LN2_FIX) >> BW;
    const p = ONE + ((z * expm1OverZ(z)) >> BW); // 2^f fixed
    // value = p × 2^n − 1
    const scaled = n >= 0 ? (p << BigInt(n)) - ONE : p - (ONE << BigInt(-n));
    const exact = fracM === 0n;
    if (scaled === 0n) {
      setZero(dst, 0);
      return de;
    }
    const neg = scaled < 0n ? 1 : 0;
    const mag = neg ? -scaled : scaled;
    // Silicon reports PE even for the exact results 2^±1 − 1.
    return de | FE_PRECISION | roundBig(dst, neg, mag, (n >= 0 ? 0 : n) - WORK, cw, !exact);
  }
  // |x| < 1: z = x ln2 with relative precision, result z·E(z).
  const zm = a.m * LN2_FIX; // z = zm × 2^(a.e - WORK)
  const zFix = toFix(zm, a.e - WORK) * (a.sign ? -1n : 1n);
  const E = expm1OverZ(zFix);
  return de | roundBig(dst, a.sign, zm * E, a.e - 2 * WORK, cw, true);
}

/** ln(s) for fixed-point s > 0 near [0.5, 2] via 2·atanh((s−1)/(s+1)), result fixed point (signed). */
function lnFix(s: bigint): bigint {
  const u = ((s - ONE) << BW) / (s + ONE);
  return 2n * atanhFix(u);
}

/** atanh(u) for fixed-point |u| ≤ 1/2 by the odd series. */
function atanhFix(u: bigint): bigint {
  const u2 = (u * u) >> BW;
  let sum = 0n,
    pow = u;
  for (let k = 0; pow !== 0n; k++) {
    sum += pow / BigInt(2 * k + 1);
    pow = (pow * u2) >> BW;
  }
  return sum;
}

/** log2 of a finite positive extended value as fixed point, plus whether it is exact. */
function log2Fix(x: Float80): { v: bigint; exact: boolean } {
  const a = lift(x);
  const n = bitLen(a.m);
  const k = a.e + n - 1; // x = s × 2^k, s in [1,2)
  const s = toFix(a.m, 1 - n); // s fixed point
  if (s === ONE) return { v: BigInt(k) << BW, exact: true };
  const l = (lnFix(s) << BW) / LN2_FIX;
  return { v: (BigInt(k) << BW) + l, exact: false };
}

/** Multiplies y (finite nonzero) by a fixed-point value and rounds. */
function mulRound(dst: Float80, y: Float80, v: bigint, exact: boolean, cw: number): number {
  const b = lift(y);
  const neg = v < 0n ? 1 : 0;
  const mag = neg ? -v : v;
  if (mag === 0n) {
    setZero(dst, y.sign ^ neg);
    return 0;
  }
  // Silicon reports PE for every nonzero logarithm result, exact ones (x a power of 2) included;
  // an exact tiny (denormal) result is then reported like any tiny inexact one: masked UE too
  // (SDM Vol.1 4.9.1.5; AMD EPYC: FYL2X of x = 2^-16382, y = 0000:0000000000000123 gives the
  // exact denormal -16382·y with PE and UE).
  const f = roundBig(dst, y.sign ^ neg, b.m * mag, b.e - WORK, cw, !exact);
  const tiny = dst.exp === 0 && cw & FE_UNDERFLOW ? FE_UNDERFLOW : 0;
  return FE_PRECISION | tiny | f;
}

/**
 * FYL2X (SDM Vol.2 FYL2X special-operand table): dst = y × log2(x) with x = ST(0), y = ST(1).
 * x < 0 → IE; x = ±0 with finite nonzero y → ZE and ∓∞·sign(y).
 */
export function f80Yl2x(dst: Float80, y: Float80, x: Float80, cw: number): number {
  const cy = classify(y),
    cx = classify(x);
  if (cy === CLS_UNSUPPORTED || cx === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (cy >= CLS_QNAN || cx >= CLS_QNAN) return propagateNaN(dst, x, cx, y, cy);
  const de = cy === CLS_DENORMAL || cx === CLS_DENORMAL ? FE_DENORMAL : 0;
  if (x.sign && cx !== CLS_ZERO) return de | setIndefinite(dst);
  if (cx === CLS_ZERO) {
    if (cy === CLS_ZERO) return de | setIndefinite(dst);
    setInf(dst, y.sign ^ 1);
    return de | (cy === CLS_INF ? 0 : FE_ZERODIVIDE);
  }
  if (cx === CLS_INF) {
    if (cy === CLS_ZERO) return de | setIndefinite(dst);
    setInf(dst, y.sign);
    return de;
  }
  // finite positive x
  const isOne = x.exp === 16383 && x.hi === 0x80000000 && x.lo === 0;
  if (cy === CLS_INF) {
    if (isOne) return de | setIndefinite(dst);
    setInf(dst, y.sign ^ (x.exp < 16383 ? 1 : 0));
    return de;
  }
  if (cy === CLS_ZERO) {
    setZero(dst, y.sign ^ (x.exp < 16383 ? 1 : 0));
    return de;
  }
  const l = log2Fix(x);
  return de | mulRound(dst, y, l.v, l.exact, cw);
}

/**
 * FYL2XP1 (SDM Vol.2 FYL2XP1): dst = y × log2(x + 1) with x = ST(0), y = ST(1), for
 * |x| < 1 − √2/2 (outside, the SDM leaves the result undefined; this computes the value).
 */
export function f80Yl2xp1(dst: Float80, y: Float80, x: Float80, cw: number): number {
  const cy = classify(y),
    cx = classify(x);
  if (cy === CLS_UNSUPPORTED || cx === CLS_UNSUPPORTED) return setIndefinite(dst);
  if (cy >= CLS_QNAN || cx >= CLS_QNAN) return propagateNaN(dst, x, cx, y, cy);
  const de = cy === CLS_DENORMAL || cx === CLS_DENORMAL ? FE_DENORMAL : 0;
  if (cx === CLS_ZERO) {
    if (cy === CLS_INF) return de | setIndefinite(dst);
    setZero(dst, x.sign ^ y.sign);
    return de;
  }
  if (cx === CLS_INF) {
    if (x.sign || cy === CLS_ZERO) return de | setIndefinite(dst);
    setInf(dst, y.sign);
    return de;
  }
  if (cy === CLS_INF) {
    setInf(dst, y.sign ^ x.sign);
    return de;
  }
  if (cy === CLS_ZERO) {
    setZero(dst, y.sign ^ x.sign);
    return de;
  }
  const a = lift(x);
  const bits = bitLen(a.m) + a.e; // |x| < 2^bits
  if (bits <= -1) {
    // |x| < 1/2: log2(1+x) = 2·atanh(u)/ln2, u = x/(2+x), relative to x.
    const xs = a.sign ? -1n : 1n;
    const denom = (2n << BigInt(-a.e)) + xs * a.m; // (2 + x) × 2^-a.e
    // u = x/(2+x) = a.m / denom, as U × 2^-(WORK+64)
    const sc = WORK + 64 + Math.max(0, -bits);
    const U = (a.m << BigInt(sc)) / denom; // u ≈ U × 2^-sc
    const uFix = toFix(U, -sc);
    const u2 = sqFix(uFix);
    let sum = ONE,
      pow = ONE;
    for (let k = 1; ; k++) {
      pow = (pow * u2) >> BW;
      if (pow === 0n) break;
      sum += pow / BigInt(2 * k + 1);
    }
    if (sum === ONE) sum += 1n;
    // log2(1+x) = 2·U·sum/LN2 × 2^-(WORK+64) (sum has WORK fractional bits, LN2 has WORK)
    const L = (2n * U * sum) / LN2_FIX; // log2(1+x) ≈ L × 2^-sc
    const b = lift(y);
    return de | roundBig(dst, a.sign ^ y.sign, b.m * L, b.e - sc, cw, true);
  }
  // |x| ≥ 1/2: log2 of the exact sum 1 + x.
  const scale = Math.min(a.e, 0);
  const sumM = (1n << BigInt(-scale)) + (a.sign ? -1n : 1n) * (a.m << BigInt(a.e - scale));
  if (sumM < 0n) return de | setIndefinite(dst);
  if (sumM === 0n) {
    setInf(dst, y.sign ^ 1);
    return de | FE_ZERODIVIDE;
  }
  const n = bitLen(sumM);
  const k = n - 1 + scale;
  const s = toFix(sumM, 1 - n);
  const exact = s === ONE;
  const l = exact ? BigInt(k) << BW : (BigInt(k) << BW) + (lnFix(s) << BW) / LN2_FIX;
  return de | mulRound(dst, y, l, exact, cw);
}

/** The x87 load-constant instructions' values (SDM Vol.1 8.3.7 Table 8-x, Vol.2 FLD1/FLDZ/FLDPI...). */
export const enum X87Const {
  One = 0,
  L2T = 1,
  L2E = 2,
  Pi = 3,
  Lg2 = 4,
  Ln2 = 5,
  Zero = 6,
}

/**
 * Significands of the constants as [se, hi, truncated lo, round-up flags]: the 64 bits
 * truncated from the exact value plus whether rounding to nearest goes up. Derived from
 * 400-bit values (π by Machin's formula; ln 2, log2 e, log2 10, log10 2 by series), shown
 * with the two following bits that the x87's 66-bit internal constants carry:
 *   π      = 4000 C90FDAA2 2168C234 |11 00..  → RN up   (…C235), RD/RZ …C234, RU …C235
 *   log2 e = 3FFF B8AA3B29 5C17F0BB |10 11..  → RN up   (…F0BC)
 *   log2 10= 4000 D49A784B CD1B8AFE |01 00..  → RN down (…8AFE), RU …8AFF
 *   log10 2= 3FFD 9A209A84 FBCFF798 |10 00 11 → RN up   (…F799)
 *   ln 2   = 3FFE B17217F7 D1CF79AB |11 ..    → RN up   (…79AC)
 * None of the 66-bit constants is exact, so RU always rounds up and RD/RZ always truncate.
 */
const CONSTS: [number, number, number, boolean][] = [
  [0x3fff, 0x80000000, 0, false],
  [0x4000, 0xd49a784b, 0xcd1b8afe, false],
  [0x3fff, 0xb8aa3b29, 0x5c17f0bb, true],
  [0x4000, 0xc90fdaa2, 0x2168c234, true],
  [0x3ffd, 0x9a209a84, 0xfbcff798, true],
  [0x3ffe, 0xb17217f7, 0xd1cf79ab, true],
  [0, 0, 0, false],
];

/**
 * Writes constant `which` rounded per the RC field of `cw` (SDM Vol.1 8.3.7: rounding
 * control applies to the constants on the Pentium and later). Constants are positive, so
 * RD ≡ RZ. No exception is reported.
 */
export function f80LoadConst(dst: Float80, which: X87Const, cw: number): number {
  const [se, hi, lo, nearestUp] = CONSTS[which];
  dst.set(0, se, hi, lo);
  if (which === X87Const.One || which === X87Const.Zero) return 0;
  const rc = (cw >>> 10) & 3;
  const up = rc === 0 ? nearestUp : rc === 2;
  if (up) dst.lo = (lo + 1) >>> 0; // no constant ends in FFFFFFFF, so no carry
  return 0;
}

/** Flags-only helper for tests: whether a flags value reports an inexact result. */
export function isInexact(flags: number): boolean {
  return (flags & FE_PRECISION) !== 0;
}

/** Reported when an x87 transcendental is given an invalid operand (for completeness). */
export const TRANSCENDENTAL_INVALID = FE_INVALID;
