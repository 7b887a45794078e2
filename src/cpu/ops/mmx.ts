/**
 * MMX technology (SDM Vol.1 chapter 9; Vol.2 entries of each mnemonic) and the 64-bit MMX
 * forms added by SSE/SSE2 (SDM Vol.1 10.4.4 "SSE 64-Bit SIMD Integer Instructions", 11.4.2):
 * no-prefix entries of the 0F map.
 *
 * Register model (SDM Vol.1 9.2, 9.5): MM0-MM7 are the 64-bit significands of the physical
 * x87 registers R0-R7. Every MMX instruction except EMMS sets TOP to 0 and makes every tag
 * valid (not empty); a write of an MM register sets bits 79:64 (sign and exponent) of that
 * x87 register to all ones (SDM Vol.1 Table 9-1). Because this core keeps the *full* tag word
 * (x87-state.ts), the tags are kept equal to what the hardware reports through FSTENV/FSAVE
 * after the transition: the tag each register's contents deserve (SDM Vol.1 8.1.7; checked on
 * the host CPU, e.g. an MMX-written register reads back as "special" 10B); FXSAVE's abridged
 * tag is then all ones. EMMS empties all tags (FTW = FFFFH).
 *
 * Exceptions (SDM Vol.3 Table 22-7/22-8 "Exception Conditions for SIMD/MMX Instructions"):
 * CR0.EM=1 → #UD; CR0.TS=1 → #NM; a pending unmasked x87 exception (FSW.ES) → #MF with
 * CR0.NE=1 (with NE=0 the FERR# path is not modelled, as in x87.ts). Memory operands have no
 * alignment requirement. The state transition happens only once the instruction can no longer
 * fault.
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { CpuFault, nm, ud } from "../fault.js";
import { mandatory, Mandatory, Imm } from "../optable.js";
import { CR0 } from "../../x86/cr.js";
import type { X87State } from "../fpu/x87-state.js";
import { FSW_ES, tagFor } from "./x87.js";
import { SRC, DST } from "../sse/sse-util.js";
import {
  L,
  DEST,
  AV,
  SV,
  DV,
  LANE_OPS,
  kLanes,
  kAddq,
  kPmuludq,
  kPmaddwd,
  kPsadbw,
  kPack,
  kPunpck,
  kShift,
  srcShiftCount,
  type Kernel,
} from "../sse/int-lanes.js";

const None = Mandatory.None;

// ------------------------------------------------------------------ state helpers

/**
 * Availability checks of an MMX instruction: CR0.EM → #UD, CR0.TS → #NM, pending x87
 * exception → #MF (SDM Vol.3 Table 22-8).
 */
export function mmxCheck(cpu: Cpu): X87State {
  if (cpu.cr0 & CR0.EM) ud();
  if (cpu.cr0 & CR0.TS) nm();
  const x = cpu.x87;
  if (x.fsw & FSW_ES && cpu.cr0 & CR0.NE) throw new CpuFault(16, -1);
  return x;
}

/**
 * The x87 → MMX transition (SDM Vol.1 9.5.1): TOP ← 0 and no register empty. Empty registers
 * get the tag their contents deserve; the others already have it.
 */
export function mmxEnter(x: X87State): void {
  x.fsw &= ~0x3800;
  const t = x.ftw;
  if ((t & (t >>> 1) & 0x5555) === 0) return;
  let ftw = 0;
  for (let p = 0; p < 8; p++) {
    const old = (t >>> (2 * p)) & 3;
    ftw |= (old === 3 ? tagFor(x.regs[p]) : old) << (2 * p);
  }
  x.ftw = ftw;
}

/** Write MMn (low, high dwords): significand ← value, sign/exponent ← FFFFH, tag ← special. */
export function setMm(x: X87State, n: number, lo: number, hi: number): void {
  x.regs[n].set(1, 0x7fff, hi, lo);
  x.ftw = (x.ftw & ~(3 << (2 * n))) | (2 << (2 * n));
}

