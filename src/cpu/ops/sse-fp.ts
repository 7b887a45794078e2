/**
 * SSE/SSE2/SSE3 floating-point instructions (SDM Vol.1 chapters 10-12; Vol.2 entries of each
 * mnemonic): data movement (MOVAPS/MOVUPS/MOVSS/MOVSD/MOVLPS/MOVHPS/MOVLHPS/MOVHLPS and PD
 * forms, MOVMSKPS/PD, MOVNTPS/PD, MOVSLDUP/MOVSHDUP/MOVDDUP), arithmetic (ADD/SUB/MUL/DIV/
 * SQRT/MIN/MAX in PS/PD/SS/SD forms, ADDSUB, HADD/HSUB, RCP/RSQRT), logic (AND/ANDN/OR/XOR
 * PS/PD), compares (CMPxx, COMISS/D, UCOMISS/D), shuffles (SHUFPS/PD, UNPCKL/H PS/PD) and
 * conversions (CVT*). Arithmetic is bit-exact via ../sse/softfp.ts.
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { mandatory, Mandatory, Imm } from "../optable.js";
import { ud } from "../fault.js";
import {
  sseCheck,
  readRm128,
  readRmLow,
  memLinear,
  linWrite128,
  setXmm,
  commitFlags,
  writeMem,
  SRC,
  DST,
} from "../sse/sse-util.js";
import {
  FP,
  FpOp,
  Cmp,
  f32Arith,
  f64Arith,
  f64Quick,
  f32Compare,
  f64Compare,
  cmpPredicate,
  predSignals,
  f32MinMaxFirst,
  f64MinMaxFirst,
  f32ToF64,
  f64ToF32,
  intToF32,
  intToF64,
  f32ToInt,
  f64ToInt,
  MX_DAZ,
} from "../sse/softfp.js";

const { None, P66, PF3, PF2 } = {
  None: Mandatory.None,
  P66: Mandatory.P66,
  PF3: Mandatory.PF3,
  PF2: Mandatory.PF2,
};

// ------------------------------------------------------------------ moves

/** MOVAPS/MOVAPD/MOVUPS/MOVUPD/MOVDQA/MOVDQU/LDDQU load form: xmm ← xmm/m128. */
export function movLoad128(align: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    setXmm(cpu, i.reg, readRm128(cpu, i, align));
  };
}

/** Store form: xmm/m128 ← xmm (MOVAPS/MOVUPS/MOVDQA/MOVDQU/MOVNTPS/MOVNTDQ). */
export function movStore128(align: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const x = cpu.sse.xmm;
    if (i.mod === 3) {
      const s = i.reg << 2;
      const d = i.rm << 2;
      for (let k = 0; k < 4; k++) x[d + k] = x[s + k];
      return;
    }
    linWrite128(cpu, memLinear(cpu, i, 16, true, align ? 16 : 1), x, i.reg << 2);
  };
}

/** MOVSS/MOVSD load: register form merges the low element; memory form zero-extends. */
function movScalarLoad(size: 4 | 8) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    if (i.mod === 3) {
      const s = i.rm << 2;
      x[d] = x[s];
      if (size === 8) x[d + 1] = x[s + 1];
      return;
    }
    const v = readRmLow(cpu, i, size);
    setXmm(cpu, i.reg, v);
  };
}

/** MOVSS/MOVSD store: xmm/m ← low element. */
function movScalarStore(size: 4 | 8) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const x = cpu.sse.xmm;
    const s = i.reg << 2;
    if (i.mod === 3) {
      const d = i.rm << 2;
      x[d] = x[s];
      if (size === 8) x[d + 1] = x[s + 1];
      return;
    }
    writeMem(cpu, i, size, x[s] >>> 0, x[s + 1] >>> 0);
  };
}

