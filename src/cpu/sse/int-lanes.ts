/**
 * Width-generic packed-integer lane kernels shared by the 128-bit SSE2/SSSE3 forms (XMM
 * registers, src/cpu/ops/sse-int.ts) and the 64-bit MMX forms (src/cpu/ops/mmx.ts). The
 * element semantics are those of the SDM Vol.2 entries of each mnemonic (PADDx, PSUBx, PCMPx,
 * PMULx, PACKxx, PUNPCKxx, PSxx shifts, PSADBW, PMADDWD, PMULUDQ, and SSSE3 PSHUFB, PHADDx,
 * PHSUBx, PMADDUBSW, PMULHRSW, PSIGNx, PABSx, PALIGNR); the instructions are identical for
 * 64- and 128-bit operands except for the operand width (SDM Vol.1 9.4 and 11.4.3).
 *
 * Calling convention: the destination operand is copied into `DEST`, the source operand is in
 * `SRC` (sse-util.ts scratch, filled by `readRm128` or by the MMX loader), a kernel built for
 * `bytes` = 8 or 16 writes the result to `DST`. Only the low `bytes` bytes are meaningful.
 */
import { SRC, DST } from "./sse-util.js";

/** Lane kinds. */
export const enum L {
  I8 = 0,
  U8 = 1,
  I16 = 2,
  U16 = 3,
  I32 = 4,
  U32 = 5,
}

/** A typed view of one 128-bit scratch register. */
export type View = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** Scratch copy of the destination operand (first source). */
export const DEST = new Int32Array(4);

function views(b: Int32Array): View[] {
  return [
    new Int8Array(b.buffer),
    new Uint8Array(b.buffer),
    new Int16Array(b.buffer),
    new Uint16Array(b.buffer),
    b,
    new Uint32Array(b.buffer),
  ];
}

/** Views of DEST, SRC and DST indexed by lane kind. */
export const AV: View[] = views(DEST);
/** Views of SRC by lane kind. */
export const SV: View[] = views(SRC);
/** Views of DST by lane kind. */
export const DV: View[] = views(DST);

/** A kernel: computes DST from DEST and SRC. */
export type Kernel = () => void;
/** An element function f(a, b) (typed-array stores wrap the result to the lane width). */
export type LaneFn = (a: number, b: number) => number;

/** Lanes in `bytes` bytes for lane kind `l`. */
export function laneCount(l: L, bytes = 16): number {
  return l <= L.U8 ? bytes : l <= L.U16 ? bytes >> 1 : bytes >> 2;
}

/** Saturate to [lo, hi]. */
export const sat = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** Unsigned 32x32 → 64 multiply into out[off] (low) and out[off+1] (high). */
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

/** Copy `bytes` bytes of the DST scratch (for callers that need a plain copy). */
export function copyDest(from: Int32Array, off: number, bytes: number): void {
  for (let k = 0; k < bytes >> 2; k++) DEST[k] = from[off + k];
}

/** Elementwise DST[k] ← f(DEST[k], SRC[k]). */
export function kLanes(l: L, f: LaneFn, bytes: number): Kernel {
  const n = laneCount(l, bytes);
  const a = AV[l],
    b = SV[l],
    o = DV[l];
  return () => {
    for (let k = 0; k < n; k++) o[k] = f(a[k], b[k]);
  };
}

/** Elementwise unary DST[k] ← f(SRC[k]) (PABSx). */
export function kUnary(l: L, f: (b: number) => number, bytes: number): Kernel {
  const n = laneCount(l, bytes);
  const b = SV[l],
    o = DV[l];
  return () => {
    for (let k = 0; k < n; k++) o[k] = f(b[k]);
  };
}

/** 64-bit lane add/subtract (PADDQ/PSUBQ). */
export function kAddq(sub: boolean, bytes: number): Kernel {
  return () => {
    for (let k = 0; k < bytes >> 2; k += 2) {
      const alo = DEST[k] >>> 0;
      const blo = SRC[k] >>> 0;
      const r = sub ? alo - blo : alo + blo;
      const carry = sub ? (r < 0 ? -1 : 0) : r > 0xffffffff ? 1 : 0;
      DST[k] = r;
      DST[k + 1] = (sub ? DEST[k + 1] - SRC[k + 1] : DEST[k + 1] + SRC[k + 1]) + carry;
    }
  };
}

/** PMULUDQ: unsigned low dword of each quadword → 64-bit product. */
export function kPmuludq(bytes: number): Kernel {
  return () => {
    for (let k = 0; k < bytes >> 2; k += 2) mulU32(DEST[k], SRC[k], DST, k);
  };
}

/** PMADDWD: signed words multiplied, adjacent products added into dwords. */
export function kPmaddwd(bytes: number): Kernel {
  const a = AV[L.I16],
    b = SV[L.I16];
  return () => {
    for (let k = 0; k < bytes >> 2; k++) DST[k] = a[2 * k] * b[2 * k] + a[2 * k + 1] * b[2 * k + 1];
  };
}

