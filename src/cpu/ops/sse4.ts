/**
 * SSSE3, SSE4.1 and SSE4.2 (66-prefixed 0F 38 / 0F 3A maps, plus F2 0F 38 F0/F1 CRC32):
 * SDM Vol.1 12.7-12.10 and the Vol.2 entries of each mnemonic. SSSE3: PSHUFB, PHADDx/PHSUBx,
 * PMADDUBSW, PMULHRSW, PSIGNx, PABSx, PALIGNR. SSE4.1: blends, PMINx/PMAXx, PMOVSX/ZX, PTEST,
 * ROUNDxx, DPPS/DPPD, INSERTPS/EXTRACTPS, PEXTRx/PINSRx, PMULLD/PMULDQ, PACKUSDW, PCMPEQQ,
 * MPSADBW, PHMINPOSUW, MOVNTDQA. SSE4.2: PCMPGTQ, PCMP[EI]STR[IM] (12.10.2 / Vol.2 4.1
 * "Imm8 Control Byte Operation for PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM"), CRC32.
 * The SSSE3 forms here are the XMM ones; their lane kernels live in sse/int-lanes.ts and are
 * shared with the MMX-register forms, which ops/mmx-sse.ts registers.
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { mandatory, Mandatory, Imm } from "../optable.js";
import { ud } from "../fault.js";
import { sseCheck, readRm128, readRmLow, setXmm, memLinear, commitFlags, DST } from "../sse/sse-util.js";
import { L, lanes, srcView, dstView, laneCount, pack, mulU32, k128 } from "./sse-int.js";
import {
  copyDest,
  kPalignr,
  kPhop,
  kPmaddubsw,
  kPshufb,
  SSSE3_ABS,
  SSSE3_HOPS,
  SSSE3_LANES,
} from "../sse/int-lanes.js";
import { movLoad128 } from "./sse-fp.js";
import { FP, FpOp, f32Arith, f64Arith, f32RoundInt, f64RoundInt } from "../sse/softfp.js";

const P66 = Mandatory.P66;
const SB = srcView(L.U8);
const DB = dstView(L.U8);

// ------------------------------------------------------------------ SSSE3

const palignrK = kPalignr(16);

/** PALIGNR xmm, xmm/m128, imm8: (dest:src) >> imm8*8 bytes (the shared kernel of sse/int-lanes.ts). */
function palignr(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  readRm128(cpu, i, true);
  copyDest(cpu.sse.xmm, i.reg << 2, 16);
  palignrK(i.imm & 0xff);
  setXmm(cpu, i.reg, DST);
}

// ------------------------------------------------------------------ SSE4.1

/** PBLENDVB / BLENDVPS / BLENDVPD: select by the sign bit of each mask element of XMM0. */
function blendv(size: number) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    readRm128(cpu, i, true);
    const b = cpu.sse.bytes;
    const base = i.reg * 16;
    for (let k = 0; k < 16; k++) {
      const sel = b[k - (k % size) + size - 1] & 0x80;
      DB[k] = sel ? SB[k] : b[base + k];
    }
    setXmm(cpu, i.reg, DST);
  };
}

/** BLENDPS / BLENDPD / PBLENDW with imm8 mask. */
function blendImm(size: number) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    readRm128(cpu, i, true);
    const b = cpu.sse.bytes;
    const base = i.reg * 16;
    for (let k = 0; k < 16; k++) DB[k] = (i.imm >> ((k / size) | 0)) & 1 ? SB[k] : b[base + k];
    setXmm(cpu, i.reg, DST);
  };
}

/** PTEST: ZF ← (dest AND src) = 0; CF ← (NOT dest AND src) = 0; others cleared. */
function ptest(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRm128(cpu, i, true);
  const x = cpu.sse.xmm;
  const d = i.reg << 2;
  let z = 0;
  let c = 0;
  for (let k = 0; k < 4; k++) {
    z |= x[d + k] & s[k];
    c |= ~x[d + k] & s[k];
  }
  cpu.setFlagBits(0x8d5, (z === 0 ? 0x40 : 0) | (c === 0 ? 1 : 0));
}

