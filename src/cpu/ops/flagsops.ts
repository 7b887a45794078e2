/**
 * Pushing and popping the flags register: PUSHF/PUSHFD/PUSHFQ (9C) and POPF/POPFD/POPFQ (9D)
 * with the privilege rules of SDM Vol.2 "PUSHF/PUSHFD/PUSHFQ" and "POPF/POPFD/POPFQ"
 * (Operation sections) and Vol.1 3.4.3 / Vol.3 2.3 for the flag meanings.
 *
 * Virtual-8086 mode with IOPL < 3 raises #GP(0) for both: CR4.VME (virtual interrupt flag
 * handling, Vol.3 20.3) is not supported by this processor model.
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, Imm, OPF_D64, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { FLAGS, FLAGS_DEFINED, IOPL_SHIFT } from "../../x86/eflags.js";

/** Flags that POPF never changes: VM, VIF, VIP (and RF, which it clears for 32/64-bit sizes). */
const POPF_KEEP = FLAGS.VM | FLAGS.VIF | FLAGS.VIP | FLAGS.RF;

/** Current IOPL (0-3). */
function iopl(cpu: Cpu): number {
  return (cpu.eflags >> IOPL_SHIFT) & 3;
}

/**
 * The set of RFLAGS bits a POPF of `osize` bytes may change (SDM Vol.2 POPF Operation):
 * real mode and CPL 0 change everything except VM/VIF/VIP/RF; CPL > 0 cannot change IOPL, and
 * CPL > IOPL cannot change IF either; V86 mode (IOPL = 3) cannot change IOPL. A 16-bit POPF
 * only reaches bits 15:0.
 */
export function popfMask(cpu: Cpu, osize: number): number {
  let mask = FLAGS_DEFINED & ~POPF_KEEP;
  if (osize === 2) mask &= 0xffff;
  if (cpu.v86) {
    mask &= ~FLAGS.IOPL;
  } else if (cpu.protectedMode && cpu.cpl > 0) {
    mask &= ~FLAGS.IOPL;
    if (cpu.cpl > iopl(cpu)) mask &= ~FLAGS.IF;
  }
  return mask;
}

/** PUSHF: pushes (E/R)FLAGS with VM and RF cleared in the image (SDM Vol.2 PUSHF Operation). */
function pushf(cpu: Cpu, i: Instr): void {
  if (cpu.v86 && iopl(cpu) < 3) throw new CpuFault(13, 0);
  const f = cpu.getEflags();
  if (i.osize === 2) cpu.push(2, f & 0xffff);
  else cpu.push(i.osize, (f & ~(FLAGS.VM | FLAGS.RF)) >>> 0, 0);
}

/** POPF: pops a flags image and merges the bits the current privilege may change. */
function popf(cpu: Cpu, i: Instr): void {
  if (cpu.v86 && iopl(cpu) < 3) throw new CpuFault(13, 0);
  const size = i.osize;
  const v = cpu.pop(size);
  const mask = popfMask(cpu, size);
  let f = (cpu.getEflags() & ~mask) | (v & mask);
  if (size !== 2) f &= ~FLAGS.RF;
  cpu.setEflags(f >>> 0);
}

op(0x9c, "pushf", pushf, false, Imm.None, OPF_D64);
op(0x9d, "popf", popf, false, Imm.None, OPF_D64 | OPF_TERMINAL);
