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
import { sseCheck, readRm128, readRmLow, setXmm, writeMem, SRC, DST } from "../sse/sse-util.js";
import { movLoad128, movStore128, logic128 } from "./sse-fp.js";

const P66 = Mandatory.P66;

/** Lane kinds. */
export const enum L {
  I8 = 0,
  U8 = 1,
  I16 = 2,
  U16 = 3,
  I32 = 4,
  U32 = 5,
}

type View = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

const SV: View[] = [
  new Int8Array(SRC.buffer),
  new Uint8Array(SRC.buffer),
  new Int16Array(SRC.buffer),
  new Uint16Array(SRC.buffer),
  SRC,
  new Uint32Array(SRC.buffer),
];
const DV: View[] = [
  new Int8Array(DST.buffer),
  new Uint8Array(DST.buffer),
  new Int16Array(DST.buffer),
  new Uint16Array(DST.buffer),
  DST,
  new Uint32Array(DST.buffer),
];

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

/** Lanes per register for lane kind `l`. */
export function laneCount(l: L): number {
  return l <= L.U8 ? 16 : l <= L.U16 ? 8 : 4;
}

/** Scratch view of SRC for lane kind `l`. */
export function srcView(l: L): View {
  return SV[l];
}
/** Scratch view of DST for lane kind `l`. */
export function dstView(l: L): View {
  return DV[l];
}

/** Elementwise dst[k] ← f(dst[k], src[k]) (typed-array stores wrap to the lane width). */
export function lanes(l: L, f: (a: number, b: number) => number) {
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

/** Saturate to a signed/unsigned range. */
export const sat = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** 64-bit lane add/subtract (PADDQ/PSUBQ). */
function addq(sub: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    for (let k = 0; k < 4; k += 2) {
      const alo = x[d + k] >>> 0;
      const blo = s[k] >>> 0;
      const r = sub ? alo - blo : alo + blo;
      const carry = sub ? (r < 0 ? -1 : 0) : r > 0xffffffff ? 1 : 0;
      x[d + k] = r;
      x[d + k + 1] = (sub ? x[d + k + 1] - s[k + 1] : x[d + k + 1] + s[k + 1]) + carry;
    }
  };
}

/** Unsigned 32x32 → 64 multiply into (lo, hi). */
export function mulU32(a: number, b: number, out: Int32Array, off: number): void {
  a >>>= 0;
  b >>>= 0;
  const al = a & 0xffff,
    ah = a >>> 16,
    bl = b & 0xffff,
    bh = b >>> 16;
  const ll = al * bl;
  const mid = ah * bl + al * bh; // < 2^33
  const lo = ll + (mid % 65536) * 65536;
  out[off] = lo >>> 0;
  out[off + 1] = ah * bh + Math.floor(mid / 65536) + Math.floor(lo / 4294967296);
}

/** PMULUDQ: unsigned dwords 0 and 2 → 64-bit products. */
function pmuludq(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRm128(cpu, i, true);
  const x = cpu.sse.xmm;
  const d = i.reg << 2;
  mulU32(x[d], s[0], DST, 0);
  mulU32(x[d + 2], s[2], DST, 2);
  setXmm(cpu, i.reg, DST);
}

/** PMADDWD: signed words multiplied, adjacent products added into dwords. */
function pmaddwd(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  readRm128(cpu, i, true);
  const a = cpu.sse.i16;
  const b = SV[L.I16];
  const base = i.reg * 8;
  for (let k = 0; k < 4; k++) DST[k] = a[base + 2 * k] * b[2 * k] + a[base + 2 * k + 1] * b[2 * k + 1];
  setXmm(cpu, i.reg, DST);
}

/** PSADBW: sums of absolute byte differences per 64-bit half. */
function psadbw(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  readRm128(cpu, i, true);
  const a = cpu.sse.bytes;
  const b = SV[L.U8];
  const base = i.reg * 16;
  for (let h = 0; h < 2; h++) {
    let sum = 0;
    for (let k = 0; k < 8; k++) sum += Math.abs(a[base + h * 8 + k] - b[h * 8 + k]);
    DST[h * 2] = sum;
    DST[h * 2 + 1] = 0;
  }
  setXmm(cpu, i.reg, DST);
}

/** PACKSSWB/PACKUSWB/PACKSSDW (and SSE4.1 PACKUSDW): narrow with saturation. */
export function pack(from: L, to: L, lo: number, hi: number) {
  const n = laneCount(from);
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    readRm128(cpu, i, true);
    const a = xv(cpu, from);
    const b = SV[from];
    const o = DV[to];
    const base = i.reg * n;
    for (let k = 0; k < n; k++) {
      o[k] = sat(a[base + k], lo, hi);
      o[n + k] = sat(b[k], lo, hi);
    }
    setXmm(cpu, i.reg, DST);
  };
}

