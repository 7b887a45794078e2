/**
 * Fast system calls: SYSCALL / SYSRET (0F 05 / 0F 07) and SYSENTER / SYSEXIT (0F 34 / 0F 35)
 * (SDM Vol.2 "SYSCALL", "SYSRET", "SYSENTER", "SYSEXIT"; Vol.3 5.8.7, 5.8.8). The target
 * segments are not read from the GDT: CS and SS are loaded with fixed flat descriptors and
 * selectors derived from IA32_STAR / IA32_SYSENTER_CS. The MSR values come from cpu.msrs
 * (absent = 0), written by WRMSR elsewhere. Intel behaviour: SYSCALL/SYSRET are #UD outside
 * 64-bit mode, SYSRET to a non-canonical RCX raises #GP(0) at CPL 0.
 */
import type { Cpu } from "../cpu.js";
import { CANON_HIGH, CANON_LOW } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, Imm, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { FLAGS } from "../../x86/eflags.js";
import { SEG, ATTR } from "../../x86/segment.js";
import { EFER } from "../../x86/cr.js";
import { MSR } from "../../x86/msr.js";

const TWO32 = 4294967296;

/** An MSR value as [lo, hi] (unsigned halves); a missing MSR reads as 0. */
function msr(cpu: Cpu, index: number): [number, number] {
  const v = cpu.msrs.get(index);
  return v === undefined ? [0, 0] : [v[0] >>> 0, v[1] >>> 0];
}

/** An MSR holding an address, as a signed number (canonical addresses are exact). */
function msrAddress(cpu: Cpu, index: number): number {
  const [lo, hi] = msr(cpu, index);
  return (hi | 0) * TWO32 + lo;
}

/**
 * Load CS or SS with the fixed flat descriptor SYSCALL/SYSRET/SYSENTER/SYSEXIT use: base 0,
 * limit 4 GiB, G=1, present, S=1, the given DPL; code: type 11 (execute/read, accessed) with
 * L/D as given; stack: type 3 (read/write, accessed), B=1.
 */
function loadFlat(cpu: Cpu, seg: number, sel: number, dpl: number, code: boolean, long: boolean): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBase[seg] = 0;
  cpu.segLimit[seg] = 0xffffffff;
  let a = ATTR.P | ATTR.S | ATTR.G | (dpl << ATTR.DPL_SHIFT);
  if (code) a |= 0xb | (long ? ATTR.L : ATTR.DB);
  else a |= 0x3 | ATTR.DB;
  cpu.segAttr[seg] = a;
}

/** SYSCALL (0F 05): 64-bit mode only, EFER.SCE=1; enters CPL 0 at LSTAR with RCX/R11 saved. */
export function syscall(cpu: Cpu): void {
  if (!cpu.long64 || (cpu.efer & EFER.SCE) === 0) throw new CpuFault(6, -1);
  const star = msr(cpu, MSR.IA32_STAR);
  const target = msrAddress(cpu, MSR.IA32_LSTAR);
  const fmask = msr(cpu, MSR.IA32_FMASK)[0];
  const flags = cpu.getEflags() & ~FLAGS.RF;
  const ret = cpu.nextRip;
  cpu.setReg64FromNumber(1, ret);
  cpu.setReg(11, 8, flags, 0);
  const sel = star[1] & 0xffff;
  loadFlat(cpu, SEG.CS, sel & 0xfffc, 0, true, true);
  loadFlat(cpu, SEG.SS, (sel + 8) & 0xfffc, 0, false, false);
  cpu.cpl = 0;
  cpu.setEflags(flags & ~fmask & ~(FLAGS.RF | FLAGS.VM));
  cpu.updateMode();
  cpu.nextRip = target;
}