/** PMOVSX/PMOVZX: widen the low elements of the source (memory operand of 16/size bytes). */
function pmovx(from: L, to: L) {
  const nTo = laneCount(to);
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const mb = (16 * nTo) / laneCount(from);
    if (i.mod === 3) readRm128(cpu, i, false);
    else {
      const lin = memLinear(cpu, i, mb, false, 1);
      for (let k = 0; k < mb; k++) SB[k] = cpu.linRead8(lin + k);
    }
    const s = srcView(from);
    const o = dstView(to);
    for (let k = 0; k < nTo; k++) o[k] = s[k];
    setXmm(cpu, i.reg, DST);
  };
}

/** PMOVSXDQ / PMOVZXDQ: dwords → qwords. */
function pmovxdq(signed: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRmLow(cpu, i, 8);
    const a = s[0];
    const b = s[1];
    DST[0] = a;
    DST[1] = signed && a < 0 ? -1 : 0;
    DST[2] = b;
    DST[3] = signed && b < 0 ? -1 : 0;
    setXmm(cpu, i.reg, DST);
  };
}

/** PMULDQ: signed dwords 0 and 2 → 64-bit products. */
function pmuldq(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRm128(cpu, i, true);
  const x = cpu.sse.xmm;
  const d = i.reg << 2;
  for (let k = 0; k < 4; k += 2) {
    const a = x[d + k];
    const b = s[k];
    mulU32(Math.abs(a), Math.abs(b), DST, k);
    if (a < 0 !== b < 0 && (DST[k] !== 0 || DST[k + 1] !== 0)) {
      // negate 64-bit
      const lo = (~DST[k] + 1) | 0;
      DST[k + 1] = ~DST[k + 1] + (lo === 0 ? 1 : 0);
      DST[k] = lo;
    }
  }
  setXmm(cpu, i.reg, DST);
}

/** PCMPEQQ / PCMPGTQ. */
function cmpq(gt: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = readRm128(cpu, i, true);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    for (let k = 0; k < 4; k += 2) {
      const ah = x[d + k + 1],
        bh = s[k + 1];
      const al = x[d + k] >>> 0,
        bl = s[k] >>> 0;
      const r = gt ? ah > bh || (ah === bh && al > bl) : ah === bh && al === bl;
      x[d + k] = x[d + k + 1] = r ? -1 : 0;
    }
  };
}

/** PHMINPOSUW: minimum unsigned word and its index. */
function phminposuw(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  readRm128(cpu, i, true);
  const s = srcView(L.U16);
  let m = s[0];
  let idx = 0;
  for (let k = 1; k < 8; k++)
    if (s[k] < m) {
      m = s[k];
      idx = k;
    }
  DST[0] = m | (idx << 16);
  DST[1] = DST[2] = DST[3] = 0;
  setXmm(cpu, i.reg, DST);
}

/** MPSADBW: eight sums of absolute differences of 4-byte groups (imm8 selects offsets). */
function mpsadbw(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  readRm128(cpu, i, true);
  const a = cpu.sse.bytes;
  const base = i.reg * 16 + ((i.imm >> 2) & 1) * 4;
  const so = (i.imm & 3) * 4;
  const o = dstView(L.U16);
  for (let k = 0; k < 8; k++) {
    let sum = 0;
    for (let j = 0; j < 4; j++) sum += Math.abs(a[base + k + j] - SB[so + j]);
    o[k] = sum;
  }
  setXmm(cpu, i.reg, DST);
}

/** ROUNDPS/PD/SS/SD xmm, xmm/m, imm8. */
function round(pd: boolean, scalar: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const s = scalar ? readRmLow(cpu, i, pd ? 8 : 4) : readRm128(cpu, i, true);
    const x = cpu.sse.xmm;
    const d = i.reg << 2;
    const mx = cpu.sse.mxcsr;
    FP.flags = 0;
    DST.set(x.subarray(d, d + 4));
    if (!pd) {
      for (let k = 0; k < (scalar ? 1 : 4); k++) DST[k] = f32RoundInt(s[k], i.imm, mx);
    } else {
      for (let k = 0; k < (scalar ? 1 : 2); k++) {
        f64RoundInt(s[2 * k], s[2 * k + 1], i.imm, mx);
        DST[2 * k] = FP.lo;
        DST[2 * k + 1] = FP.hi;
      }
    }
    commitFlags(cpu, FP.flags);
    setXmm(cpu, i.reg, DST);
  };
}

