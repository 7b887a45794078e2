/**
 * Software interrupts and interrupt return: INT n (CD ib), INT3 (CC), INT1/ICEBP (F1) and
 * IRET/IRETD/IRETQ (CF) in real-address, virtual-8086, protected and IA-32e modes
 * (SDM Vol.2 "INT n/INTO/INT3/INT1", "IRET/IRETD/IRETQ"; Vol.3 6.12, 6.14.3, 20.3). IRET
 * with EFLAGS.NT=1 returns to the previous task (../task-switch.ts).
 * INTO is implemented elsewhere. Delivery itself lives in ../interrupts.ts.
 */
import type { Cpu } from "../cpu.js";
import { CANON_HIGH, CANON_LOW } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, Imm, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { deliverEvent, atomically, checkReturnCs, checkReturnSs, loadReturnSs } from "../interrupts.js";
import { taskReturn } from "../task-switch.js";
import { descLimit, loadCodeSegment, loadRealMode, nullInvalidDataSegments } from "../segmentation.js";
import { FLAGS, IOPL_SHIFT } from "../../x86/eflags.js";
import { SEG } from "../../x86/segment.js";
import { CR4, EFER } from "../../x86/cr.js";

const TWO32 = 4294967296;

/** INT n (CD ib): in V86 mode with IOPL < 3 it is IOPL-sensitive → #GP(0) (SDM Vol.3 20.3.3). */
export function intN(cpu: Cpu, i: Instr): void {
  if (cpu.v86 && ((cpu.eflags >> IOPL_SHIFT) & 3) < 3) {
    // TODO(VME): with CR4.VME=1 the TSS interrupt-redirection bitmap may send the interrupt
    // to the V86 IVT instead (SDM Vol.3 20.3.3.5); pinvm treats CR4.VME as clear here.
    throw new CpuFault(13, 0);
  }
  deliverEvent(cpu, i.imm & 0xff, -1, "software", cpu.nextRip);
  cpu.nextRip = cpu.rip;
}

/** INT3 (CC): #BP as a trap; not IOPL-sensitive in V86 mode, gate DPL checked. */
export function int3(cpu: Cpu): void {
  deliverEvent(cpu, 3, -1, "int3", cpu.nextRip);
  cpu.nextRip = cpu.rip;
}

/** INT1/ICEBP (F1): #DB as a trap, without the gate DPL check, EXT=1 (SDM Vol.2 INT1). */
export function int1(cpu: Cpu): void {
  deliverEvent(cpu, 1, -1, "int1", cpu.nextRip);
  cpu.nextRip = cpu.rip;
}

op(0xcd, "int", intN, false, Imm.Ib, OPF_TERMINAL);
op(0xcc, "int3", int3, false, Imm.None, OPF_TERMINAL);
op(0xf1, "int1", int1, false, Imm.None, OPF_TERMINAL);

// ------------------------------------------------------------------ IRET

/** Read `size` bytes at stack offset `sp + delta` (wrapped to the stack size); 64-bit in rhi. */
function stackRead(cpu: Cpu, delta: number, size: number): number {
  return cpu.read(SEG.SS, cpu.spOffset(delta), size);
}

/** Pop-image value as a number (sizes 2/4 unsigned; 8 signed from the pair). */
function readStackValue(cpu: Cpu, delta: number, size: number): number {
  const v = stackRead(cpu, delta, size);
  if (size === 8) return (cpu.rhi | 0) * TWO32 + v;
  return v;
}

/**
 * The EFLAGS image IRET commits in protected mode (SDM Vol.2 IRET, "EFLAGS ← tempEFLAGS" rules):
 * status flags, TF, DF, NT always (and RF, AC, ID with 32/64-bit operand size); IF only when
 * CPL <= IOPL; IOPL only at CPL 0; VIF/VIP only at CPL 0 (32/64-bit); VM is never set here.
 * `cpl` is the privilege level before the return.
 */
export function iretFlags(cpu: Cpu, temp: number, size: number, cpl: number): number {
  const old = cpu.getEflags();
  let mask = FLAGS.CF | FLAGS.PF | FLAGS.AF | FLAGS.ZF | FLAGS.SF | FLAGS.TF | FLAGS.DF | FLAGS.OF | FLAGS.NT;
  if (size >= 4) mask |= FLAGS.RF | FLAGS.AC | FLAGS.ID;
  const iopl = (old >> IOPL_SHIFT) & 3;
  if (cpl <= iopl) mask |= FLAGS.IF;
  if (cpl === 0) {
    mask |= FLAGS.IOPL;
    if (size >= 4) mask |= FLAGS.VIF | FLAGS.VIP;
  }
  return ((old & ~mask) | (temp & mask)) & ~FLAGS.VM;
}