/** Store a 64-bit half (`hiHalf`) of xmm.reg to m64 (MOVLPS/MOVHPS/MOVLPD/MOVHPD/MOVQ stores). */
function movHalfStore(hiHalf: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    if (i.mod === 3) ud();
    const x = cpu.sse.xmm;
    const s = (i.reg << 2) + (hiHalf ? 2 : 0);
    writeMem(cpu, i, 8, x[s] >>> 0, x[s + 1] >>> 0);
  };
}

/** 0F 12 (no prefix): MOVLPS xmm, m64 / MOVHLPS xmm, xmm. 66: MOVLPD (memory only). */
function movlps(regForm: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    if (i.mod === 3) {
      if (!regForm) ud();
      const s = i.rm << 2;
      x[d] = x[s + 2];
      x[d + 1] = x[s + 3];
      return;
    }
    const v = readRmLow(cpu, i, 8);
    x[d] = v[0];
    x[d + 1] = v[1];
  };
}

/** 0F 16 (no prefix): MOVHPS xmm, m64 / MOVLHPS xmm, xmm. 66: MOVHPD (memory only). */
function movhps(regForm: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    if (i.mod === 3) {
      if (!regForm) ud();
      const s = i.rm << 2;
      x[d + 2] = x[s];
      x[d + 3] = x[s + 1];
      return;
    }
    const v = readRmLow(cpu, i, 8);
    x[d + 2] = v[0];
    x[d + 3] = v[1];
  };
}

/** MOVSLDUP / MOVSHDUP (SSE3): duplicate even / odd singles. */
function movsdup(odd: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const o = odd ? 1 : 0;
    DST[0] = DST[1] = s[o];
    DST[2] = DST[3] = s[2 + o];
    setXmm(cpu, i.reg, DST);
  };
}

/** MOVDDUP (SSE3): duplicate the low double (m64 source, no alignment). */
function movddup(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRmLow(cpu, i, 8);
  DST[0] = DST[2] = s[0];
  DST[1] = DST[3] = s[1];
  setXmm(cpu, i.reg, DST);
}

/** MOVMSKPS / MOVMSKPD: sign bits to a GPR (zero-extended). */
function movmsk(pd: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    if (i.mod !== 3) ud();
    const x = cpu.sse.xmm;
    const b = i.rm << 2;
    const r = pd
      ? (x[b + 1] >>> 31) | ((x[b + 3] >>> 31) << 1)
      : (x[b] >>> 31) | ((x[b + 1] >>> 31) << 1) | ((x[b + 2] >>> 31) << 2) | ((x[b + 3] >>> 31) << 3);
    cpu.setReg(i.reg, 4, r);
  };
}

// ------------------------------------------------------------------ logic

/** Bitwise AND/ANDN/OR/XOR on 128 bits (PS/PD and the integer PAND/PANDN/POR/PXOR). */
export function logic128(kind: 0 | 1 | 2 | 3) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    for (let k = 0; k < 4; k++) {
      const a = x[d + k];
      x[d + k] = kind === 0 ? a & s[k] : kind === 1 ? ~a & s[k] : kind === 2 ? a | s[k] : a ^ s[k];
    }
  };
}

// ------------------------------------------------------------------ arithmetic

const enum Form {
  PS = 0,
  PD = 1,
  SS = 2,
  SD = 3,
}

/** The source operand of a `form` instruction: the low dword (SS) or qword (SD), or all 128 bits (PS/PD). */
function readFormSrc(cpu: Cpu, i: Instr, form: Form): Int32Array {
  return form === Form.SS
    ? readRmLow(cpu, i, 4)
    : form === Form.SD
      ? readRmLow(cpu, i, 8)
      : readRm128(cpu, i, true);
}

/** SRC and DST as doubles. */
const SRC64 = new Float64Array(SRC.buffer);
const DST64 = new Float64Array(DST.buffer);

/** Copy XMM register `r` into DST. */
function dstFrom(cpu: Cpu, r: number): void {
  const x = cpu.sse.xmm;
  const d = r << 2;
  DST[0] = x[d];
  DST[1] = x[d + 1];
  DST[2] = x[d + 2];
  DST[3] = x[d + 3];
}