/**
 * DPPS: products of the elements selected by imm8[7:4], summed as ((p0+p1)+(p2+p3)), the
 * sum broadcast to elements selected by imm8[3:0] (SDM Vol.2 DPPS operation).
 */
function dpps(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRm128(cpu, i, true);
  const x = cpu.sse.xmm;
  const d = i.reg << 2;
  const mx = cpu.sse.mxcsr;
  FP.flags = 0;
  const p: number[] = [];
  for (let k = 0; k < 4; k++) p.push((i.imm >> (4 + k)) & 1 ? f32Arith(FpOp.Mul, x[d + k], s[k], mx) : 0);
  const t0 = f32Arith(FpOp.Add, p[0], p[1], mx);
  const t1 = f32Arith(FpOp.Add, p[2], p[3], mx);
  const r = f32Arith(FpOp.Add, t0, t1, mx);
  for (let k = 0; k < 4; k++) DST[k] = (i.imm >> k) & 1 ? r : 0;
  commitFlags(cpu, FP.flags);
  setXmm(cpu, i.reg, DST);
}

/** DPPD: as DPPS for two doubles (imm8[5:4] and imm8[1:0]). */
function dppd(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const s = readRm128(cpu, i, true);
  const x = cpu.sse.xmm;
  const d = i.reg << 2;
  const mx = cpu.sse.mxcsr;
  FP.flags = 0;
  const p = [0, 0, 0, 0];
  for (let k = 0; k < 2; k++) {
    if ((i.imm >> (4 + k)) & 1) {
      f64Arith(FpOp.Mul, x[d + 2 * k], x[d + 2 * k + 1], s[2 * k], s[2 * k + 1], mx);
      p[2 * k] = FP.lo;
      p[2 * k + 1] = FP.hi;
    }
  }
  f64Arith(FpOp.Add, p[0], p[1], p[2], p[3], mx);
  const lo = FP.lo;
  const hi = FP.hi;
  for (let k = 0; k < 2; k++) {
    DST[2 * k] = (i.imm >> k) & 1 ? lo : 0;
    DST[2 * k + 1] = (i.imm >> k) & 1 ? hi : 0;
  }
  commitFlags(cpu, FP.flags);
  setXmm(cpu, i.reg, DST);
}

/** INSERTPS xmm, xmm/m32, imm8. */
function insertps(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  let v: number;
  if (i.mod === 3) v = cpu.sse.xmm[(i.rm << 2) + ((i.imm >> 6) & 3)];
  else v = readRmLow(cpu, i, 4)[0];
  const x = cpu.sse.xmm;
  const d = i.reg << 2;
  x[d + ((i.imm >> 4) & 3)] = v;
  for (let k = 0; k < 4; k++) if ((i.imm >> k) & 1) x[d + k] = 0;
}

/** PEXTRB/PEXTRW/PEXTRD/PEXTRQ/EXTRACTPS r/m, xmm, imm8 (register destinations zero-extend). */
function pextr(size: number) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const w = size === 4 && (i.rex & 8) !== 0;
    const sz = w ? 8 : size;
    const n = 16 / sz;
    const off = i.reg * 16 + (i.imm & (n - 1)) * sz;
    const b = cpu.sse.bytes;
    let lo = 0;
    for (let k = 0; k < Math.min(sz, 4); k++) lo |= b[off + k] << (8 * k);
    let hi = 0;
    if (sz === 8) for (let k = 0; k < 4; k++) hi |= b[off + 4 + k] << (8 * k);
    lo >>>= 0;
    if (i.mod === 3) cpu.setReg(i.rm, sz === 8 ? 8 : 4, lo, hi >>> 0);
    else cpu.write(i.seg, cpu.ea(i), sz, lo, hi >>> 0);
  };
}

