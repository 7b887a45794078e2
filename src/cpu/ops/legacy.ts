/**
 * Legacy instructions, mostly invalid in 64-bit mode (SDM Vol.2 Appendix A "i64"): the BCD
 * adjustments DAA, DAS, AAA, AAS, AAM, AAD; BOUND; INTO; SALC (undocumented D6); the far-
 * pointer loads LDS/LES (i64) and LSS/LFS/LGS (all modes); and XLAT.
 *
 * Flags the SDM leaves undefined (choices, see the report in test/cpu/legacy.test.ts):
 * - DAA/DAS: OF = 0 (SF/ZF/PF are defined, from AL).
 * - AAA/AAS: SF/ZF/PF from the final AL (after the AND 0Fh), OF = 0.
 * - AAM: CF = AF = OF = 0.
 * - AAD: CF, AF, OF as for the 8-bit addition AL + (AH * imm8) that produces the result.
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, Imm, OPF_I64, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { LazyOp } from "../flags.js";
import { loadDataSegment } from "../segmentation.js";
import { deliverEvent } from "../interrupts.js";
import { FLAGS, STATUS_FLAGS } from "../../x86/eflags.js";
import { SEG } from "../../x86/segment.js";

/** SF, ZF, PF and OF: recorded lazily as a logic result (OF = 0). */
const SZPO = FLAGS.SF | FLAGS.ZF | FLAGS.PF | FLAGS.OF;

/**
 * Commit an adjusted AL with explicit CF and AF; SF/ZF/PF follow AL and OF is cleared.
 */
function setBcdFlags(cpu: Cpu, al: number, cf: number, af: number): void {
  cpu.materializeFlags();
  cpu.eflags = (cpu.eflags & ~(FLAGS.CF | FLAGS.AF)) | (cf ? FLAGS.CF : 0) | (af ? FLAGS.AF : 0);
  cpu.setLazy(LazyOp.Logic, 1, 0, 0, al & 0xff, SZPO);
}

/** DAA: decimal adjust AL after addition (SDM Vol.2 DAA Operation). */
export function daa(cpu: Cpu): void {
  const oldAl = cpu.lo[0] & 0xff;
  const oldCf = cpu.getCF();
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || cpu.getFlag(FLAGS.AF) !== 0) {
    al += 6;
    cf = oldCf | (al > 0xff ? 1 : 0);
    al &= 0xff;
    af = 1;
  }
  if (oldAl > 0x99 || oldCf === 1) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  } else {
    cf = 0;
  }
  cpu.setReg(0, 1, al);
  setBcdFlags(cpu, al, cf, af);
}

/** DAS: decimal adjust AL after subtraction (SDM Vol.2 DAS Operation). */
export function das(cpu: Cpu): void {
  const oldAl = cpu.lo[0] & 0xff;
  const oldCf = cpu.getCF();
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || cpu.getFlag(FLAGS.AF) !== 0) {
    cf = oldCf | (al < 6 ? 1 : 0);
    al = (al - 6) & 0xff;
    af = 1;
  }
  if (oldAl > 0x99 || oldCf === 1) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  cpu.setReg(0, 1, al);
  setBcdFlags(cpu, al, cf, af);
}

/** AAA: ASCII adjust after addition; the adjustment is applied to AX (SDM Vol.2 AAA Operation). */
export function aaa(cpu: Cpu): void {
  let ax = cpu.lo[0] & 0xffff;
  let adj = 0;
  if ((ax & 0x0f) > 9 || cpu.getFlag(FLAGS.AF) !== 0) {
    ax = (ax + 0x106) & 0xffff;
    adj = 1;
  }
  ax &= 0xff0f;
  cpu.setReg(0, 2, ax);
  setBcdFlags(cpu, ax & 0xff, adj, adj);
}

/** AAS: ASCII adjust after subtraction (SDM Vol.2 AAS Operation: AX ← AX − 6; AH ← AH − 1). */
export function aas(cpu: Cpu): void {
  let ax = cpu.lo[0] & 0xffff;
  let adj = 0;
  if ((ax & 0x0f) > 9 || cpu.getFlag(FLAGS.AF) !== 0) {
    ax = (ax - 6) & 0xffff;
    ax = (ax - 0x100) & 0xffff;
    adj = 1;
  }
  ax &= 0xff0f;
  cpu.setReg(0, 2, ax);
  setBcdFlags(cpu, ax & 0xff, adj, adj);
}

/** AAM imm8: AH ← AL / imm8, AL ← AL mod imm8; #DE when imm8 = 0 (SDM Vol.2 AAM). */
export function aam(cpu: Cpu, i: Instr): void {
  const base = i.imm & 0xff;
  if (base === 0) throw new CpuFault(0, -1);
  const t = cpu.lo[0] & 0xff;
  const al = t % base;
  cpu.setReg(0, 2, ((Math.floor(t / base) & 0xff) << 8) | al);
  cpu.setLazy(LazyOp.Logic, 1, 0, 0, al, STATUS_FLAGS);
}