/** PUNPCKL/H BW, WD, DQ, QDQ: interleave elements of `size` bytes from the low/high halves. */
function punpck(size: number, high: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    readRm128(cpu, i, true);
    const a = cpu.sse.bytes;
    const b = SV[L.U8];
    const o = DV[L.U8];
    const base = i.reg * 16 + (high ? 8 : 0);
    const sb = high ? 8 : 0;
    const n = 8 / size;
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < size; j++) {
        o[2 * k * size + j] = a[base + k * size + j];
        o[(2 * k + 1) * size + j] = b[sb + k * size + j];
      }
    }
    setXmm(cpu, i.reg, DST);
  };
}

/** Shift every lane of xmm register `r` (bits 16/32/64) by `count`; kind 0 logical right, 1 arithmetic right, 2 left. */
export function shiftLanes(cpu: Cpu, r: number, bits: number, kind: number, count: number): void {
  if (bits === 64) {
    const x = cpu.sse.xmm;
    for (let k = 0; k < 2; k++) {
      const o = (r << 2) + 2 * k;
      let lo = x[o] >>> 0;
      let hi = x[o + 1] >>> 0;
      if (count > 63) lo = hi = 0;
      else if (count >= 32) {
        if (kind === 2) {
          hi = lo << (count - 32);
          lo = 0;
        } else {
          lo = hi >>> (count - 32);
          hi = 0;
        }
      } else if (count > 0) {
        if (kind === 2) {
          hi = (hi << count) | (lo >>> (32 - count));
          lo = lo << count;
        } else {
          lo = (lo >>> count) | (hi << (32 - count));
          hi = hi >>> count;
        }
      }
      x[o] = lo;
      x[o + 1] = hi;
    }
    return;
  }
  const v = bits === 16 ? (kind === 1 ? cpu.sse.i16 : cpu.sse.u16) : kind === 1 ? cpu.sse.xmm : cpu.sse.u32;
  const n = 128 / bits;
  const base = r * n;
  for (let k = 0; k < n; k++) {
    const a = v[base + k];
    if (kind === 1) v[base + k] = count >= bits ? (a < 0 ? -1 : 0) : a >> count;
    else if (count >= bits) v[base + k] = 0;
    else v[base + k] = kind === 2 ? a << count : a >>> count;
  }
}

/** PSRLW/D/Q, PSRAW/D, PSLLW/D/Q xmm, xmm/m128 (count = low 64 bits of the source). */
function shiftReg(bits: number, kind: number) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const count = s[1] !== 0 || s[0] < 0 || s[0] > 255 ? 255 : s[0];
    shiftLanes(cpu, i.reg, bits, kind, count);
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

const i8 = (v: number): number => sat(v, -128, 127);
const u8 = (v: number): number => sat(v, 0, 255);
const i16 = (v: number): number => sat(v, -32768, 32767);
const u16 = (v: number): number => sat(v, 0, 65535);

