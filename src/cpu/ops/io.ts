/**
 * Port I/O and simple processor-state instructions: IN/OUT (with the IOPL and TSS I/O
 * permission bitmap checks, SDM Vol.1 19.5), HLT, CLI/STI (with the interrupt shadow),
 * CLC/STC/CMC/CLD/STD (SDM Vol.2 "IN", "OUT", "HLT", "CLI", "STI").
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, Imm, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { FLAGS, IOPL_SHIFT } from "../../x86/eflags.js";
import { SEG } from "../../x86/segment.js";
import { sysRead32 } from "../segmentation.js";

/** True when the current privilege allows I/O without consulting the bitmap (CPL <= IOPL, not V86). */
function ioplAllows(cpu: Cpu): boolean {
  if (!cpu.protectedMode) return true;
  const iopl = (cpu.eflags >> IOPL_SHIFT) & 3;
  return !cpu.v86 && cpu.cpl <= iopl;
}

/**
 * Check I/O permission for `size` bytes at `port` (SDM Vol.1 19.5.2): when CPL > IOPL or in
 * V86 mode, every bit for the accessed ports in the TSS I/O bitmap must be 0; else #GP(0).
 */
export function checkIoPermission(cpu: Cpu, port: number, size: number): void {
  if (ioplAllows(cpu)) return;
  const trType = cpu.segAttr[SEG.TR] & 0xf;
  if (trType !== 9 && trType !== 11) throw new CpuFault(13, 0); // 16-bit TSS has no bitmap
  const limit = cpu.segLimit[SEG.TR];
  if (limit < 0x67) throw new CpuFault(13, 0);
  const base = cpu.segBase[SEG.TR];
  const mapBase = sysRead32(cpu, base + 0x64) >>> 16;
  const byteOff = mapBase + (port >>> 3);
  if (byteOff + 1 > limit) throw new CpuFault(13, 0);
  const word = sysRead32(cpu, base + byteOff) & 0xffff;
  const mask = ((1 << size) - 1) << (port & 7);
  if (word & mask) throw new CpuFault(13, 0);
}

/** Read `size` bytes from an I/O port after the permission check. */
export function portIn(cpu: Cpu, port: number, size: number): number {
  checkIoPermission(cpu, port, size);
  return cpu.hooks.ioRead(port, size) >>> 0;
}

/** Write `size` bytes to an I/O port after the permission check. */
export function portOut(cpu: Cpu, port: number, size: number, v: number): void {
  checkIoPermission(cpu, port, size);
  cpu.hooks.ioWrite(port, size, size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v >>> 0);
}

function ioSize(i: Instr, byte: boolean): number {
  return byte ? 1 : i.osize === 2 ? 2 : 4;
}

op(0xe4, "in", (cpu, i) => cpu.setReg(0, 1, portIn(cpu, i.imm, 1)), false, Imm.Ib, OPF_TERMINAL);
op(
  0xe5,
  "in",
  (cpu, i) => cpu.setReg(0, ioSize(i, false), portIn(cpu, i.imm, ioSize(i, false))),
  false,
  Imm.Ib,
  OPF_TERMINAL,
);
op(0xec, "in", (cpu) => cpu.setReg(0, 1, portIn(cpu, cpu.lo[2] & 0xffff, 1)), false, Imm.None, OPF_TERMINAL);
op(
  0xed,
  "in",
  (cpu, i) => cpu.setReg(0, ioSize(i, false), portIn(cpu, cpu.lo[2] & 0xffff, ioSize(i, false))),
  false,
  Imm.None,
  OPF_TERMINAL,
);
op(0xe6, "out", (cpu, i) => portOut(cpu, i.imm, 1, cpu.lo[0]), false, Imm.Ib, OPF_TERMINAL);
op(0xe7, "out", (cpu, i) => portOut(cpu, i.imm, ioSize(i, false), cpu.lo[0]), false, Imm.Ib, OPF_TERMINAL);
op(0xee, "out", (cpu) => portOut(cpu, cpu.lo[2] & 0xffff, 1, cpu.lo[0]), false, Imm.None, OPF_TERMINAL);
op(
  0xef,
  "out",
  (cpu, i) => portOut(cpu, cpu.lo[2] & 0xffff, ioSize(i, false), cpu.lo[0]),
  false,
  Imm.None,
  OPF_TERMINAL,
);

// HLT: privileged (CPL 0), halts until an interrupt; RIP points after HLT.
op(
  0xf4,
  "hlt",
  (cpu) => {
    if (cpu.protectedMode && cpu.cpl !== 0) throw new CpuFault(13, 0);
    cpu.halted = true;
    cpu.hooks.halt();
  },
  false,
  Imm.None,
  OPF_TERMINAL,
);

// CLI / STI (SDM Vol.2 CLI/STI; V86 and PVI/VME forms raise #GP unless IOPL allows).
op(
  0xfa,
  "cli",
  (cpu) => {
    if (!ioplAllows(cpu)) throw new CpuFault(13, 0);
    cpu.eflags &= ~FLAGS.IF;
  },
  false,
  Imm.None,
  OPF_TERMINAL,
);
op(
  0xfb,
  "sti",
  (cpu) => {
    if (!ioplAllows(cpu)) throw new CpuFault(13, 0);
    if ((cpu.eflags & FLAGS.IF) === 0) cpu.interruptShadow = true;
    cpu.eflags |= FLAGS.IF;
  },
  false,
  Imm.None,
  OPF_TERMINAL,
);

op(0xf8, "clc", (cpu) => cpu.setFlagBits(FLAGS.CF, 0), false);
op(0xf9, "stc", (cpu) => cpu.setFlagBits(FLAGS.CF, FLAGS.CF), false);
op(0xf5, "cmc", (cpu) => cpu.setFlagBits(FLAGS.CF, cpu.getCF() ^ 1), false);
op(
  0xfc,
  "cld",
  (cpu) => {
    cpu.eflags &= ~FLAGS.DF;
  },
  false,
);
op(
  0xfd,
  "std",
  (cpu) => {
    cpu.eflags |= FLAGS.DF;
  },
  false,
);