/** Load MMn into DEST[0..1]. */
export function mmToDest(x: X87State, n: number): void {
  const r = x.regs[n];
  DEST[0] = r.lo;
  DEST[1] = r.hi;
}

/**
 * Load the mm/m64 source operand into SRC[0..1] (`size` = 4 reads a 32-bit memory operand
 * into SRC[0] with SRC[1] = 0, as the low unpacks do).
 */
export function mmSrc(cpu: Cpu, i: Instr, x: X87State, size: 4 | 8 = 8): void {
  if (i.mod === 3) {
    const r = x.regs[i.rm & 7];
    SRC[0] = r.lo;
    SRC[1] = r.hi;
  } else if (size === 8) {
    SRC[0] = cpu.read(i.seg, cpu.ea(i), 8);
    SRC[1] = cpu.rhi;
  } else {
    SRC[0] = cpu.read(i.seg, cpu.ea(i), 4);
    SRC[1] = 0;
  }
}

/** mm, mm/m64 instruction computed by `k` from DEST (mm) and SRC into DST → mm. */
function mmOp(k: Kernel, srcSize: 4 | 8 = 8) {
  return (cpu: Cpu, i: Instr): void => {
    const x = mmxCheck(cpu);
    mmSrc(cpu, i, x, srcSize);
    const d = i.reg & 7;
    mmToDest(x, d);
    k();
    mmxEnter(x);
    setMm(x, d, DST[0], DST[1]);
  };
}

// ------------------------------------------------------------------ moves

/** EMMS (0F 77): all tags empty (SDM Vol.2 EMMS). */
function emms(cpu: Cpu): void {
  const x = mmxCheck(cpu);
  x.ftw = 0xffff;
}

/** MOVD mm, r/m32 / MOVQ mm, r/m64 (0F 6E, REX.W): zero-extended. */
function movdToMm(cpu: Cpu, i: Instr): void {
  const x = mmxCheck(cpu);
  const w = (i.rex & 8) !== 0;
  const lo = cpu.readRM(i, w ? 8 : 4);
  const hi = w ? cpu.rhi : 0;
  mmxEnter(x);
  setMm(x, i.reg & 7, lo, hi);
}

/** MOVD r/m32, mm / MOVQ r/m64, mm (0F 7E, REX.W). */
function movdFromMm(cpu: Cpu, i: Instr): void {
  const x = mmxCheck(cpu);
  const r = x.regs[i.reg & 7];
  cpu.writeRM(i, (i.rex & 8) !== 0 ? 8 : 4, r.lo, r.hi);
  mmxEnter(x);
}

/** MOVQ mm, mm/m64 (0F 6F). */
function movqLoad(cpu: Cpu, i: Instr): void {
  const x = mmxCheck(cpu);
  mmSrc(cpu, i, x);
  mmxEnter(x);
  setMm(x, i.reg & 7, SRC[0], SRC[1]);
}

/** MOVQ mm/m64, mm (0F 7F) and MOVNTQ m64, mm (0F E7, memory only, a plain store here). */
function movqStore(memOnly: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    if (memOnly && i.mod === 3) ud();
    const x = mmxCheck(cpu);
    const r = x.regs[i.reg & 7];
    const lo = r.lo,
      hi = r.hi;
    if (i.mod === 3) {
      mmxEnter(x);
      setMm(x, i.rm & 7, lo, hi);
      return;
    }
    cpu.write(i.seg, cpu.ea(i), 8, lo, hi);
    mmxEnter(x);
  };
}

// ------------------------------------------------------------------ shifts