/**
 * Elementwise arithmetic a ← a op b for all four forms. Double elements try f64Quick on the
 * host's doubles first (round to nearest; NaN from it means the exact path is needed).
 */
function arith(op: FpOp, form: Form) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readFormSrc(cpu, i, form);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    dstFrom(cpu, i.reg);
    if (form === Form.PS || form === Form.SS) {
      const n = form === Form.PS ? 4 : 1;
      for (let k = 0; k < n; k++) DST[k] = f32Arith(op, x[d + k], s[k], mx);
    } else {
      const n = form === Form.PD ? 2 : 1;
      const xf = cpu.sse.f64;
      const rn = (mx & 0x6000) === 0;
      for (let k = 0; k < n; k++) {
        if (rn) {
          const r = f64Quick(op, xf[(d >> 1) + k], SRC64[k]);
          if (r === r) {
            DST64[k] = r;
            continue;
          }
        }
        f64Arith(op, x[d + 2 * k], x[d + 2 * k + 1], s[2 * k], s[2 * k + 1], mx);
        DST[2 * k] = FP.lo;
        DST[2 * k + 1] = FP.hi;
      }
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

/** MIN/MAX PS/PD/SS/SD: the second operand when unordered or both zero (SDM Vol.2 MINPS). */
function minmax(isMax: boolean, form: Form) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readFormSrc(cpu, i, form);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    dstFrom(cpu, i.reg);
    if (form === Form.PS || form === Form.SS) {
      const n = form === Form.PS ? 4 : 1;
      for (let k = 0; k < n; k++) {
        if (!f32MinMaxFirst(x[d + k], s[k], mx, isMax)) DST[k] = dazBits32(s[k], mx);
        else DST[k] = dazBits32(x[d + k], mx);
      }
    } else {
      const n = form === Form.PD ? 2 : 1;
      for (let k = 0; k < n; k++) {
        const first = f64MinMaxFirst(x[d + 2 * k], x[d + 2 * k + 1], s[2 * k], s[2 * k + 1], mx, isMax);
        const lo = first ? x[d + 2 * k] : s[2 * k];
        const hi = first ? x[d + 2 * k + 1] : s[2 * k + 1];
        const z = mx & MX_DAZ && (hi & 0x7ff00000) === 0;
        DST[2 * k] = z ? 0 : lo;
        DST[2 * k + 1] = z ? hi & 0x80000000 : hi;
      }
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

function dazBits32(v: number, mx: number): number {
  return mx & MX_DAZ && (v & 0x7f800000) === 0 ? v & 0x80000000 : v;
}

/** ADDSUBPS/PD (SSE3): subtract in even elements, add in odd. */
function addsub(pd: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    if (!pd) {
      for (let k = 0; k < 4; k++) DST[k] = f32Arith(k & 1 ? FpOp.Add : FpOp.Sub, x[d + k], s[k], mx);
    } else {
      for (let k = 0; k < 2; k++) {
        f64Arith(k ? FpOp.Add : FpOp.Sub, x[d + 2 * k], x[d + 2 * k + 1], s[2 * k], s[2 * k + 1], mx);
        DST[2 * k] = FP.lo;
        DST[2 * k + 1] = FP.hi;
      }
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

/** HADDPS/HSUBPS/HADDPD/HSUBPD (SSE3): horizontal pairs of dest then source. */
function hop(op: FpOp, pd: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    if (!pd) {
      DST[0] = f32Arith(op, x[d], x[d + 1], mx);
      DST[1] = f32Arith(op, x[d + 2], x[d + 3], mx);
      DST[2] = f32Arith(op, s[0], s[1], mx);
      DST[3] = f32Arith(op, s[2], s[3], mx);
    } else {
      const a0 = x[d],
        a1 = x[d + 1],
        a2 = x[d + 2],
        a3 = x[d + 3];
      const s0 = s[0],
        s1 = s[1],
        s2 = s[2],
        s3 = s[3];
      f64Arith(op, a0, a1, a2, a3, mx);
      DST[0] = FP.lo;
      DST[1] = FP.hi;
      f64Arith(op, s0, s1, s2, s3, mx);
      DST[2] = FP.lo;
      DST[3] = FP.hi;
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

const cv = new DataView(new ArrayBuffer(8));

/**
 * RCPPS/RCPSS/RSQRTPS/RSQRTSS. The architecture only bounds the relative error by
 * 1.5*2^-12 (SDM Vol.2 RCPPS); pinvm returns the correctly rounded value truncated to 12
 * significand bits (silicon uses model-specific tables, so exact bits differ between
 * processors). Denormal inputs count as zero; tiny results flush to zero; no MXCSR flags.
 */
function approx(rsqrt: boolean, scalar: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = scalar ? readRmLow(cpu, i, 4) : readRm128(cpu, i, true);
    dstFrom(cpu, i.reg);
    for (let k = 0; k < (scalar ? 1 : 4); k++) {
      const v = s[k];
      const sign = v & 0x80000000;
      const e = (v >>> 23) & 0xff;
      if (e === 0xff && (v & 0x7fffff) !== 0) {
        DST[k] = v | 0x400000;
        continue;
      }
      if (e === 0) {
        DST[k] = sign | 0x7f800000; // ±0 and denormals (treated as 0) → ±∞
        continue;
      }
      if (rsqrt && sign) {
        DST[k] = 0xffc00000 | 0; // negative → QNaN indefinite
        continue;
      }
      if (e === 0xff) {
        DST[k] = sign; // ±∞ → ±0
        continue;
      }
      cv.setUint32(0, v, true);
      const f = cv.getFloat32(0, true);
      const r = rsqrt ? 1 / Math.sqrt(f) : 1 / f;
      cv.setFloat32(0, r, true);
      let bits = cv.getUint32(0, true);
      if ((bits & 0x7f800000) === 0) bits &= 0x80000000;
      DST[k] = bits & 0xfffff800;
    }
    setXmm(cpu, i.reg, DST);
  };
}

// ------------------------------------------------------------------ compares

/** CMPPS/CMPPD/CMPSS/CMPSD xmm, xmm/m, imm8 (predicates 0-7). */
function cmp(form: Form) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readFormSrc(cpu, i, form);
    const pred = i.imm & 7;
    const sig = predSignals(pred);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    dstFrom(cpu, i.reg);
    if (form === Form.PS || form === Form.SS) {
      const n = form === Form.PS ? 4 : 1;
      for (let k = 0; k < n; k++) DST[k] = cmpPredicate(f32Compare(x[d + k], s[k], mx, sig), pred) ? -1 : 0;
    } else {
      const n = form === Form.PD ? 2 : 1;
      for (let k = 0; k < n; k++) {
        const r = cmpPredicate(
          f64Compare(x[d + 2 * k], x[d + 2 * k + 1], s[2 * k], s[2 * k + 1], mx, sig),
          pred,
        )
          ? -1
          : 0;
        DST[2 * k] = DST[2 * k + 1] = r;
      }
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

/** COMISS/UCOMISS/COMISD/UCOMISD: ZF,PF,CF from the comparison; OF,SF,AF cleared. */
function comis(pd: boolean, signal: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRmLow(cpu, i, pd ? 8 : 4);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    const c = pd ? f64Compare(x[d], x[d + 1], s[0], s[1], mx, signal) : f32Compare(x[d], s[0], mx, signal);
    commitFlags(cpu, FP.flags);
    const f = c === Cmp.Un ? 0x45 : c === Cmp.Lt ? 0x01 : c === Cmp.Eq ? 0x40 : 0;
    cpu.setFlagBits(0x8d5, f);
  };
}

// ------------------------------------------------------------------ shuffles

/** SHUFPS xmm, xmm/m128, imm8. */
function shufps(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRm128(cpu, i, true);
  const x = cpu.sse.xmm;
  const d = i.reg << 2;
  const m = i.imm;
  DST[0] = x[d + (m & 3)];
  DST[1] = x[d + ((m >> 2) & 3)];
  DST[2] = s[(m >> 4) & 3];
  DST[3] = s[(m >> 6) & 3];
  setXmm(cpu, i.reg, DST);
}

/** SHUFPD xmm, xmm/m128, imm8. */
function shufpd(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRm128(cpu, i, true);
  const x = cpu.sse.xmm;
  const d = i.reg << 2;
  const a = d + (i.imm & 1 ? 2 : 0);
  const b = i.imm & 2 ? 2 : 0;
  DST[0] = x[a];
  DST[1] = x[a + 1];
  DST[2] = s[b];
  DST[3] = s[b + 1];
  setXmm(cpu, i.reg, DST);
}

/** UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD. */
function unpck(high: boolean, pd: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const x = cpu.sse.xmm;
    const d = (i.reg << 2) + (high ? 2 : 0);
    const o = high ? 2 : 0;
    if (pd) {
      DST[0] = x[d];
      DST[1] = x[d + 1];
      DST[2] = s[o];
      DST[3] = s[o + 1];
    } else {
      DST[0] = x[d];
      DST[1] = s[o];
      DST[2] = x[d + 1];
      DST[3] = s[o + 1];
    }
    setXmm(cpu, i.reg, DST);
  };
}

// ------------------------------------------------------------------ conversions

/** CVTSI2SS / CVTSI2SD xmm, r/m32|64 (REX.W selects 64-bit source). */
function cvtsi2s(pd: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const w = (i.rex & 8) !== 0;
    const lo = cpu.readRM(i, w ? 8 : 4);
    const hi = w ? cpu.rhi : lo & 0x80000000 ? -1 : 0;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    if (pd) {
      intToF64(lo, hi, mx);
      commitFlags(cpu, FP.flags);
      x[d] = FP.lo;
      x[d + 1] = FP.hi;
    } else {
      const r = intToF32(lo, hi, mx);
      commitFlags(cpu, FP.flags);
      x[d] = r;
    }
  };
}

/** CVTSS2SI/CVTTSS2SI/CVTSD2SI/CVTTSD2SI r32|64, xmm/m. */
function cvts2si(pd: boolean, trunc: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRmLow(cpu, i, pd ? 8 : 4);
    const w = (i.rex & 8) !== 0;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    if (pd) f64ToInt(s[0], s[1], w ? 64 : 32, mx, trunc);
    else f32ToInt(s[0], w ? 64 : 32, mx, trunc);
    commitFlags(cpu, FP.flags);
    cpu.setReg(i.reg, w ? 8 : 4, FP.lo >>> 0, FP.hi >>> 0);
  };
}

/** CVTSS2SD / CVTSD2SS xmm, xmm/m. */
function cvtScalar(fromPd: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRmLow(cpu, i, fromPd ? 8 : 4);
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    if (fromPd) {
      const r = f64ToF32(s[0] >>> 0, s[1] >>> 0, mx);
      commitFlags(cpu, FP.flags);
      x[d] = r;
    } else {
      f32ToF64(s[0], mx);
      commitFlags(cpu, FP.flags);
      x[d] = FP.lo;
      x[d + 1] = FP.hi;
    }
  };
}

/** CVTPS2PD xmm, xmm/m64 and CVTPD2PS xmm, xmm/m128. */
function cvtPacked(fromPd: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = fromPd ? readRm128(cpu, i, true) : readRmLow(cpu, i, 8);
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    if (fromPd) {
      DST[0] = f64ToF32(s[0] >>> 0, s[1] >>> 0, mx);
      DST[1] = f64ToF32(s[2] >>> 0, s[3] >>> 0, mx);
      DST[2] = DST[3] = 0;
    } else {
      const a = s[0],
        b = s[1];
      f32ToF64(a, mx);
      DST[0] = FP.lo;
      DST[1] = FP.hi;
      f32ToF64(b, mx);
      DST[2] = FP.lo;
      DST[3] = FP.hi;
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

/** CVTDQ2PS (no prefix), CVTPS2DQ (66), CVTTPS2DQ (F3). */
function cvtDqPs(kind: 0 | 1 | 2) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    for (let k = 0; k < 4; k++) {
      if (kind === 0) DST[k] = intToF32(s[k], s[k] < 0 ? -1 : 0, mx);
      else {
        f32ToInt(s[k], 32, mx, kind === 2);
        DST[k] = FP.lo;
      }
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

/** CVTDQ2PD (F3 0F E6, m64 source), CVTPD2DQ (F2), CVTTPD2DQ (66). */
function cvtDqPd(kind: 0 | 1 | 2) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = kind === 0 ? readRmLow(cpu, i, 8) : readRm128(cpu, i, true);
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    if (kind === 0) {
      const a = s[0],
        b = s[1];
      intToF64(a, a < 0 ? -1 : 0, mx);
      DST[0] = FP.lo;
      DST[1] = FP.hi;
      intToF64(b, b < 0 ? -1 : 0, mx);
      DST[2] = FP.lo;
      DST[3] = FP.hi;
    } else {
      f64ToInt(s[0], s[1], 32, mx, kind === 2);
      DST[0] = FP.lo;
      f64ToInt(s[2], s[3], 32, mx, kind === 2);
      DST[1] = FP.lo;
      DST[2] = DST[3] = 0;
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

// ------------------------------------------------------------------ registration

mandatory(0x110, None, "movups", movLoad128(false));
mandatory(0x110, P66, "movupd", movLoad128(false));
mandatory(0x110, PF3, "movss", movScalarLoad(4));
mandatory(0x110, PF2, "movsd", movScalarLoad(8));
mandatory(0x111, None, "movups", movStore128(false));
mandatory(0x111, P66, "movupd", movStore128(false));
mandatory(0x111, PF3, "movss", movScalarStore(4));
mandatory(0x111, PF2, "movsd", movScalarStore(8));
mandatory(0x112, None, "movlps", movlps(true));
mandatory(0x112, P66, "movlpd", movlps(false));
mandatory(0x112, PF3, "movsldup", movsdup(false));
mandatory(0x112, PF2, "movddup", movddup);
mandatory(0x113, None, "movlps", movHalfStore(false));
mandatory(0x113, P66, "movlpd", movHalfStore(false));
mandatory(0x114, None, "unpcklps", unpck(false, false));
mandatory(0x114, P66, "unpcklpd", unpck(false, true));
mandatory(0x115, None, "unpckhps", unpck(true, false));
mandatory(0x115, P66, "unpckhpd", unpck(true, true));
mandatory(0x116, None, "movhps", movhps(true));
mandatory(0x116, P66, "movhpd", movhps(false));
mandatory(0x116, PF3, "movshdup", movsdup(true));
mandatory(0x117, None, "movhps", movHalfStore(true));
mandatory(0x117, P66, "movhpd", movHalfStore(true));
mandatory(0x128, None, "movaps", movLoad128(true));
mandatory(0x128, P66, "movapd", movLoad128(true));
mandatory(0x129, None, "movaps", movStore128(true));
mandatory(0x129, P66, "movapd", movStore128(true));
mandatory(0x12a, PF3, "cvtsi2ss", cvtsi2s(false));
mandatory(0x12a, PF2, "cvtsi2sd", cvtsi2s(true));
const movnt = (cpu: Cpu, i: Instr): void => {
  if (i.mod === 3) ud();
  movStore128(true)(cpu, i);
};
mandatory(0x12b, None, "movntps", movnt);
mandatory(0x12b, P66, "movntpd", movnt);
mandatory(0x12c, PF3, "cvttss2si", cvts2si(false, true));
mandatory(0x12c, PF2, "cvttsd2si", cvts2si(true, true));
mandatory(0x12d, PF3, "cvtss2si", cvts2si(false, false));
mandatory(0x12d, PF2, "cvtsd2si", cvts2si(true, false));
mandatory(0x12e, None, "ucomiss", comis(false, false));
mandatory(0x12e, P66, "ucomisd", comis(true, false));
mandatory(0x12f, None, "comiss", comis(false, true));
mandatory(0x12f, P66, "comisd", comis(true, true));
mandatory(0x150, None, "movmskps", movmsk(false));
mandatory(0x150, P66, "movmskpd", movmsk(true));

const FORMS: [Mandatory, Form, string][] = [
  [None, Form.PS, "ps"],
  [P66, Form.PD, "pd"],
  [PF3, Form.SS, "ss"],
  [PF2, Form.SD, "sd"],
];
for (const [pfx, form, sfx] of FORMS) {
  mandatory(0x151, pfx, "sqrt" + sfx, arith(FpOp.Sqrt, form));
  mandatory(0x158, pfx, "add" + sfx, arith(FpOp.Add, form));
  mandatory(0x159, pfx, "mul" + sfx, arith(FpOp.Mul, form));
  mandatory(0x15c, pfx, "sub" + sfx, arith(FpOp.Sub, form));
  mandatory(0x15d, pfx, "min" + sfx, minmax(false, form));
  mandatory(0x15e, pfx, "div" + sfx, arith(FpOp.Div, form));
  mandatory(0x15f, pfx, "max" + sfx, minmax(true, form));
  mandatory(0x1c2, pfx, "cmp" + sfx, cmp(form), true, Imm.Ib);
}
mandatory(0x152, None, "rsqrtps", approx(true, false));
mandatory(0x152, PF3, "rsqrtss", approx(true, true));
mandatory(0x153, None, "rcpps", approx(false, false));
mandatory(0x153, PF3, "rcpss", approx(false, true));
for (const pfx of [None, P66]) {
  mandatory(0x154, pfx, "and", logic128(0));
  mandatory(0x155, pfx, "andn", logic128(1));
  mandatory(0x156, pfx, "or", logic128(2));
  mandatory(0x157, pfx, "xor", logic128(3));
}
mandatory(0x15a, None, "cvtps2pd", cvtPacked(false));
mandatory(0x15a, P66, "cvtpd2ps", cvtPacked(true));
mandatory(0x15a, PF3, "cvtss2sd", cvtScalar(false));
mandatory(0x15a, PF2, "cvtsd2ss", cvtScalar(true));
mandatory(0x15b, None, "cvtdq2ps", cvtDqPs(0));
mandatory(0x15b, P66, "cvtps2dq", cvtDqPs(1));
mandatory(0x15b, PF3, "cvttps2dq", cvtDqPs(2));
mandatory(0x1e6, PF3, "cvtdq2pd", cvtDqPd(0));
mandatory(0x1e6, PF2, "cvtpd2dq", cvtDqPd(1));
mandatory(0x1e6, P66, "cvttpd2dq", cvtDqPd(2));
mandatory(0x17c, P66, "haddpd", hop(FpOp.Add, true));
mandatory(0x17c, PF2, "haddps", hop(FpOp.Add, false));
mandatory(0x17d, P66, "hsubpd", hop(FpOp.Sub, true));
mandatory(0x17d, PF2, "hsubps", hop(FpOp.Sub, false));
mandatory(0x1d0, P66, "addsubpd", addsub(true));
mandatory(0x1d0, PF2, "addsubps", addsub(false));
mandatory(0x1c6, None, "shufps", shufps, true, Imm.Ib);
mandatory(0x1c6, P66, "shufpd", shufpd, true, Imm.Ib);