/** PSADBW: sum of absolute byte differences per quadword, zero-extended. */
export function kPsadbw(bytes: number): Kernel {
  const a = AV[L.U8],
    b = SV[L.U8];
  return () => {
    for (let h = 0; h < bytes >> 3; h++) {
      let sum = 0;
      for (let k = 0; k < 8; k++) sum += Math.abs(a[h * 8 + k] - b[h * 8 + k]);
      DST[h * 2] = sum;
      DST[h * 2 + 1] = 0;
    }
  };
}

/** PACKSSWB/PACKUSWB/PACKSSDW/PACKUSDW: destination lanes then source lanes, saturated. */
export function kPack(from: L, to: L, lo: number, hi: number, bytes: number): Kernel {
  const n = laneCount(from, bytes);
  const a = AV[from],
    b = SV[from],
    o = DV[to];
  return () => {
    for (let k = 0; k < n; k++) {
      o[k] = sat(a[k], lo, hi);
      o[n + k] = sat(b[k], lo, hi);
    }
  };
}

/** PUNPCKL/H: interleave `size`-byte elements of the low (or high) halves of DEST and SRC. */
export function kPunpck(size: number, high: boolean, bytes: number): Kernel {
  const a = AV[L.U8],
    b = SV[L.U8],
    o = DV[L.U8];
  const half = bytes >> 1;
  const off = high ? half : 0;
  const n = half / size;
  return () => {
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < size; j++) {
        o[2 * k * size + j] = a[off + k * size + j];
        o[(2 * k + 1) * size + j] = b[off + k * size + j];
      }
    }
  };
}

/**
 * Shift every `bits`-bit lane of DEST by `count` into DST; kind 0 logical right, 1 arithmetic
 * right, 2 left. Counts above the lane width give 0 (or the sign for arithmetic shifts).
 */
export function kShift(bits: number, kind: number, bytes: number): (count: number) => void {
  if (bits === 64) {
    return (count: number): void => {
      for (let o = 0; o < bytes >> 2; o += 2) {
        let lo = DEST[o] >>> 0;
        let hi = DEST[o + 1] >>> 0;
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
        DST[o] = lo;
        DST[o + 1] = hi;
      }
    };
  }
  const l = bits === 16 ? (kind === 1 ? L.I16 : L.U16) : kind === 1 ? L.I32 : L.U32;
  const a = AV[l],
    o = DV[l];
  const n = (bytes * 8) / bits;
  return (count: number): void => {
    for (let k = 0; k < n; k++) {
      const v = a[k];
      if (kind === 1) o[k] = count >= bits ? (v < 0 ? -1 : 0) : v >> count;
      else if (count >= bits) o[k] = 0;
      else o[k] = kind === 2 ? v << count : v >>> count;
    }
  };
}

/** Shift count of a register/memory shift operand: the whole low quadword of SRC, saturated to 255. */
export function srcShiftCount(): number {
  return SRC[1] !== 0 || SRC[0] < 0 || SRC[0] > 255 ? 255 : SRC[0];
}

// ------------------------------------------------------------------ SSSE3

/** PSHUFB: byte shuffle by control bytes (bit 7 zeroes; index taken modulo the width). */
export function kPshufb(bytes: number): Kernel {
  const a = AV[L.U8],
    b = SV[L.U8],
    o = DV[L.U8];
  const m = bytes - 1;
  return () => {
    for (let k = 0; k < bytes; k++) o[k] = b[k] & 0x80 ? 0 : a[b[k] & m];
  };
}

/** PHADDx/PHSUBx: horizontal pairs of DEST then of SRC. */
export function kPhop(l: L, f: LaneFn, bytes: number): Kernel {
  const n = laneCount(l, bytes);
  const a = AV[l],
    b = SV[l],
    o = DV[l];
  const h = n >> 1;
  return () => {
    for (let k = 0; k < h; k++) {
      o[k] = f(a[2 * k], a[2 * k + 1]);
      o[h + k] = f(b[2 * k], b[2 * k + 1]);
    }
  };
}

/** PMADDUBSW: unsigned DEST bytes × signed SRC bytes, pairs added with signed saturation. */
export function kPmaddubsw(bytes: number): Kernel {
  const a = AV[L.U8],
    b = SV[L.I8],
    o = DV[L.I16];
  return () => {
    for (let k = 0; k < bytes >> 1; k++)
      o[k] = sat(a[2 * k] * b[2 * k] + a[2 * k + 1] * b[2 * k + 1], -32768, 32767);
  };
}

/** PALIGNR: (DEST:SRC) shifted right by `n` bytes, low `bytes` bytes kept. */
export function kPalignr(bytes: number): (n: number) => void {
  const a = AV[L.U8],
    b = SV[L.U8],
    o = DV[L.U8];
  return (n: number): void => {
    for (let k = 0; k < bytes; k++) {
      const j = k + n;
      o[k] = j < bytes ? b[j] : j < 2 * bytes ? a[j - bytes] : 0;
    }
  };
}

// ------------------------------------------------------------------ element-function tables