/** PINSRB/PINSRD/PINSRQ xmm, r/m, imm8. */
function pinsr(size: number) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const w = size === 4 && (i.rex & 8) !== 0;
    const sz = w ? 8 : size;
    let lo: number;
    let hi = 0;
    if (i.mod === 3) {
      lo = cpu.getReg(i.rm, sz === 8 ? 8 : 4);
      hi = cpu.rhi;
    } else {
      lo = cpu.read(i.seg, cpu.ea(i), sz);
      hi = cpu.rhi;
    }
    const n = 16 / sz;
    const off = i.reg * 16 + (i.imm & (n - 1)) * sz;
    const b = cpu.sse.bytes;
    for (let k = 0; k < sz; k++) b[off + k] = k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4));
  };
}

// ------------------------------------------------------------------ SSE4.2 string compares

/**
 * PCMPxSTRx core (SDM Vol.2 4.1): returns IntRes2 as a 16-bit mask and sets flags.
 * `la`/`lb` are the valid element counts of the first (xmm) and second (xmm/m128) operands.
 */
function strCompare(cpu: Cpu, i: Instr, explicit: boolean): { res: number; n: number } {
  const imm = i.imm;
  const words = (imm & 1) !== 0;
  const signed = (imm & 2) !== 0;
  const agg = (imm >> 2) & 3;
  const pol = (imm >> 4) & 3;
  const n = words ? 8 : 16;
  readRm128(cpu, i, false);
  const x = cpu.sse;
  const A: number[] = [];
  const B: number[] = [];
  const av = words ? (signed ? x.i16 : x.u16) : signed ? x.i8 : x.bytes;
  const bv = srcView(words ? (signed ? L.I16 : L.U16) : signed ? L.I8 : L.U8);
  for (let k = 0; k < n; k++) {
    A.push(av[i.reg * n + k]);
    B.push(bv[k]);
  }
  let la: number;
  let lb: number;
  if (explicit) {
    const w = (i.rex & 8) !== 0;
    const abs = (r: number): number => {
      // Signed 32-bit (or 64-bit with REX.W) length, absolute value saturated to n.
      const lo = cpu.lo[r];
      const hi = cpu.hi[r];
      if (w && !(hi === 0 && lo >= 0) && !(hi === -1 && lo < 0)) return n;
      const v = Math.abs(lo);
      return v > n ? n : v;
    };
    la = abs(0);
    lb = abs(2);
  } else {
    la = A.indexOf(0);
    if (la < 0) la = n;
    lb = B.indexOf(0);
    if (lb < 0) lb = n;
  }
  let res1 = 0;
  for (let j = 0; j < n; j++) {
    // j indexes the second operand (B), k the first (A)
    let bit = 0;
    switch (agg) {
      case 0: // equal any
        for (let k = 0; k < la; k++) if (j < lb && A[k] === B[j]) bit = 1;
        break;
      case 1: // ranges
        for (let k = 0; k + 1 < n; k += 2) {
          if (j < lb && k + 1 < la && B[j] >= A[k] && B[j] <= A[k + 1]) bit = 1;
        }
        break;
      case 2: // equal each
        if (j >= la && j >= lb) bit = 1;
        else if (j < la && j < lb) bit = A[j] === B[j] ? 1 : 0;
        else bit = 0;
        break;
      default: {
        // equal ordered
        bit = 1;
        for (let k = 0; k < n - j; k++) {
          if (k >= la) break;
          if (j + k >= lb) {
            bit = 0;
            break;
          }
          if (A[k] !== B[j + k]) {
            bit = 0;
            break;
          }
        }
        break;
      }
    }
    res1 |= bit << j;
  }
  const all = (1 << n) - 1;
  let res2 = res1;
  if (pol === 1) res2 = ~res1 & all;
  else if (pol === 3) res2 = res1 ^ ((1 << lb) - 1);
  cpu.setFlagBits(
    0x8d5,
    (res2 !== 0 ? 0x01 : 0) | (lb < n ? 0x40 : 0) | (la < n ? 0x80 : 0) | (res2 & 1 ? 0x800 : 0),
  );
  return { res: res2, n };
}

