/**
 * SSE2 128-bit integer instructions, 66-prefixed forms of the 0F map (SDM Vol.1 11.4.3
 * "128-Bit SIMD Integer Instruction Extensions"; Vol.2 entries): MOVD/MOVQ, MOVDQA/MOVDQU,
 * packed add/subtract (wrapping and saturating), multiply (PMULLW/PMULHW/PMULHUW/PMULUDQ/
 * PMADDWD), compares, min/max/average, PSADBW, logic, shifts (by register and by imm8,
 * PSLLDQ/PSRLDQ), packs/unpacks, PSHUFD/PSHUFHW/PSHUFLW, PINSRW/PEXTRW, PMOVMSKB, and the
 * non-temporal stores (MOVNTDQ, MOVNTI, MASKMOVDQU) done as plain stores.
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { mandatory, Mandatory, Imm } from "../optable.js";
import { ud } from "../fault.js";
import { sseCheck, readRm128, readRmLow, setXmm, writeMem, DST } from "../sse/sse-util.js";
import { movLoad128, movStore128, logic128 } from "./sse-fp.js";
import {
  L,
  SV,
  DV,
  LANE_OPS,
  sat,
  mulU32,
  laneCount,
  copyDest,
  kAddq,
  kPmuludq,
  kPmaddwd,
  kPsadbw,
  kPack,
  kPunpck,
  kShift,
  srcShiftCount,
  type View,
  type LaneFn,
  type Kernel,
} from "../sse/int-lanes.js";

const P66 = Mandatory.P66;

export { L, sat, mulU32, laneCount };

/** View of the XMM file for lane kind `l`. */
export function xv(cpu: Cpu, l: L): View {
  const s = cpu.sse;
  return l === L.I8
    ? s.i8
    : l === L.U8
      ? s.bytes
      : l === L.I16
        ? s.i16
        : l === L.U16
          ? s.u16
          : l === L.I32
            ? s.xmm
            : s.u32;
}

/** Scratch view of SRC for lane kind `l`. */
export function srcView(l: L): View {
  return SV[l];
}
/** Scratch view of DST for lane kind `l`. */
export function dstView(l: L): View {
  return DV[l];
}

/** Elementwise dst[k] ← f(dst[k], src[k]) in place on the XMM register (typed-array stores wrap to the lane width). */
export function lanes(l: L, f: LaneFn) {
  const n = laneCount(l);
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    readRm128(cpu, i, true);
    const d = xv(cpu, l);
    const s = SV[l];
    const base = i.reg * n;
    for (let k = 0; k < n; k++) d[base + k] = f(d[base + k], s[k]);
  };
}

/** xmm, xmm/m128 instruction computed by a shared 16-byte kernel (sse/int-lanes.ts). */
export function k128(k: Kernel) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    readRm128(cpu, i, true);
    copyDest(cpu.sse.xmm, i.reg << 2, 16);
    k();
    setXmm(cpu, i.reg, DST);
  };
}

/** PACKSSWB/PACKUSWB/PACKSSDW (and SSE4.1 PACKUSDW): narrow with saturation. */
export function pack(from: L, to: L, lo: number, hi: number) {
  return k128(kPack(from, to, lo, hi, 16));
}

const SHIFT: ((count: number) => void)[] = [];
for (const bits of [16, 32, 64])
  for (const kind of [0, 1, 2]) SHIFT[bits * 4 + kind] = kShift(bits, kind, 16);

/** Shift every lane of xmm register `r` (bits 16/32/64) by `count`; kind 0 logical right, 1 arithmetic right, 2 left. */
export function shiftLanes(cpu: Cpu, r: number, bits: number, kind: number, count: number): void {
  copyDest(cpu.sse.xmm, r << 2, 16);
  SHIFT[bits * 4 + kind](count);
  setXmm(cpu, r, DST);
}

/** PSRLW/D/Q, PSRAW/D, PSLLW/D/Q xmm, xmm/m128 (count = low 64 bits of the source). */
function shiftReg(bits: number, kind: number) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    readRm128(cpu, i, true);
    shiftLanes(cpu, i.reg, bits, kind, srcShiftCount());
  };
}

/** Byte shift of a whole register (PSLLDQ / PSRLDQ). */
function byteShift(cpu: Cpu, r: number, n: number, left: boolean): void {
  const b = cpu.sse.bytes;
  const base = r * 16;
  const o = DV[L.U8];
  for (let k = 0; k < 16; k++) {
    const src = left ? k - n : k + n;
    o[k] = src >= 0 && src < 16 ? b[base + src] : 0;
  }
  setXmm(cpu, r, DST);
}