const i8 = (v: number): number => sat(v, -128, 127);
const u8 = (v: number): number => sat(v, 0, 255);
const i16 = (v: number): number => sat(v, -32768, 32767);
const u16 = (v: number): number => sat(v, 0, 65535);

/**
 * The element-wise two-operand instructions of the 0F map that exist in both the MMX (no
 * prefix, mm) and SSE2 (66, xmm) forms: [0F-map opcode, mnemonic, lane kind, element function].
 */
export const LANE_OPS: readonly (readonly [number, string, L, LaneFn])[] = [
  [0x164, "pcmpgtb", L.I8, (a, b) => (a > b ? -1 : 0)],
  [0x165, "pcmpgtw", L.I16, (a, b) => (a > b ? -1 : 0)],
  [0x166, "pcmpgtd", L.I32, (a, b) => (a > b ? -1 : 0)],
  [0x174, "pcmpeqb", L.I8, (a, b) => (a === b ? -1 : 0)],
  [0x175, "pcmpeqw", L.I16, (a, b) => (a === b ? -1 : 0)],
  [0x176, "pcmpeqd", L.I32, (a, b) => (a === b ? -1 : 0)],
  [0x1d5, "pmullw", L.I16, (a, b) => Math.imul(a, b)],
  [0x1d8, "psubusb", L.U8, (a, b) => u8(a - b)],
  [0x1d9, "psubusw", L.U16, (a, b) => u16(a - b)],
  [0x1da, "pminub", L.U8, (a, b) => (a < b ? a : b)],
  [0x1db, "pand", L.I32, (a, b) => a & b],
  [0x1dc, "paddusb", L.U8, (a, b) => u8(a + b)],
  [0x1dd, "paddusw", L.U16, (a, b) => u16(a + b)],
  [0x1de, "pmaxub", L.U8, (a, b) => (a > b ? a : b)],
  [0x1df, "pandn", L.I32, (a, b) => ~a & b],
  [0x1e0, "pavgb", L.U8, (a, b) => (a + b + 1) >> 1],
  [0x1e3, "pavgw", L.U16, (a, b) => (a + b + 1) >> 1],
  [0x1e4, "pmulhuw", L.U16, (a, b) => (a * b) / 65536],
  [0x1e5, "pmulhw", L.I16, (a, b) => (a * b) >> 16],
  [0x1e8, "psubsb", L.I8, (a, b) => i8(a - b)],
  [0x1e9, "psubsw", L.I16, (a, b) => i16(a - b)],
  [0x1ea, "pminsw", L.I16, (a, b) => (a < b ? a : b)],
  [0x1eb, "por", L.I32, (a, b) => a | b],
  [0x1ec, "paddsb", L.I8, (a, b) => i8(a + b)],
  [0x1ed, "paddsw", L.I16, (a, b) => i16(a + b)],
  [0x1ee, "pmaxsw", L.I16, (a, b) => (a > b ? a : b)],
  [0x1ef, "pxor", L.I32, (a, b) => a ^ b],
  [0x1f8, "psubb", L.I8, (a, b) => a - b],
  [0x1f9, "psubw", L.I16, (a, b) => a - b],
  [0x1fa, "psubd", L.I32, (a, b) => a - b],
  [0x1fc, "paddb", L.I8, (a, b) => a + b],
  [0x1fd, "paddw", L.I16, (a, b) => a + b],
  [0x1fe, "paddd", L.I32, (a, b) => a + b],
];

/** PMULHRSW element: high 16 bits of the rounded, scaled product. */
export const mulhrs: LaneFn = (a, b) => (((a * b) >> 14) + 1) >> 1;
/** PSIGNx element. */
export const psign: LaneFn = (a, b) => (b < 0 ? -a : b === 0 ? 0 : a);

/** SSSE3 0F 38 horizontal ops: [opcode low byte, mnemonic, lane kind, pair function]. */
export const SSSE3_HOPS: readonly (readonly [number, string, L, LaneFn])[] = [
  [0x01, "phaddw", L.I16, (a, b) => a + b],
  [0x02, "phaddd", L.I32, (a, b) => a + b],
  [0x03, "phaddsw", L.I16, (a, b) => i16(a + b)],
  [0x05, "phsubw", L.I16, (a, b) => a - b],
  [0x06, "phsubd", L.I32, (a, b) => a - b],
  [0x07, "phsubsw", L.I16, (a, b) => i16(a - b)],
];

/** SSSE3 0F 38 element-wise ops: [opcode low byte, mnemonic, lane kind, element function]. */
export const SSSE3_LANES: readonly (readonly [number, string, L, LaneFn])[] = [
  [0x08, "psignb", L.I8, psign],
  [0x09, "psignw", L.I16, psign],
  [0x0a, "psignd", L.I32, psign],
  [0x0b, "pmulhrsw", L.I16, mulhrs],
];

/** SSSE3 PABSx: [opcode low byte, mnemonic, lane kind]; |x| wraps for the most negative value. */
export const SSSE3_ABS: readonly (readonly [number, string, L])[] = [
  [0x1c, "pabsb", L.I8],
  [0x1d, "pabsw", L.I16],
  [0x1e, "pabsd", L.I32],
];