/** PCMPESTRI / PCMPISTRI: index into ECX. */
function pcmpstri(explicit: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const { res, n } = strCompare(cpu, i, explicit);
    let idx = n;
    if (res !== 0) idx = i.imm & 0x40 ? 31 - Math.clz32(res) : 31 - Math.clz32(res & -res);
    cpu.setReg(1, 4, idx);
  };
}

/** PCMPESTRM / PCMPISTRM: mask into XMM0 (bit mask or expanded per imm8[6]). */
function pcmpstrm(explicit: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const { res, n } = strCompare(cpu, i, explicit);
    if (i.imm & 0x40) {
      const size = 16 / n;
      for (let k = 0; k < 16; k++) DB[k] = (res >> ((k / size) | 0)) & 1 ? 0xff : 0;
    } else {
      DST[0] = res;
      DST[1] = DST[2] = DST[3] = 0;
    }
    setXmm(cpu, 0, DST);
  };
}

// ------------------------------------------------------------------ CRC32

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC_TABLE[n] = c;
}

/** CRC32 r32/r64, r/m8|16|32|64 (F2 0F 38 F0/F1; CRC-32C polynomial 11EDC6F41H, bit-reflected). */
function crc32(byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const w = (i.rex & 8) !== 0;
    const size = byte ? 1 : w ? 8 : i.opsizePrefix ? 2 : 4;
    const lo = cpu.readRM(i, size);
    const hi = cpu.rhi;
    let c = cpu.lo[i.reg];
    const feed = (v: number, n: number): void => {
      for (let k = 0; k < n; k++) c = (c >>> 8) ^ CRC_TABLE[(c ^ (v >>> (8 * k))) & 0xff];
    };
    feed(lo, Math.min(size, 4));
    if (size === 8) feed(hi, 4);
    cpu.setReg(i.reg, w ? 8 : 4, c >>> 0, 0);
  };
}

// ------------------------------------------------------------------ registration

const m38 = (o: number, name: string, h: (cpu: Cpu, i: Instr) => void): void =>
  mandatory(0x200 | o, P66, name, h);
const m3a = (o: number, name: string, h: (cpu: Cpu, i: Instr) => void): void =>
  mandatory(0x300 | o, P66, name, h, true, Imm.Ib);

// SSSE3: the 16-byte forms of the kernels and element tables shared with the mm forms (ops/mmx-sse.ts).
m38(0x00, "pshufb", k128(kPshufb(16)));
for (const [o, name, l, f] of SSSE3_HOPS) m38(o, name, k128(kPhop(l, f, 16)));
m38(0x04, "pmaddubsw", k128(kPmaddubsw(16)));
for (const [o, name, l, f] of SSSE3_LANES) m38(o, name, lanes(l, f));
for (const [o, name, l] of SSSE3_ABS)
  m38(
    o,
    name,
    lanes(l, (_a, b) => Math.abs(b)),
  );
m3a(0x0f, "palignr", palignr);