/** IRET in real-address mode (SDM Vol.2 IRET REAL-ADDRESS-MODE). */
function iretReal(cpu: Cpu, size: number): void {
  const eip = stackRead(cpu, 0, size);
  const cs = stackRead(cpu, size, size) & 0xffff;
  const fl = stackRead(cpu, 2 * size, size);
  if (eip > cpu.segLimit[SEG.CS]) throw new CpuFault(13, 0);
  const old = cpu.getEflags();
  const nf = size === 4 ? (fl & 0x257fd5) | (old & 0x1a0000) : (old & ~0xffff) | (fl & 0xffff);
  cpu.setSP(cpu.spOffset(3 * size));
  loadRealMode(cpu, SEG.CS, cs);
  cpu.setEflags(nf);
  cpu.nextRip = eip;
}

/** IRET in virtual-8086 mode (SDM Vol.2 IRET; Vol.3 20.2.7, 20.4 for CR4.VME). */
function iretV86(cpu: Cpu, size: number): void {
  const old = cpu.getEflags();
  const iopl = (old >> IOPL_SHIFT) & 3;
  const eip = stackRead(cpu, 0, size);
  const cs = stackRead(cpu, size, size) & 0xffff;
  const fl = stackRead(cpu, 2 * size, size);
  if (iopl === 3) {
    if (eip > cpu.segLimit[SEG.CS]) throw new CpuFault(13, 0);
    // VM, IOPL, VIP and VIF are not modified by the pop.
    const keep = FLAGS.VM | FLAGS.IOPL | FLAGS.VIP | FLAGS.VIF;
    const nf =
      size === 4
        ? (old & keep) | (fl & ~keep & 0x3f7fd5)
        : (old & ~0xffff) | (old & FLAGS.IOPL) | (fl & 0xcfff);
    cpu.setSP(cpu.spOffset(3 * size));
    loadRealMode(cpu, SEG.CS, cs);
    cpu.setEflags(nf);
    cpu.nextRip = eip;
    return;
  }
  if (size === 2 && cpu.cr4Has(CR4.VME)) {
    // Virtual-8086 mode extensions (SDM Vol.3 20.4.3): IF goes to VIF; #GP if that would
    // enable a pending virtual interrupt or if TF is set.
    if (((fl & FLAGS.IF) !== 0 && (old & FLAGS.VIP) !== 0) || (fl & FLAGS.TF) !== 0)
      throw new CpuFault(13, 0);
    if (eip > cpu.segLimit[SEG.CS]) throw new CpuFault(13, 0);
    let nf = (old & ~0xffff) | (fl & 0xffff & ~(FLAGS.IOPL | FLAGS.IF)) | (old & (FLAGS.IOPL | FLAGS.IF));
    nf = (nf & ~FLAGS.VIF) | (fl & FLAGS.IF ? FLAGS.VIF : 0);
    cpu.setSP(cpu.spOffset(3 * size));
    loadRealMode(cpu, SEG.CS, cs);
    cpu.setEflags(nf);
    cpu.nextRip = eip;
    return;
  }
  throw new CpuFault(13, 0);
}

/**
 * Protected-mode and IA-32e IRET (SDM Vol.2 IRET PROTECTED-MODE, RETURN-TO-VIRTUAL-8086-MODE,
 * PROTECTED-MODE-RETURN, RETURN-TO-SAME-PRIVILEGE-LEVEL, RETURN-TO-OUTER-PRIVILEGE-LEVEL,
 * IA-32e-MODE).
 */