/** Groups 12/13/14 (66 0F 71/72/73 /r ib): shifts by immediate; register operand only. */
function shiftImm(opc: number) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    if (i.mod !== 3) ud();
    const r = i.reg & 7;
    const cnt = i.imm & 0xff;
    const bits = opc === 0x171 ? 16 : opc === 0x172 ? 32 : 64;
    if (r === 2) shiftLanes(cpu, i.rm, bits, 0, cnt);
    else if (r === 4 && bits !== 64) shiftLanes(cpu, i.rm, bits, 1, cnt);
    else if (r === 6) shiftLanes(cpu, i.rm, bits, 2, cnt);
    else if (bits === 64 && r === 3) byteShift(cpu, i.rm, cnt, false);
    else if (bits === 64 && r === 7) byteShift(cpu, i.rm, cnt, true);
    else ud();
  };
}

/** PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2). */
function pshuf(kind: 0 | 1 | 2) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const m = i.imm;
    if (kind === 0) {
      for (let k = 0; k < 4; k++) DST[k] = s[(m >> (2 * k)) & 3];
    } else {
      const sw = SV[L.U16];
      const dw = DV[L.U16];
      const o = kind === 1 ? 4 : 0;
      DST.set(s);
      for (let k = 0; k < 4; k++) dw[o + k] = sw[o + ((m >> (2 * k)) & 3)];
    }
    setXmm(cpu, i.reg, DST);
  };
}

/** PMOVMSKB r32, xmm. */
function pmovmskb(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  if (i.mod !== 3) ud();
  const b = cpu.sse.bytes;
  let r = 0;
  for (let k = 0; k < 16; k++) r |= (b[i.rm * 16 + k] >> 7) << k;
  cpu.setReg(i.reg, i.rex & 8 ? 8 : 4, r, 0);
}

/** PINSRW xmm, r32/m16, imm8. */
function pinsrw(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const v = i.mod === 3 ? cpu.getReg(i.rm, 4) : cpu.read(i.seg, cpu.ea(i), 2);
  cpu.sse.u16[i.reg * 8 + (i.imm & 7)] = v;
}

/** PEXTRW r32, xmm, imm8 (66 0F C5, register form). */
function pextrw(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  if (i.mod !== 3) ud();
  cpu.setReg(i.reg, i.rex & 8 ? 8 : 4, cpu.sse.u16[i.rm * 8 + (i.imm & 7)], 0);
}

/** MOVD/MOVQ xmm, r/m32|64 (66 0F 6E): zero-extends. */
function movdToXmm(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const w = (i.rex & 8) !== 0;
  const lo = cpu.readRM(i, w ? 8 : 4);
  DST[0] = lo;
  DST[1] = w ? cpu.rhi : 0;
  DST[2] = DST[3] = 0;
  setXmm(cpu, i.reg, DST);
}

/** MOVD/MOVQ r/m32|64, xmm (66 0F 7E). */
function movdFromXmm(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const w = (i.rex & 8) !== 0;
  const x = cpu.sse.xmm;
  const b = i.reg << 2;
  cpu.writeRM(i, w ? 8 : 4, x[b] >>> 0, x[b + 1] >>> 0);
}

/** MOVQ xmm, xmm/m64 (F3 0F 7E): zero-extends. */
function movqLoad(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRmLow(cpu, i, 8);
  DST[0] = s[0];
  DST[1] = s[1];
  DST[2] = DST[3] = 0;
  setXmm(cpu, i.reg, DST);
}

/** MOVQ xmm/m64, xmm (66 0F D6): register destination is zero-extended. */
function movqStore(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const x = cpu.sse.xmm;
  const b = i.reg << 2;
  if (i.mod === 3) {
    DST[0] = x[b];
    DST[1] = x[b + 1];
    DST[2] = DST[3] = 0;
    setXmm(cpu, i.rm, DST);
    return;
  }
  writeMem(cpu, i, 8, x[b] >>> 0, x[b + 1] >>> 0);
}

/** MASKMOVDQU xmm1, xmm2: byte-masked store of xmm1 to DS:rDI (SDM Vol.2 MASKMOVDQU). */
function maskmovdqu(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  if (i.mod !== 3) ud();
  const b = cpu.sse.bytes;
  const off = i.asize === 8 ? cpu.reg64(7) : i.asize === 4 ? cpu.lo[7] >>> 0 : cpu.lo[7] & 0xffff;
  const lins: number[] = [];
  for (let k = 0; k < 16; k++) {
    if (b[i.rm * 16 + k] & 0x80)
      lins.push(cpu.linear(i.seg, i.asize === 2 ? (off + k) & 0xffff : off + k, 1, true));
    else lins.push(NaN);
  }
  for (let k = 0; k < 16; k++) if (!Number.isNaN(lins[k])) cpu.linWrite8(lins[k], b[i.reg * 16 + k]);
}

