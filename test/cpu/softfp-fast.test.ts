/**
 * The host-double fast paths of the binary64 SSE arithmetic (src/cpu/sse/softfp.ts: f64Quick
 * inside f64Arith, and the fast paths of f64Compare, intToF64 and f64ToInt) against the exact
 * BigInt paths (`exactF64`): results, MXCSR flags and comparison outcomes must be identical for
 * random and boundary operands (zeros of both signs, denormals, the normal range's ends,
 * infinities, NaNs, values near the fast paths' magnitude limits, exact and inexact cases),
 * under every rounding mode and with DAZ/FTZ. The same for the double arithmetic of compiled
 * code (src/cpu/jit/runtime.ts sd/pd), which must refuse, changing nothing, whatever it does
 * not compute exactly as the handler would.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { SseState } from "../../src/cpu/sse/sse-state.js";
import { pd, sd } from "../../src/cpu/jit/runtime.js";
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
import { Rng } from "../helpers/rng.js";

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

test("compiled code's double arithmetic (jit/runtime.ts sd/pd) agrees with the exact path", () => {
  const r = new Rng(0xfeedf00d);
  const sse = new SseState();
  const x = sse.xmm;
  let taken = 0;
  for (let n = 0; n < 100000; n++) {
    const mx = MODES[r.int(MODES.length)];
    const op = r.int(5) as FpOp;
    const lanes = r.int(2) + 1;
    const before: number[] = [];
    for (let k = 0; k < 8; k++) x[k] = 0;
    for (let l = 0; l < lanes; l++) {
      [x[2 * l], x[2 * l + 1]] = operand(r); // XMM0 lane l: destination
      [x[4 + 2 * l], x[5 + 2 * l]] = operand(r); // XMM1 lane l: source
    }
    sse.mxcsr = mx;
    before.push(...x.subarray(0, 8));
    const ok = lanes === 1 ? sd(sse, op, 0, sse.f64, 2) : pd(sse, op, 0, sse.f64, 2);
    if (!ok) {
      assert.deepEqual(
        [...x.subarray(0, 8), sse.mxcsr],
        [...before, mx],
        "a refused operation changes nothing",
      );
      continue;
    }
    taken++;
    let flags = 0;
    const exp: number[] = [];
    for (let l = 0; l < lanes; l++) {
      FP.flags = 0;
      exactF64.arith(op, before[2 * l], before[2 * l + 1], before[4 + 2 * l], before[5 + 2 * l], mx);
      exp.push(FP.lo | 0, FP.hi | 0);
      flags |= FP.flags;
    }
    assert.equal(flags & ~0x20, 0, `only PE for an accepted operation (op ${op}, ${before.join(" ")})`);
    assert.deepEqual([...x.subarray(0, 2 * lanes)], exp, `op ${op} lanes ${lanes}: ${before.join(" ")}`);
    assert.equal(sse.mxcsr, mx | flags, `MXCSR after op ${op}: ${before.join(" ")}`);
  }
  assert.ok(taken > 20000, `compiled arithmetic covered ${taken} operations`);
});
