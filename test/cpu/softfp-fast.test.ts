/**
 * The host-double fast paths of the binary64 SSE arithmetic (src/cpu/sse/softfp.ts: f64Quick
 * inside f64Arith, and the fast paths of f64Compare, intToF64 and f64ToInt) against the exact
 * BigInt paths (`exactF64`): results, MXCSR flags and comparison outcomes must be identical for
 * random and boundary operands (zeros of both signs, denormals, the normal range's ends,
 * infinities, NaNs, values near the fast paths' magnitude limits, exact and inexact cases),
 * under every rounding mode and with DAZ/FTZ.
 */
import test from "node:test";
import assert from "node:assert/strict";
import {
  FP,
  FpOp,
  exactF64,
  f64Arith,
  f64Compare,
  f64Quick,
  f64ToInt,
  intToF64,
} from "../../src/cpu/sse/softfp.js";

/** Deterministic xorshift32. */
class Rng {
  constructor(private s: number) {}
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
}

const view = new DataView(new ArrayBuffer(8));
function bitsOf(d: number): [number, number] {
  view.setFloat64(0, d, true);
  return [view.getUint32(0, true), view.getUint32(4, true)];
}

const SPECIAL = [
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  2.5,
  -2.5,
  3,
  0.1,
  1e-300,
  1e-270,
  1.0000001e-270,
  1e-200,
  2.2250738585072014e-308,
  -2.2250738585072014e-308,
  4.9e-324,
  1e-310,
  1e290,
  9.99e289,
  1e300,
  1.7976931348623157e308,
  Infinity,
  -Infinity,
  NaN,
  2147483647.5,
  -2147483648.5,
  2147483648,
  -2147483649,
  9007199254740991,
  9007199254740992,
  -9007199254740994,
  9.3e18,
  -9.3e18,
  4503599627370495.5,
];

/** A random double operand as [lo, hi]: special values, random exponents, random bits. */
function operand(r: Rng): [number, number] {
  switch (r.int(4)) {
    case 0: {
      const [lo, hi] = bitsOf(SPECIAL[r.int(SPECIAL.length)]);
      return [lo, hi];
    }
    case 1:
      // Small integers and halves (exact results, ties).
      return bitsOf((r.int(2001) - 1000) / (1 << r.int(4)));
    case 2:
      return [r.next(), r.next()];
    default: {
      // Random significand, exponent spread over the whole range (incl. denormal, NaN/inf).
      const e = r.int(2048);
      return [r.next(), (((r.next() & 0x800fffff) | (e << 20)) >>> 0) | 0];
    }
  }
}

const MODES = [0x1f80, 0x1f80 | 0x2000, 0x1f80 | 0x4000, 0x1f80 | 0x6000, 0x1f80 | 0x8040, 0x1f80 & ~0x1000];

test("binary64 fast paths agree with the exact paths", () => {
  const r = new Rng(0x5eed1234);
  let quick = 0;
  for (let n = 0; n < 200000; n++) {
    const [alo, ahi] = operand(r);
    const [blo, bhi] = operand(r);
    const mx = MODES[r.int(MODES.length)];
    const op = r.int(5) as FpOp;
    FP.flags = 0;
    f64Arith(op, alo, ahi, blo, bhi, mx);
    const got = [FP.lo >>> 0, FP.hi >>> 0, FP.flags];
    FP.flags = 0;
    exactF64.arith(op, alo, ahi, blo, bhi, mx);
    const exp = [FP.lo >>> 0, FP.hi >>> 0, FP.flags];
    const what = `op ${op} ${ahi.toString(16)}:${alo.toString(16)} ${bhi.toString(16)}:${blo.toString(16)} mx ${mx.toString(16)}`;
    assert.deepEqual(got, exp, `arith ${what}`);
    view.setUint32(0, alo, true);
    view.setUint32(4, ahi, true);
    const x = view.getFloat64(0, true);
    view.setUint32(0, blo, true);
    view.setUint32(4, bhi, true);
    const y = view.getFloat64(0, true);
    FP.flags = 0;
    if (f64Quick(op, x, y) === f64Quick(op, x, y)) quick++;

    for (const sig of [false, true]) {
      FP.flags = 0;
      const c = f64Compare(alo, ahi, blo, bhi, mx, sig);
      const cf = FP.flags;
      FP.flags = 0;
      assert.deepEqual([c, cf], [exactF64.compare(alo, ahi, blo, bhi, mx, sig), FP.flags], `compare ${what}`);
    }
    for (const bits of [32, 64] as const) {
      for (const trunc of [false, true]) {
        FP.flags = 0;
        f64ToInt(alo, ahi, bits, mx, trunc);
        const gi = [FP.lo >>> 0, FP.hi >>> 0, FP.flags];
        FP.flags = 0;
        exactF64.toInt(alo, ahi, bits, mx, trunc);
        assert.deepEqual(gi, [FP.lo >>> 0, FP.hi >>> 0, FP.flags], `toInt${bits} trunc=${trunc} ${what}`);
      }
    }
    const ilo = r.next() | 0;
    const ihi = r.int(3) === 0 ? r.next() | 0 : r.int(2) === 0 ? ilo >> 31 : (r.next() | 0) >> r.int(32);
    FP.flags = 0;
    intToF64(ilo, ihi, mx);
    const gv = [FP.lo >>> 0, FP.hi >>> 0, FP.flags];
    FP.flags = 0;
    exactF64.intToF64(ilo, ihi, mx);
    assert.deepEqual(
      gv,
      [FP.lo >>> 0, FP.hi >>> 0, FP.flags],
      `intToF64 ${ihi} ${ilo} mx ${mx.toString(16)}`,
    );
  }
  assert.ok(quick > 40000, `the quick path covered ${quick} operations`);
});