/** MOVNTI m32/m64, r32/r64 (0F C3): a plain store. */
function movnti(cpu: Cpu, i: Instr): void {
  if (i.mod === 3) ud();
  const w = (i.rex & 8) !== 0;
  const v = cpu.getReg(i.reg, w ? 8 : 4);
  cpu.write(i.seg, cpu.ea(i), w ? 8 : 4, v, cpu.rhi);
}

/** Non-temporal / LDDQU memory-only wrappers. */
function memOnly(h: (cpu: Cpu, i: Instr) => void) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    if (i.mod === 3) ud();
    h(cpu, i);
  };
}

// ------------------------------------------------------------------ registration

// ------------------------------------------------------------------ registration

const LOGIC: Record<number, 0 | 1 | 2 | 3> = { 0x1db: 0, 0x1df: 1, 0x1eb: 2, 0x1ef: 3 };
for (const [opc, name, l, f] of LANE_OPS)
  mandatory(opc, P66, name, LOGIC[opc] !== undefined ? logic128(LOGIC[opc]) : lanes(l, f));
mandatory(0x160, P66, "punpcklbw", k128(kPunpck(1, false, 16)));
mandatory(0x161, P66, "punpcklwd", k128(kPunpck(2, false, 16)));
mandatory(0x162, P66, "punpckldq", k128(kPunpck(4, false, 16)));
mandatory(0x163, P66, "packsswb", pack(L.I16, L.I8, -128, 127));
mandatory(0x167, P66, "packuswb", pack(L.I16, L.U8, 0, 255));
mandatory(0x168, P66, "punpckhbw", k128(kPunpck(1, true, 16)));
mandatory(0x169, P66, "punpckhwd", k128(kPunpck(2, true, 16)));
mandatory(0x16a, P66, "punpckhdq", k128(kPunpck(4, true, 16)));
mandatory(0x16b, P66, "packssdw", pack(L.I32, L.I16, -32768, 32767));
mandatory(0x16c, P66, "punpcklqdq", k128(kPunpck(8, false, 16)));
mandatory(0x16d, P66, "punpckhqdq", k128(kPunpck(8, true, 16)));
mandatory(0x16e, P66, "movd", movdToXmm);
mandatory(0x16f, P66, "movdqa", movLoad128(true));
mandatory(0x16f, Mandatory.PF3, "movdqu", movLoad128(false));
mandatory(0x170, P66, "pshufd", pshuf(0), true, Imm.Ib);
mandatory(0x170, Mandatory.PF3, "pshufhw", pshuf(1), true, Imm.Ib);
mandatory(0x170, Mandatory.PF2, "pshuflw", pshuf(2), true, Imm.Ib);
for (const o of [0x171, 0x172, 0x173]) mandatory(o, P66, "pshift", shiftImm(o), true, Imm.Ib);
mandatory(0x17e, P66, "movd", movdFromXmm);
mandatory(0x17e, Mandatory.PF3, "movq", movqLoad);
mandatory(0x17f, P66, "movdqa", movStore128(true));
mandatory(0x17f, Mandatory.PF3, "movdqu", movStore128(false));
mandatory(0x1c3, Mandatory.None, "movnti", movnti);
mandatory(0x1c4, P66, "pinsrw", pinsrw, true, Imm.Ib);
mandatory(0x1c5, P66, "pextrw", pextrw, true, Imm.Ib);
mandatory(0x1d1, P66, "psrlw", shiftReg(16, 0));
mandatory(0x1d2, P66, "psrld", shiftReg(32, 0));
mandatory(0x1d3, P66, "psrlq", shiftReg(64, 0));
mandatory(0x1d4, P66, "paddq", k128(kAddq(false, 16)));
mandatory(0x1d6, P66, "movq", movqStore);
mandatory(0x1d7, P66, "pmovmskb", pmovmskb);
mandatory(0x1e1, P66, "psraw", shiftReg(16, 1));
mandatory(0x1e2, P66, "psrad", shiftReg(32, 1));
mandatory(0x1e7, P66, "movntdq", memOnly(movStore128(true)));
mandatory(0x1f0, Mandatory.PF2, "lddqu", memOnly(movLoad128(false)));
mandatory(0x1f1, P66, "psllw", shiftReg(16, 2));
mandatory(0x1f2, P66, "pslld", shiftReg(32, 2));
mandatory(0x1f3, P66, "psllq", shiftReg(64, 2));
mandatory(0x1f4, P66, "pmuludq", k128(kPmuludq(16)));
mandatory(0x1f5, P66, "pmaddwd", k128(kPmaddwd(16)));
mandatory(0x1f6, P66, "psadbw", k128(kPsadbw(16)));
mandatory(0x1f7, P66, "maskmovdqu", maskmovdqu);
mandatory(0x1fb, P66, "psubq", k128(kAddq(true, 16)));