mandatory(0x160, P66, "punpcklbw", punpck(1, false));
mandatory(0x161, P66, "punpcklwd", punpck(2, false));
mandatory(0x162, P66, "punpckldq", punpck(4, false));
mandatory(0x163, P66, "packsswb", pack(L.I16, L.I8, -128, 127));
mandatory(
  0x164,
  P66,
  "pcmpgtb",
  lanes(L.I8, (a, b) => (a > b ? -1 : 0)),
);
mandatory(
  0x165,
  P66,
  "pcmpgtw",
  lanes(L.I16, (a, b) => (a > b ? -1 : 0)),
);
mandatory(
  0x166,
  P66,
  "pcmpgtd",
  lanes(L.I32, (a, b) => (a > b ? -1 : 0)),
);
mandatory(0x167, P66, "packuswb", pack(L.I16, L.U8, 0, 255));
mandatory(0x168, P66, "punpckhbw", punpck(1, true));
mandatory(0x169, P66, "punpckhwd", punpck(2, true));
mandatory(0x16a, P66, "punpckhdq", punpck(4, true));
mandatory(0x16b, P66, "packssdw", pack(L.I32, L.I16, -32768, 32767));
mandatory(0x16c, P66, "punpcklqdq", punpck(8, false));
mandatory(0x16d, P66, "punpckhqdq", punpck(8, true));
mandatory(0x16e, P66, "movd", movdToXmm);
mandatory(0x16f, P66, "movdqa", movLoad128(true));
mandatory(0x16f, Mandatory.PF3, "movdqu", movLoad128(false));
mandatory(0x170, P66, "pshufd", pshuf(0), true, Imm.Ib);
mandatory(0x170, Mandatory.PF3, "pshufhw", pshuf(1), true, Imm.Ib);
mandatory(0x170, Mandatory.PF2, "pshuflw", pshuf(2), true, Imm.Ib);
for (const o of [0x171, 0x172, 0x173]) mandatory(o, P66, "pshift", shiftImm(o), true, Imm.Ib);
mandatory(
  0x174,
  P66,
  "pcmpeqb",
  lanes(L.I8, (a, b) => (a === b ? -1 : 0)),
);
mandatory(
  0x175,
  P66,
  "pcmpeqw",
  lanes(L.I16, (a, b) => (a === b ? -1 : 0)),
);
mandatory(
  0x176,
  P66,
  "pcmpeqd",
  lanes(L.I32, (a, b) => (a === b ? -1 : 0)),
);
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
mandatory(0x1d4, P66, "paddq", addq(false));
mandatory(
  0x1d5,
  P66,
  "pmullw",
  lanes(L.I16, (a, b) => Math.imul(a, b)),
);
mandatory(0x1d6, P66, "movq", movqStore);
mandatory(0x1d7, P66, "pmovmskb", pmovmskb);
mandatory(
  0x1d8,
  P66,
  "psubusb",
  lanes(L.U8, (a, b) => u8(a - b)),
);
mandatory(
  0x1d9,
  P66,
  "psubusw",
  lanes(L.U16, (a, b) => u16(a - b)),
);
mandatory(
  0x1da,
  P66,
  "pminub",
  lanes(L.U8, (a, b) => (a < b ? a : b)),
);
mandatory(0x1db, P66, "pand", logic128(0));
mandatory(
  0x1dc,
  P66,
  "paddusb",
  lanes(L.U8, (a, b) => u8(a + b)),
);
mandatory(
  0x1dd,
  P66,
  "paddusw",
  lanes(L.U16, (a, b) => u16(a + b)),
);
mandatory(
  0x1de,
  P66,
  "pmaxub",
  lanes(L.U8, (a, b) => (a > b ? a : b)),
);
mandatory(0x1df, P66, "pandn", logic128(1));
mandatory(
  0x1e0,
  P66,
  "pavgb",
  lanes(L.U8, (a, b) => (a + b + 1) >> 1),
);
mandatory(0x1e1, P66, "psraw", shiftReg(16, 1));
mandatory(0x1e2, P66, "psrad", shiftReg(32, 1));
mandatory(
  0x1e3,
  P66,
  "pavgw",
  lanes(L.U16, (a, b) => (a + b + 1) >> 1),
);
mandatory(
  0x1e4,
  P66,
  "pmulhuw",
  lanes(L.U16, (a, b) => (a * b) / 65536),
);
mandatory(
  0x1e5,
  P66,
  "pmulhw",
  lanes(L.I16, (a, b) => (a * b) >> 16),
);
mandatory(0x1e7, P66, "movntdq", memOnly(movStore128(true)));
mandatory(
  0x1e8,
  P66,
  "psubsb",
  lanes(L.I8, (a, b) => i8(a - b)),
);
mandatory(
  0x1e9,
  P66,
  "psubsw",
  lanes(L.I16, (a, b) => i16(a - b)),
);
mandatory(
  0x1ea,
  P66,
  "pminsw",
  lanes(L.I16, (a, b) => (a < b ? a : b)),
);
mandatory(0x1eb, P66, "por", logic128(2));
mandatory(
  0x1ec,
  P66,
  "paddsb",
  lanes(L.I8, (a, b) => i8(a + b)),
);
mandatory(
  0x1ed,
  P66,
  "paddsw",
  lanes(L.I16, (a, b) => i16(a + b)),
);
mandatory(
  0x1ee,
  P66,
  "pmaxsw",
  lanes(L.I16, (a, b) => (a > b ? a : b)),
);
mandatory(0x1ef, P66, "pxor", logic128(3));
mandatory(0x1f0, Mandatory.PF2, "lddqu", memOnly(movLoad128(false)));
mandatory(0x1f1, P66, "psllw", shiftReg(16, 2));
mandatory(0x1f2, P66, "pslld", shiftReg(32, 2));
mandatory(0x1f3, P66, "psllq", shiftReg(64, 2));
mandatory(0x1f4, P66, "pmuludq", pmuludq);
mandatory(0x1f5, P66, "pmaddwd", pmaddwd);
mandatory(0x1f6, P66, "psadbw", psadbw);
mandatory(0x1f7, P66, "maskmovdqu", maskmovdqu);
mandatory(
  0x1f8,
  P66,
  "psubb",
  lanes(L.I8, (a, b) => a - b),
);
mandatory(
  0x1f9,
  P66,
  "psubw",
  lanes(L.I16, (a, b) => a - b),
);
mandatory(
  0x1fa,
  P66,
  "psubd",
  lanes(L.I32, (a, b) => a - b),
);
mandatory(0x1fb, P66, "psubq", addq(true));
mandatory(
  0x1fc,
  P66,
  "paddb",
  lanes(L.I8, (a, b) => a + b),
);
mandatory(
  0x1fd,
  P66,
  "paddw",
  lanes(L.I16, (a, b) => a + b),
);
mandatory(
  0x1fe,
  P66,
  "paddd",
  lanes(L.I32, (a, b) => a + b),
);
