/**
 * MMX-register forms that involve SSE state or were added by SSSE3 (SDM Vol.2 entries):
 * - SSSE3 64-bit forms, no-prefix 0F 38 00-0B / 1C-1E and 0F 3A 0F (PSHUFB, PHADDx, PHSUBx,
 *   PMADDUBSW, PMULHRSW, PSIGNx, PABSx, PALIGNR) — exceptions as for MMX (mmx.ts).
 * - MOVQ2DQ xmm, mm (F3 0F D6) and MOVDQ2Q mm, xmm (F2 0F D6).
 * - CVTPI2PS (0F 2A), CVTPS2PI (0F 2D), CVTTPS2PI (0F 2C), CVTPI2PD (66 0F 2A), CVTPD2PI
 *   (66 0F 2D), CVTTPD2PI (66 0F 2C), rounding and MXCSR flags as the SSE conversions.
 * These follow SDM Vol.3 Table 22-5/22-6 (MMX instructions with XMM operands): CR0.EM=1 or
 * CR4.OSFXSR=0 → #UD, CR0.TS=1 → #NM, then the pending-x87 #MF and SIMD #XM checks. Each
 * causes the x87 → MMX transition except CVTPI2PS/CVTPI2PD with a memory source (checked on
 * the host CPU: TOP and the tags are left alone).
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { CpuFault, ud } from "../fault.js";
import { mandatory, Mandatory, Imm } from "../optable.js";
import { CR0 } from "../../x86/cr.js";
import { FSW_ES } from "./x87.js";
import { sseCheck, readRm128, readRmLow, commitFlags, SRC, DST } from "../sse/sse-util.js";
import { FP, intToF32, intToF64, f32ToInt, f64ToInt } from "../sse/softfp.js";
import {
  SSSE3_HOPS,
  SSSE3_LANES,
  SSSE3_ABS,
  kLanes,
  kUnary,
  kPhop,
  kPshufb,
  kPmaddubsw,
  kPalignr,
  type Kernel,
} from "../sse/int-lanes.js";
import { mmxCheck, mmxEnter, mmSrc, mmToDest, setMm } from "./mmx.js";

const None = Mandatory.None;

/** SSSE3 mm, mm/m64 form computed by `k`. */
function mmOp(k: Kernel) {
  return (cpu: Cpu, i: Instr): void => {
    const x = mmxCheck(cpu);
    mmSrc(cpu, i, x);
    const d = i.reg & 7;
    mmToDest(x, d);
    k();
    mmxEnter(x);
    setMm(x, d, DST[0], DST[1]);
  };
}

const palignrK = kPalignr(8);

/** PALIGNR mm, mm/m64, imm8 (0F 3A 0F). */
function palignr(cpu: Cpu, i: Instr): void {
  const x = mmxCheck(cpu);
  mmSrc(cpu, i, x);
  const d = i.reg & 7;
  mmToDest(x, d);
  palignrK(i.imm & 0xff);
  mmxEnter(x);
  setMm(x, d, DST[0], DST[1]);
}

/** SSE checks followed by the pending x87 exception (#MF) check. */
function sseMmxCheck(cpu: Cpu): void {
  sseCheck(cpu);
  if (cpu.x87.fsw & FSW_ES && cpu.cr0 & CR0.NE) throw new CpuFault(16, -1);
}

/** MOVQ2DQ xmm, mm (F3 0F D6): xmm ← zero-extended mm. */
function movq2dq(cpu: Cpu, i: Instr): void {
  if (i.mod !== 3) ud();
  sseMmxCheck(cpu);
  const x = cpu.x87;
  const r = x.regs[i.rm & 7];
  const v = cpu.sse.xmm;
  const b = i.reg << 2;
  v[b] = r.lo;
  v[b + 1] = r.hi;
  v[b + 2] = v[b + 3] = 0;
  mmxEnter(x);
}

/** MOVDQ2Q mm, xmm (F2 0F D6): mm ← low quadword of xmm. */
function movdq2q(cpu: Cpu, i: Instr): void {
  if (i.mod !== 3) ud();
  sseMmxCheck(cpu);
  const x = cpu.x87;
  const v = cpu.sse.xmm;
  const b = i.rm << 2;
  mmxEnter(x);
  setMm(x, i.reg & 7, v[b], v[b + 1]);
}