/** PSRLx/PSRAx/PSLLx mm, mm/m64: count = the whole source quadword. */
function shiftReg(bits: number, kind: number) {
  const k = kShift(bits, kind, 8);
  return (cpu: Cpu, i: Instr): void => {
    const x = mmxCheck(cpu);
    mmSrc(cpu, i, x);
    const d = i.reg & 7;
    mmToDest(x, d);
    k(srcShiftCount());
    mmxEnter(x);
    setMm(x, d, DST[0], DST[1]);
  };
}

const SHIFT_IMM: ((count: number) => void)[] = [];
for (const [bits, kind] of [
  [16, 0],
  [16, 1],
  [16, 2],
  [32, 0],
  [32, 1],
  [32, 2],
  [64, 0],
  [64, 2],
])
  SHIFT_IMM[bits * 4 + kind] = kShift(bits, kind, 8);

/** Groups 12/13/14 (0F 71/72/73 /2 /4 /6 ib): shifts of mm by imm8; register operand only. */
function shiftImm(opc: number) {
  const bits = opc === 0x171 ? 16 : opc === 0x172 ? 32 : 64;
  return (cpu: Cpu, i: Instr): void => {
    const r = i.reg & 7;
    const kind = r === 2 ? 0 : r === 4 && bits !== 64 ? 1 : r === 6 ? 2 : -1;
    if (i.mod !== 3 || kind < 0) ud();
    const x = mmxCheck(cpu);
    const d = i.rm & 7;
    mmToDest(x, d);
    SHIFT_IMM[bits * 4 + kind](i.imm & 0xff);
    mmxEnter(x);
    setMm(x, d, DST[0], DST[1]);
  };
}

// ------------------------------------------------------------------ SSE-added MMX forms

/** PSHUFW mm, mm/m64, imm8 (0F 70). */
function pshufw(cpu: Cpu, i: Instr): void {
  const x = mmxCheck(cpu);
  mmSrc(cpu, i, x);
  const s = SV[L.U16],
    o = DV[L.U16];
  for (let k = 0; k < 4; k++) o[k] = s[(i.imm >> (2 * k)) & 3];
  mmxEnter(x);
  setMm(x, i.reg & 7, DST[0], DST[1]);
}

/** PINSRW mm, r32/m16, imm8 (0F C4). */
function pinsrw(cpu: Cpu, i: Instr): void {
  const x = mmxCheck(cpu);
  const v = i.mod === 3 ? cpu.getReg(i.rm, 4) : cpu.read(i.seg, cpu.ea(i), 2);
  const d = i.reg & 7;
  mmToDest(x, d);
  const w = AV[L.U16];
  w[i.imm & 3] = v;
  mmxEnter(x);
  setMm(x, d, DEST[0], DEST[1]);
}

/** PEXTRW r32/r64, mm, imm8 (0F C5, register form). */
function pextrw(cpu: Cpu, i: Instr): void {
  if (i.mod !== 3) ud();
  const x = mmxCheck(cpu);
  mmToDest(x, i.rm & 7);
  const v = AV[L.U16][i.imm & 3];
  mmxEnter(x);
  cpu.setReg(i.reg, i.rex & 8 ? 8 : 4, v, 0);
}

/** PMOVMSKB r32/r64, mm (0F D7). */
function pmovmskb(cpu: Cpu, i: Instr): void {
  if (i.mod !== 3) ud();
  const x = mmxCheck(cpu);
  mmToDest(x, i.rm & 7);
  const b = AV[L.U8];
  let r = 0;
  for (let k = 0; k < 8; k++) r |= (b[k] >> 7) << k;
  mmxEnter(x);
  cpu.setReg(i.reg, i.rex & 8 ? 8 : 4, r, 0);
}