m38(0x10, "pblendvb", blendv(1));
m38(0x14, "blendvps", blendv(4));
m38(0x15, "blendvpd", blendv(8));
m38(0x17, "ptest", ptest);
m38(0x20, "pmovsxbw", pmovx(L.I8, L.I16));
m38(0x21, "pmovsxbd", pmovx(L.I8, L.I32));
m38(0x22, "pmovsxbq", pmovxq(L.I8));
m38(0x23, "pmovsxwd", pmovx(L.I16, L.I32));
m38(0x24, "pmovsxwq", pmovxq(L.I16));
m38(0x25, "pmovsxdq", pmovxdq(true));
m38(0x28, "pmuldq", pmuldq);
m38(0x29, "pcmpeqq", cmpq(false));
m38(0x2a, "movntdqa", (cpu, i) => {
  if (i.mod === 3) ud();
  movLoad128(true)(cpu, i);
});
m38(0x2b, "packusdw", pack(L.I32, L.U16, 0, 65535));
m38(0x30, "pmovzxbw", pmovx(L.U8, L.I16));
m38(0x31, "pmovzxbd", pmovx(L.U8, L.I32));
m38(0x32, "pmovzxbq", pmovxq(L.U8));
m38(0x33, "pmovzxwd", pmovx(L.U16, L.I32));
m38(0x34, "pmovzxwq", pmovxq(L.U16));
m38(0x35, "pmovzxdq", pmovxdq(false));
m38(0x37, "pcmpgtq", cmpq(true));
m38(
  0x38,
  "pminsb",
  lanes(L.I8, (a, b) => (a < b ? a : b)),
);
m38(
  0x39,
  "pminsd",
  lanes(L.I32, (a, b) => (a < b ? a : b)),
);
m38(
  0x3a,
  "pminuw",
  lanes(L.U16, (a, b) => (a < b ? a : b)),
);
m38(
  0x3b,
  "pminud",
  lanes(L.U32, (a, b) => (a < b ? a : b)),
);
m38(
  0x3c,
  "pmaxsb",
  lanes(L.I8, (a, b) => (a > b ? a : b)),
);
m38(
  0x3d,
  "pmaxsd",
  lanes(L.I32, (a, b) => (a > b ? a : b)),
);
m38(
  0x3e,
  "pmaxuw",
  lanes(L.U16, (a, b) => (a > b ? a : b)),
);
m38(
  0x3f,
  "pmaxud",
  lanes(L.U32, (a, b) => (a > b ? a : b)),
);
m38(
  0x40,
  "pmulld",
  lanes(L.I32, (a, b) => Math.imul(a, b)),
);
m38(0x41, "phminposuw", phminposuw);

m3a(0x08, "roundps", round(false, false));
m3a(0x09, "roundpd", round(true, false));
m3a(0x0a, "roundss", round(false, true));
m3a(0x0b, "roundsd", round(true, true));
m3a(0x0c, "blendps", blendImm(4));
m3a(0x0d, "blendpd", blendImm(8));
m3a(0x0e, "pblendw", blendImm(2));
m3a(0x14, "pextrb", pextr(1));
m3a(0x15, "pextrw", pextr(2));
m3a(0x16, "pextrd", pextr(4));
m3a(0x17, "extractps", pextrps);
m3a(0x20, "pinsrb", pinsr(1));
m3a(0x21, "insertps", insertps);
m3a(0x22, "pinsrd", pinsr(4));
m3a(0x40, "dpps", dpps);
m3a(0x41, "dppd", dppd);
m3a(0x42, "mpsadbw", mpsadbw);
m3a(0x60, "pcmpestrm", pcmpstrm(true));
m3a(0x61, "pcmpestri", pcmpstri(true));
m3a(0x62, "pcmpistrm", pcmpstrm(false));
m3a(0x63, "pcmpistri", pcmpstri(false));
mandatory(0x2f0, Mandatory.PF2, "crc32", crc32(true));
mandatory(0x2f1, Mandatory.PF2, "crc32", crc32(false));

/** PMOVSX/ZX to qwords (BQ, WQ): two source elements. */
function pmovxq(from: L) {
  return (cpu: Cpu, i: Instr): void => {
    sseCheck(cpu);
    const mb = from <= L.U8 ? 2 : 4;
    if (i.mod === 3) readRm128(cpu, i, false);
    else {
      const lin = memLinear(cpu, i, mb, false, 1);
      for (let k = 0; k < mb; k++) SB[k] = cpu.linRead8(lin + k);
    }
    const s = srcView(from);
    const a = s[0];
    const b = s[1];
    DST[0] = a;
    DST[1] = a < 0 ? -1 : 0;
    DST[2] = b;
    DST[3] = b < 0 ? -1 : 0;
    setXmm(cpu, i.reg, DST);
  };
}

/** EXTRACTPS r/m32, xmm, imm8 (a 64-bit register destination is zero-extended). */
function pextrps(cpu: Cpu, i: Instr): void {
  sseCheck(cpu);
  const v = cpu.sse.xmm[(i.reg << 2) + (i.imm & 3)] >>> 0;
  if (i.mod === 3) cpu.setReg(i.rm, 4, v);
  else cpu.write(i.seg, cpu.ea(i), 4, v);
}