/** CVTPI2PS xmm, mm/m64 (0F 2A): two int32 → two float32 in the low half; the high half is kept. */
function cvtpi2ps(cpu: Cpu, i: Instr): void {
  sseMmxCheck(cpu);
  const x = cpu.x87;
  mmSrc(cpu, i, x);
  const mx = cpu.sse.mxcsr;
  FP.flags = 0;
  const a = intToF32(SRC[0], SRC[0] < 0 ? -1 : 0, mx);
  const b = intToF32(SRC[1], SRC[1] < 0 ? -1 : 0, mx);
  commitFlags(cpu, FP.flags);
  if (i.mod === 3) mmxEnter(x);
  const v = cpu.sse.xmm;
  v[i.reg << 2] = a;
  v[(i.reg << 2) + 1] = b;
}

/** CVTPI2PD xmm, mm/m64 (66 0F 2A): two int32 → two float64 (exact). */
function cvtpi2pd(cpu: Cpu, i: Instr): void {
  sseMmxCheck(cpu);
  const x = cpu.x87;
  mmSrc(cpu, i, x);
  const mx = cpu.sse.mxcsr;
  const s0 = SRC[0],
    s1 = SRC[1];
  const v = cpu.sse.xmm;
  const d = i.reg << 2;
  if (i.mod === 3) mmxEnter(x);
  intToF64(s0, s0 < 0 ? -1 : 0, mx);
  v[d] = FP.lo;
  v[d + 1] = FP.hi;
  intToF64(s1, s1 < 0 ? -1 : 0, mx);
  v[d + 2] = FP.lo;
  v[d + 3] = FP.hi;
}

/** CVT(T)PS2PI mm, xmm/m64 (0F 2D / 0F 2C). */
function cvtps2pi(trunc: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseMmxCheck(cpu);
    const s = readRmLow(cpu, i, 8);
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    f32ToInt(s[0], 32, mx, trunc);
    const a = FP.lo;
    f32ToInt(s[1], 32, mx, trunc);
    const b = FP.lo;
    commitFlags(cpu, FP.flags);
    const x = cpu.x87;
    mmxEnter(x);
    setMm(x, i.reg & 7, a, b);
  };
}

/** CVT(T)PD2PI mm, xmm/m128 (66 0F 2D / 66 0F 2C; 16-byte aligned memory operand). */
function cvtpd2pi(trunc: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseMmxCheck(cpu);
    const s = readRm128(cpu, i, true);
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    f64ToInt(s[0], s[1], 32, mx, trunc);
    const a = FP.lo;
    f64ToInt(s[2], s[3], 32, mx, trunc);
    const b = FP.lo;
    commitFlags(cpu, FP.flags);
    const x = cpu.x87;
    mmxEnter(x);
    setMm(x, i.reg & 7, a, b);
  };
}

// ------------------------------------------------------------------ registration

mandatory(0x200, None, "pshufb", mmOp(kPshufb(8)));
for (const [o, name, l, f] of SSSE3_HOPS) mandatory(0x200 | o, None, name, mmOp(kPhop(l, f, 8)));
mandatory(0x204, None, "pmaddubsw", mmOp(kPmaddubsw(8)));
for (const [o, name, l, f] of SSSE3_LANES) mandatory(0x200 | o, None, name, mmOp(kLanes(l, f, 8)));
for (const [o, name, l] of SSSE3_ABS) mandatory(0x200 | o, None, name, mmOp(kUnary(l, Math.abs, 8)));
mandatory(0x30f, None, "palignr", palignr, true, Imm.Ib);
mandatory(0x1d6, Mandatory.PF3, "movq2dq", movq2dq);
mandatory(0x1d6, Mandatory.PF2, "movdq2q", movdq2q);
mandatory(0x12a, None, "cvtpi2ps", cvtpi2ps);
mandatory(0x12a, Mandatory.P66, "cvtpi2pd", cvtpi2pd);
mandatory(0x12c, None, "cvttps2pi", cvtps2pi(true));
mandatory(0x12d, None, "cvtps2pi", cvtps2pi(false));
mandatory(0x12c, Mandatory.P66, "cvttpd2pi", cvtpd2pi(true));
mandatory(0x12d, Mandatory.P66, "cvtpd2pi", cvtpd2pi(false));