/** SYSRET (0F 07): back to CPL 3, 64-bit (REX.W) at RCX or compatibility mode at ECX; RFLAGS from R11. */
export function sysret(cpu: Cpu, i: Instr): void {
  if (!cpu.long64 || (cpu.efer & EFER.SCE) === 0) throw new CpuFault(6, -1);
  if (cpu.cpl !== 0) throw new CpuFault(13, 0);
  const to64 = (i.rex & 8) !== 0;
  let target: number;
  if (to64) {
    target = cpu.reg64(1);
    // Intel checks RCX before changing privilege: the #GP is taken at CPL 0.
    if (target < CANON_LOW || target >= CANON_HIGH) throw new CpuFault(13, 0);
  } else {
    target = cpu.lo[1] >>> 0;
  }
  const star = msr(cpu, MSR.IA32_STAR);
  const base = star[1] >>> 16;
  loadFlat(cpu, SEG.CS, ((to64 ? base + 16 : base) & 0xffff) | 3, 3, true, to64);
  loadFlat(cpu, SEG.SS, ((base + 8) & 0xffff) | 3, 3, false, false);
  cpu.cpl = 3;
  cpu.setEflags((cpu.lo[11] & 0x3c7fd7) | FLAGS.FIXED1);
  cpu.updateMode();
  cpu.nextRip = target;
}

/** SYSENTER (0F 34): CPL 0 at IA32_SYSENTER_CS:EIP with ESP from IA32_SYSENTER_ESP. */
export function sysenter(cpu: Cpu): void {
  if (!cpu.protectedMode) throw new CpuFault(13, 0);
  const cs = msr(cpu, MSR.IA32_SYSENTER_CS)[0] & 0xffff;
  if ((cs & 0xfffc) === 0) throw new CpuFault(13, 0);
  const ia32e = (cpu.efer & EFER.LMA) !== 0;
  const rsp = ia32e ? msrAddress(cpu, MSR.IA32_SYSENTER_ESP) : msr(cpu, MSR.IA32_SYSENTER_ESP)[0];
  const rip = ia32e ? msrAddress(cpu, MSR.IA32_SYSENTER_EIP) : msr(cpu, MSR.IA32_SYSENTER_EIP)[0];
  cpu.setEflags(cpu.getEflags() & ~(FLAGS.VM | FLAGS.IF | FLAGS.RF));
  loadFlat(cpu, SEG.CS, cs & 0xfffc, 0, true, ia32e);
  loadFlat(cpu, SEG.SS, (cs + 8) & 0xfffc, 0, false, false);
  cpu.cpl = 0;
  cpu.updateMode();
  if (ia32e) cpu.setReg64FromNumber(4, rsp);
  else cpu.setReg(4, 4, rsp);
  cpu.nextRip = rip;
}

/** SYSEXIT (0F 35): CPL 3 at EDX/RDX with ESP/RSP from ECX/RCX; REX.W returns to 64-bit mode. */
export function sysexit(cpu: Cpu, i: Instr): void {
  const cs = msr(cpu, MSR.IA32_SYSENTER_CS)[0] & 0xffff;
  if (!cpu.protectedMode || cpu.v86 || cpu.cpl !== 0 || (cs & 0xfffc) === 0) throw new CpuFault(13, 0);
  const to64 = cpu.long64 && (i.rex & 8) !== 0;
  let rip: number;
  let rsp: number;
  if (to64) {
    rip = cpu.reg64(2);
    rsp = cpu.reg64(1);
    if (rip < CANON_LOW || rip >= CANON_HIGH || rsp < CANON_LOW || rsp >= CANON_HIGH)
      throw new CpuFault(13, 0);
  } else {
    rip = cpu.lo[2] >>> 0;
    rsp = cpu.lo[1] >>> 0;
  }
  loadFlat(cpu, SEG.CS, ((cs + (to64 ? 32 : 16)) & 0xffff) | 3, 3, true, to64);
  loadFlat(cpu, SEG.SS, ((cs + (to64 ? 40 : 24)) & 0xffff) | 3, 3, false, false);
  cpu.cpl = 3;
  cpu.updateMode();
  if (to64) cpu.setReg64FromNumber(4, rsp);
  else cpu.setReg(4, 4, rsp);
  cpu.nextRip = rip;
}

op(0x105, "syscall", syscall, false, Imm.None, OPF_TERMINAL);
op(0x107, "sysret", sysret, false, Imm.None, OPF_TERMINAL);
op(0x134, "sysenter", sysenter, false, Imm.None, OPF_TERMINAL);
op(0x135, "sysexit", sysexit, false, Imm.None, OPF_TERMINAL);