/** AAD imm8: AL ← (AL + AH * imm8) AND FFh, AH ← 0 (SDM Vol.2 AAD). */
export function aad(cpu: Cpu, i: Instr): void {
  const ax = cpu.lo[0] & 0xffff;
  const a = ax & 0xff;
  const b = ((ax >> 8) * (i.imm & 0xff)) & 0xff;
  const al = (a + b) & 0xff;
  cpu.setReg(0, 2, al);
  cpu.setLazy(LazyOp.Add, 1, a, b, al, STATUS_FLAGS);
}

/** BOUND r, m: #BR when the signed index lies outside [lower, upper] (SDM Vol.2 BOUND). */
function bound(cpu: Cpu, i: Instr): void {
  if (i.mod === 3) throw new CpuFault(6, -1);
  const size = i.osize;
  const ea = cpu.ea(i);
  const next = i.asize === 2 ? (ea + size) & 0xffff : (ea + size) >>> 0;
  const lower = cpu.read(i.seg, ea, size);
  const upper = cpu.read(i.seg, next, size);
  const sx = (v: number): number => (size === 2 ? (v << 16) >> 16 : v | 0);
  const idx = sx(cpu.getReg(i.reg, size));
  if (idx < sx(lower) || idx > sx(upper)) throw new CpuFault(5, -1);
}

/** INTO: raise #OF (vector 4, a trap: returns after INTO) when OF = 1 (SDM Vol.2 INTn/INTO). */
function into(cpu: Cpu): void {
  if (cpu.getFlag(FLAGS.OF) === 0) return;
  deliverEvent(cpu, 4, -1, "into", cpu.nextRip);
  cpu.nextRip = cpu.rip;
}

/** SALC (undocumented D6): AL ← CF ? FFh : 00h, flags unchanged. */
function salc(cpu: Cpu): void {
  cpu.setReg(0, 1, cpu.getCF() ? 0xff : 0);
}

/**
 * Far-pointer load (LDS/LES/LSS/LFS/LGS, SDM Vol.2 "LDS/LES/LFS/LGS/LSS"): reads offset then
 * selector from memory, loads the segment (with its checks), then writes the register.
 */
function loadFar(seg: number) {
  return (cpu: Cpu, i: Instr): void => {
    if (i.mod === 3) throw new CpuFault(6, -1);
    const size = i.osize;
    const ea = cpu.ea(i);
    const off = cpu.read(i.seg, ea, size);
    const offHi = cpu.rhi;
    const selAddr = i.asize === 8 ? ea + size : i.asize === 4 ? (ea + size) >>> 0 : (ea + size) & 0xffff;
    const sel = cpu.read(i.seg, selAddr, 2);
    loadDataSegment(cpu, seg, sel);
    cpu.setReg(i.reg, size, off, offHi);
  };
}

/** XLAT: AL ← seg:[rBX + ZeroExtend(AL)] (SDM Vol.2 XLAT/XLATB). */
function xlat(cpu: Cpu, i: Instr): void {
  const al = cpu.lo[0] & 0xff;
  let a: number;
  if (i.asize === 8) a = cpu.reg64(3) + al;
  else if (i.asize === 4) a = ((cpu.lo[3] >>> 0) + al) >>> 0;
  else a = ((cpu.lo[3] & 0xffff) + al) & 0xffff;
  cpu.setReg(0, 1, cpu.read(i.seg, a, 1));
}

op(0x27, "daa", daa, false, Imm.None, OPF_I64);
op(0x2f, "das", das, false, Imm.None, OPF_I64);
op(0x37, "aaa", aaa, false, Imm.None, OPF_I64);
op(0x3f, "aas", aas, false, Imm.None, OPF_I64);
op(0xd4, "aam", aam, false, Imm.Ib, OPF_I64);
op(0xd5, "aad", aad, false, Imm.Ib, OPF_I64);
op(0x62, "bound", bound, true, Imm.None, OPF_I64);
op(0xce, "into", into, false, Imm.None, OPF_I64 | OPF_TERMINAL);
op(0xd6, "salc", salc, false, Imm.None, OPF_I64);
op(0xc5, "lds", loadFar(SEG.DS), true, Imm.None, OPF_I64 | OPF_TERMINAL);
op(0xc4, "les", loadFar(SEG.ES), true, Imm.None, OPF_I64 | OPF_TERMINAL);
op(0x1b2, "lss", loadFar(SEG.SS), true, Imm.None, OPF_TERMINAL);
op(0x1b4, "lfs", loadFar(SEG.FS), true, Imm.None, OPF_TERMINAL);
op(0x1b5, "lgs", loadFar(SEG.GS), true, Imm.None, OPF_TERMINAL);
op(0xd7, "xlat", xlat, false);