function iretProtected(cpu: Cpu, size: number): void {
  const ia32e = (cpu.efer & EFER.LMA) !== 0;
  const flags = cpu.getEflags();
  if (flags & FLAGS.NT) {
    if (ia32e) throw new CpuFault(13, 0);
    // TASK-RETURN: back to the task in the TSS's previous-task link (SDM Vol.3 7.3, 7.4).
    taskReturn(cpu);
    return;
  }
  const tempEip = readStackValue(cpu, 0, size);
  const tempCs = stackRead(cpu, size, size) & 0xffff;
  const tempFlags = stackRead(cpu, 2 * size, size);
  const cpl = cpu.cpl;
  if ((tempFlags & FLAGS.VM) !== 0 && cpl === 0 && size === 4 && !ia32e) {
    returnToV86(cpu, tempEip, tempCs, tempFlags);
    return;
  }
  // PROTECTED-MODE-RETURN: check the return code segment.
  const { d, rpl, target64 } = checkReturnCs(cpu, tempCs, cpl, ia32e);
  // Offset: 16-bit IRET truncates; a 64-bit target needs a canonical RIP, others the limit.
  const eip = size === 2 ? tempEip & 0xffff : size === 4 ? tempEip >>> 0 : tempEip;
  const checkEip = (): void => {
    if (target64) {
      if (eip < CANON_LOW || eip >= CANON_HIGH) throw new CpuFault(13, 0);
    } else if (eip < 0 || eip > descLimit(d) || eip >= TWO32) {
      throw new CpuFault(13, 0);
    }
  };
  const nf = iretFlags(cpu, tempFlags, size, cpl);
  if (rpl === cpl && !cpu.long64) {
    // RETURN-TO-SAME-PRIVILEGE-LEVEL.
    checkEip();
    atomically(cpu, () => {
      cpu.setSP(cpu.spOffset(3 * size));
      loadCodeSegment(cpu, tempCs, d, cpl);
      cpu.setEflags(size === 2 ? (nf & 0xffff) | (cpu.eflags & ~0xffff) : nf);
    });
    cpu.nextRip = eip;
    return;
  }
  // RETURN-TO-OUTER-PRIVILEGE-LEVEL (and every IRET in 64-bit mode): pop SS:ESP too.
  const tempSp = readStackValue(cpu, 3 * size, size);
  const tempSs = stackRead(cpu, 4 * size, size) & 0xffff;
  const ssd = checkReturnSs(cpu, tempSs, rpl, target64);
  checkEip();
  atomically(cpu, () => {
    cpu.setEflags(size === 2 ? (nf & 0xffff) | (cpu.eflags & ~0xffff) : nf);
    loadCodeSegment(cpu, tempCs, d, rpl);
    loadReturnSs(cpu, tempSs, ssd, rpl);
    cpu.updateMode();
    if (size === 8) cpu.setReg64FromNumber(4, tempSp);
    else if (size === 4) cpu.setReg(4, 4, tempSp >>> 0);
    else cpu.lo[4] = (cpu.lo[4] & ~0xffff) | (tempSp & 0xffff);
    if (rpl > cpl) nullInvalidDataSegments(cpu);
  });
  cpu.nextRip = eip;
}

/** RETURN-TO-VIRTUAL-8086-MODE (SDM Vol.2 IRET): pops ESP, SS, ES, DS, FS, GS; CPL becomes 3. */
function returnToV86(cpu: Cpu, tempEip: number, tempCs: number, tempFlags: number): void {
  const vals: number[] = [];
  for (let n = 3; n < 9; n++) vals.push(stackRead(cpu, 4 * n, 4));
  const [esp, ss, es, ds, fs, gs] = vals;
  atomically(cpu, () => {
    cpu.setEflags(tempFlags);
    cpu.updateMode(); // now in V86 mode: segment loads are real-mode style
    loadRealMode(cpu, SEG.CS, tempCs);
    loadRealMode(cpu, SEG.SS, ss);
    loadRealMode(cpu, SEG.ES, es);
    loadRealMode(cpu, SEG.DS, ds);
    loadRealMode(cpu, SEG.FS, fs);
    loadRealMode(cpu, SEG.GS, gs);
    cpu.lo[4] = esp;
    cpu.updateMode();
  });
  cpu.nextRip = tempEip & 0xffff;
}

/** IRET/IRETD/IRETQ (CF). NMI blocking ends when the IRET completes (SDM Vol.3 6.7.1). */
export function iret(cpu: Cpu, i: Instr): void {
  const size = i.osize;
  if (!cpu.protectedMode) iretReal(cpu, size);
  else if (cpu.v86) iretV86(cpu, size);
  else iretProtected(cpu, size);
  cpu.nmiBlocked = false;
}

op(0xcf, "iret", iret, false, Imm.None, OPF_TERMINAL);