/** MASKMOVQ mm1, mm2 (0F F7): bytes of mm1 whose mask byte in mm2 has bit 7 set go to DS:rDI. */
function maskmovq(cpu: Cpu, i: Instr): void {
  if (i.mod !== 3) ud();
  const x = mmxCheck(cpu);
  mmToDest(x, i.reg & 7);
  const rm = x.regs[i.rm & 7];
  const mask = [rm.lo, rm.hi];
  const off = i.asize === 8 ? cpu.reg64(7) : i.asize === 4 ? cpu.lo[7] >>> 0 : cpu.lo[7] & 0xffff;
  const lins: number[] = [];
  for (let k = 0; k < 8; k++) {
    if ((mask[k >> 2] >>> (8 * (k & 3) + 7)) & 1)
      lins.push(cpu.linear(i.seg, i.asize === 2 ? (off + k) & 0xffff : off + k, 1, true));
    else lins.push(NaN);
  }
  const b = AV[L.U8];
  for (let k = 0; k < 8; k++) if (!Number.isNaN(lins[k])) cpu.linWrite8(lins[k], b[k]);
  mmxEnter(x);
}

// ------------------------------------------------------------------ registration

for (const [opc, name, l, f] of LANE_OPS) mandatory(opc, None, name, mmOp(kLanes(l, f, 8)));
mandatory(0x160, None, "punpcklbw", mmOp(kPunpck(1, false, 8), 4));
mandatory(0x161, None, "punpcklwd", mmOp(kPunpck(2, false, 8), 4));
mandatory(0x162, None, "punpckldq", mmOp(kPunpck(4, false, 8), 4));
mandatory(0x163, None, "packsswb", mmOp(kPack(L.I16, L.I8, -128, 127, 8)));
mandatory(0x167, None, "packuswb", mmOp(kPack(L.I16, L.U8, 0, 255, 8)));
mandatory(0x168, None, "punpckhbw", mmOp(kPunpck(1, true, 8)));
mandatory(0x169, None, "punpckhwd", mmOp(kPunpck(2, true, 8)));
mandatory(0x16a, None, "punpckhdq", mmOp(kPunpck(4, true, 8)));
mandatory(0x16b, None, "packssdw", mmOp(kPack(L.I32, L.I16, -32768, 32767, 8)));
mandatory(0x16e, None, "movd", movdToMm);
mandatory(0x16f, None, "movq", movqLoad);
mandatory(0x170, None, "pshufw", pshufw, true, Imm.Ib);
for (const o of [0x171, 0x172, 0x173]) mandatory(o, None, "pshift", shiftImm(o), true, Imm.Ib);
mandatory(0x177, None, "emms", emms, false);
mandatory(0x17e, None, "movd", movdFromMm);
mandatory(0x17f, None, "movq", movqStore(false));
mandatory(0x1c4, None, "pinsrw", pinsrw, true, Imm.Ib);
mandatory(0x1c5, None, "pextrw", pextrw, true, Imm.Ib);
mandatory(0x1d1, None, "psrlw", shiftReg(16, 0));
mandatory(0x1d2, None, "psrld", shiftReg(32, 0));
mandatory(0x1d3, None, "psrlq", shiftReg(64, 0));
mandatory(0x1d4, None, "paddq", mmOp(kAddq(false, 8)));
mandatory(0x1d7, None, "pmovmskb", pmovmskb);
mandatory(0x1e1, None, "psraw", shiftReg(16, 1));
mandatory(0x1e2, None, "psrad", shiftReg(32, 1));
mandatory(0x1e7, None, "movntq", movqStore(true));
mandatory(0x1f1, None, "psllw", shiftReg(16, 2));
mandatory(0x1f2, None, "pslld", shiftReg(32, 2));
mandatory(0x1f3, None, "psllq", shiftReg(64, 2));
mandatory(0x1f4, None, "pmuludq", mmOp(kPmuludq(8)));
mandatory(0x1f5, None, "pmaddwd", mmOp(kPmaddwd(8)));
mandatory(0x1f6, None, "psadbw", mmOp(kPsadbw(8)));
mandatory(0x1f7, None, "maskmovq", maskmovq);
mandatory(0x1fb, None, "psubq", mmOp(kAddq(true, 8)));
