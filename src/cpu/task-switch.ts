/**
 * Hardware task switching in legacy protected mode (SDM Vol.3 chapter 7 "Task Management":
 * 7.2.1 the 32-bit TSS, 7.3 "Task Switching" steps 1-13 and Table 7-1 "Conditions Checked
 * During a Task Switch", 7.4 task linking (NT flag, previous-task link, busy flag), 7.6 the
 * 16-bit TSS; Vol.2 "JMP", "CALL", "INT n" (TASK-GATE), "IRET" (TASK-RETURN)).
 *
 * The four causes and their entry points:
 * - JMP/CALL to an available TSS descriptor or to a task gate in the GDT/LDT: `farTaskSwitch`
 *   (called by ops/far.ts);
 * - an exception, interrupt or INT n/INT3/INTO/INT1 through a task gate in the IDT:
 *   `eventTaskSwitch` (called by interrupts.ts);
 * - IRET with EFLAGS.NT=1: `taskReturn` (called by ops/interrupt-ops.ts).
 * In IA-32e mode task switching does not exist (Vol.3 7.7): the callers keep raising #GP there.
 *
 * `switchTask` does the switch proper in two phases. Before the commit point every check of
 * Table 7-1 rows 1-3 (present → #NP, busy → #GP/#TS, limit → #TS) is made, the whole new TSS
 * is read and every byte the switch will write (the old TSS's dynamic fields, the new TSS's
 * link field, the two descriptors' busy bits) is translated for writing, so a #PF or #TS up
 * to here leaves the old task untouched (step 5). The control-register writes the switch
 * makes are offered to the hypervisor last: CR0.TS is set through `writeCr0` — the path MOV
 * CR0/LMSW/CLTS use, honouring `cpu.cr0WriteExitMask` — with source "task-switch", and a CR3
 * load (32-bit TSS, paging on) is offered to `hooks.controlWrite("cr3", ..., "task-switch")`;
 * a veto raises #GP(0) with nothing changed. Then the old state is saved (EIP after the
 * instruction for JMP/CALL/IRET, the return address of the event otherwise; NT cleared in the
 * image for IRET), busy bits and the link are updated (steps 6-10), TR, CR3, LDTR, EFLAGS,
 * EIP, the general registers and the segment selectors are loaded (steps 11-12) and the
 * segment descriptors are qualified (step 13, Table 7-1 rows 5-17). A fault from step 11 on
 * is delivered in the context of the new task (RIP = the new task's EIP); it is thrown as a
 * `TaskSwitchFault` so that event delivery does not roll the switch back.
 *
 * Choices where the SDM leaves room (the same ones other PC emulators make):
 * - Switching to a 16-bit TSS: the upper 16 bits of the general registers become FFFFH, the
 *   upper halves of EIP and EFLAGS 0, FS and GS null; CR3 is not loaded.
 * - Segment qualification order after the commit point: LDTR, CS, SS, ES, DS, FS, GS. All
 *   six selectors are loaded first with an unusable hidden part, so a fault there shows the
 *   new task's selectors (Table 7-1 lists the conditions without one order).
 * - The old TSS must be large enough for the fields written to it (5FH for a 32-bit TSS, 29H
 *   for a 16-bit one), else #TS(old TSS selector) before the commit point.
 * - The PDPTEs of a new CR3 under PAE paging are not checked at the switch.
 * - DR7.L0-L3 are cleared by every task switch (Vol.3 18.2.4).
 */
import { SEG, ATTR } from "../x86/segment.js";
import { FLAGS } from "../x86/eflags.js";
import { CR0 } from "../x86/cr.js";
import { Access, type Cpu } from "./cpu.js";
import { CpuFault } from "./fault.js";
import {
  readDescriptor,
  descAttr,
  descBase,
  descLimit,
  setAccessed,
  loadFromDescriptor,
  loadNull,
  loadRealMode,
  sysRead32,
  type Descriptor,
} from "./segmentation.js";
import { writeCr0 } from "./ops/control-regs.js";

/** Why a task switch happens (SDM Vol.3 7.3, Table 7-2): decides busy/NT/link handling. */
export type TaskSwitchReason = "jmp" | "call" | "iret" | "event";

/**
 * A fault raised after the commit point of a task switch (SDM Vol.3 7.3 step 11 on): it is
 * delivered in the context of the new task and must not be rolled back by the code that
 * started the switch.
 */
export class TaskSwitchFault extends CpuFault {}

/** DR6.BT: the debug exception was caused by the T flag of the new task's TSS (Vol.3 18.2.3). */
const DR6_BT = 1 << 15;
/** DR7 L0-L3: cleared on every task switch (Vol.3 18.2.4). */
const DR7_LOCAL = 0x55;

/** Selector error code with the EXT bit (SDM Vol.3 6.13). */
function selErr(sel: number, ext: number): number {
  return (sel & 0xfffc) | ext;
}

/** Read `size` (2 or 4) bytes of a system structure at linear `lin` as a supervisor access. */
function sysRead(cpu: Cpu, lin: number, size: number): number {
  lin >>>= 0;
  if (size === 4) return sysRead32(cpu, lin);
  if (!cpu.paging) return cpu.mem.read16(lin);
  if ((lin & 0xfff) === 0xfff) {
    return (
      cpu.mem.read8(cpu.translateImplicit(lin, Access.Read)) |
      (cpu.mem.read8(cpu.translateImplicit((lin + 1) >>> 0, Access.Read)) << 8)
    );
  }
  return cpu.mem.read16(cpu.translateImplicit(lin, Access.Read));
}

/** Write `size` (2 or 4) bytes at linear `lin` as a supervisor access (probed before the commit). */
function sysWrite(cpu: Cpu, lin: number, size: number, v: number): void {
  lin >>>= 0;
  if (cpu.paging && (lin & 0xfff) > 0x1000 - size) {
    for (let n = 0; n < size; n++)
      cpu.mem.write8(cpu.translateImplicit((lin + n) >>> 0, Access.Write), (v >>> (8 * n)) & 0xff);
    return;
  }
  const phys = cpu.paging ? cpu.translateImplicit(lin, Access.Write) : lin;
  if (size === 2) cpu.mem.write16(phys, v & 0xffff);
  else cpu.mem.write32(phys, v);
}

/** Make sure bytes [lin, lin+len) can be written (raises the #PF a write would; step 5). */
function probeWrite(cpu: Cpu, lin: number, len: number): void {
  if (!cpu.paging) return;
  cpu.translateImplicit(lin >>> 0, Access.Write);
  cpu.translateImplicit((lin + len - 1) >>> 0, Access.Write);
}

/** The state a task switch loads from the new TSS (Vol.3 Figures 7-2 and 7-11). */
interface TssState {
  cr3: number;
  eip: number;
  eflags: number;
  regs: number[];
  /** ES, CS, SS, DS, FS, GS. */
  segs: number[];
  ldt: number;
  trap: boolean;
}

/** Read the dynamic and static fields of a 32-bit or 16-bit TSS at linear `base`. */
function readTss(cpu: Cpu, base: number, is32: boolean): TssState {
  if (is32) {
    const regs: number[] = [];
    for (let n = 0; n < 8; n++) regs.push(sysRead(cpu, base + 0x28 + n * 4, 4));
    const segs: number[] = [];
    for (let n = 0; n < 6; n++) segs.push(sysRead(cpu, base + 0x48 + n * 4, 2));
    return {
      cr3: sysRead(cpu, base + 0x1c, 4),
      eip: sysRead(cpu, base + 0x20, 4),
      eflags: sysRead(cpu, base + 0x24, 4),
      regs,
      segs,
      ldt: sysRead(cpu, base + 0x60, 2),
      trap: (sysRead(cpu, base + 0x64, 2) & 1) !== 0,
    };
  }
  const regs: number[] = [];
  for (let n = 0; n < 8; n++) regs.push((0xffff0000 | sysRead(cpu, base + 0x12 + n * 2, 2)) >>> 0);
  const segs: number[] = [];
  for (let n = 0; n < 4; n++) segs.push(sysRead(cpu, base + 0x22 + n * 2, 2));
  segs.push(0, 0);
  return {
    cr3: 0,
    eip: sysRead(cpu, base + 0x0e, 2),
    eflags: sysRead(cpu, base + 0x10, 2),
    regs,
    segs,
    ldt: sysRead(cpu, base + 0x2a, 2),
    trap: false,
  };
}

/** True for an available (type 1/9) or busy (3/11) TSS descriptor (S=0). */
function isTss(attr: number): boolean {
  return (attr & ATTR.S) === 0 && (attr & 5) === 1;
}

/**
 * Switch to the task whose TSS descriptor `d` was read for selector `sel` (SDM Vol.3 7.3).
 * The caller has made the privilege checks of step 2 and, except for IRET, the busy check.
 * `oldEip` is saved as the old task's EIP, `oldEflags` as its EFLAGS image; `ext` is the EXT
 * bit of error codes (1 for exceptions and external interrupts); `errorCode` (≥ 0) is pushed
 * on the new task's stack (exceptions with an error code, Vol.2 INT n TASK-GATE). On return
 * `cpu.rip` is the new task's EIP. Faults before the commit point leave the state unchanged;
 * later ones are thrown as TaskSwitchFault with `cpu.rip` already the new task's EIP.
 */
export function switchTask(
  cpu: Cpu,
  sel: number,
  d: Descriptor,
  reason: TaskSwitchReason,
  oldEip: number,
  oldEflags: number,
  ext: number,
  errorCode = -1,
): void {
  sel &= 0xffff;
  const attr = descAttr(d);
  const newType = attr & 0xf;
  const new32 = (newType & 8) !== 0;
  const newBase = descBase(d);
  const newLimit = descLimit(d);
  // Table 7-1 row 1: present.
  if ((attr & ATTR.P) === 0) throw new CpuFault(11, selErr(sel, ext));
  // Row 2: available for JMP/CALL/events (#GP), busy for IRET (#TS).
  const busy = (newType & 2) !== 0;
  if (reason === "iret" ? !busy : busy) throw new CpuFault(reason === "iret" ? 10 : 13, selErr(sel, ext));
  // Row 3: the limit covers the TSS (67H for 32-bit, 2BH for 16-bit; Vol.3 7.2.2).
  if (newLimit < (new32 ? 0x67 : 0x2b)) throw new CpuFault(10, selErr(sel, ext));

  const oldSel = cpu.segSel[SEG.TR];
  const oldBase = cpu.segBase[SEG.TR];
  const old32 = (cpu.segAttr[SEG.TR] & 8) !== 0;
  if (cpu.segLimit[SEG.TR] < (old32 ? 0x5f : 0x29)) throw new CpuFault(10, selErr(oldSel, ext));

  // Step 5: everything the switch reads or writes must be accessible before anything changes.
  const st = readTss(cpu, newBase, new32);
  if (old32) probeWrite(cpu, oldBase + 0x20, 0x40);
  else probeWrite(cpu, oldBase + 0x0e, 0x1c);
  const nesting = reason === "call" || reason === "event";
  if (nesting) probeWrite(cpu, newBase, 2);
  const oldDescAddr = cpu.gdtrBase + (oldSel & 0xfff8);
  const clearOldBusy = (reason === "jmp" || reason === "iret") && (oldSel & 0xfff8) + 7 <= cpu.gdtrLimit;
  if (clearOldBusy) probeWrite(cpu, oldDescAddr + 4, 4);
  if (reason !== "iret") probeWrite(cpu, d.addr + 4, 4);

  // The control-register writes, offered to the hypervisor (a veto is #GP(0), nothing changed).
  const loadCr3 = new32 && cpu.paging;
  if (
    loadCr3 &&
    !cpu.hooks.controlWrite("cr3", cpu.cr3 >>> 0, cpu.cr3Hi >>> 0, st.cr3 >>> 0, 0, "task-switch")
  ) {
    throw new CpuFault(13, 0);
  }
  writeCr0(cpu, (cpu.cr0 | CR0.TS) >>> 0, 0, "task-switch");

  // Steps 6-8: release the old task (JMP, IRET) and save its state.
  if (clearOldBusy) sysWrite(cpu, oldDescAddr + 4, 4, sysRead(cpu, oldDescAddr + 4, 4) & ~0x200);
  let image = oldEflags >>> 0;
  if (reason === "iret") image &= ~FLAGS.NT;
  if (old32) {
    sysWrite(cpu, oldBase + 0x20, 4, oldEip >>> 0);
    sysWrite(cpu, oldBase + 0x24, 4, image);
    for (let n = 0; n < 8; n++) sysWrite(cpu, oldBase + 0x28 + n * 4, 4, cpu.lo[n] >>> 0);
    for (let n = 0; n < 6; n++) sysWrite(cpu, oldBase + 0x48 + n * 4, 2, cpu.segSel[n]);
  } else {
    sysWrite(cpu, oldBase + 0x0e, 2, oldEip);
    sysWrite(cpu, oldBase + 0x10, 2, image);
    for (let n = 0; n < 8; n++) sysWrite(cpu, oldBase + 0x12 + n * 2, 2, cpu.lo[n]);
    for (let n = 0; n < 4; n++) sysWrite(cpu, oldBase + 0x22 + n * 2, 2, cpu.segSel[n]);
  }
  // Steps 9-10: link the new task (CALL, events) and mark it busy.
  if (nesting) sysWrite(cpu, newBase, 2, oldSel);
  if (reason !== "iret") {
    d.hi = (sysRead(cpu, d.addr + 4, 4) | 0x200) >>> 0;
    sysWrite(cpu, d.addr + 4, 4, d.hi);
  }

  // Step 11 — the commit point: from here on faults belong to the new task.
  cpu.segSel[SEG.TR] = sel;
  cpu.segBase[SEG.TR] = newBase;
  cpu.segLimit[SEG.TR] = newLimit;
  cpu.segAttr[SEG.TR] = attr | 2;
  cpu.updateSegFlags(SEG.TR);
  cpu.drLo[7] &= ~DR7_LOCAL;
  try {
    loadTaskState(cpu, st, new32, loadCr3, nesting, ext);
    if (errorCode >= 0) {
      // Vol.2 INT n TASK-GATE: the error code goes on the new task's stack, sized by the TSS.
      try {
        cpu.push(new32 ? 4 : 2, errorCode & 0xffff);
      } catch (e) {
        if (e instanceof CpuFault && e.vector === 12) throw new CpuFault(12, ext);
        throw e;
      }
    }
    if (cpu.rip > cpu.segLimit[SEG.CS]) throw new CpuFault(13, ext);
    if (st.trap) {
      // The T flag: a debug trap before the new task's first instruction (Vol.3 7.2.1, 18.3.1.5).
      cpu.drLo[6] |= DR6_BT;
      throw new CpuFault(1, -1);
    }
  } catch (e) {
    if (e instanceof CpuFault && !(e instanceof TaskSwitchFault))
      throw new TaskSwitchFault(e.vector, e.errorCode);
    throw e;
  }
}

/** Steps 12-13: load CR3, LDTR, EFLAGS, EIP, GPRs and segment registers of the new task. */
function loadTaskState(
  cpu: Cpu,
  st: TssState,
  new32: boolean,
  loadCr3: boolean,
  nesting: boolean,
  ext: number,
): void {
  if (loadCr3) {
    cpu.cr3 = st.cr3 >>> 0;
    cpu.cr3Hi = 0;
    cpu.flushTlb(true);
  }
  let fl = new32 ? st.eflags : st.eflags & 0xffff;
  if (nesting) fl |= FLAGS.NT;
  const v86 = (fl & FLAGS.VM) !== 0;
  cpu.rip = new32 ? st.eip >>> 0 : st.eip & 0xffff;
  for (let n = 0; n < 8; n++) cpu.setReg(n, 4, st.regs[n]);
  // Selectors first, with unusable hidden parts (step 12), then LDTR and EFLAGS.
  for (let n = 0; n < 6; n++) loadNull(cpu, n, st.segs[n]);
  cpu.segSel[SEG.LDTR] = st.ldt;
  cpu.segAttr[SEG.LDTR] = 0;
  cpu.setEflags(fl);
  cpu.cpl = v86 ? 3 : st.segs[SEG.CS] & 3;
  cpu.updateMode();
  loadLdtr(cpu, st.ldt, ext);
  if (v86) {
    // A virtual-8086 task (32-bit TSS with EFLAGS.VM=1): real-mode style segments, CPL 3.
    for (let n = 0; n < 6; n++) loadRealMode(cpu, n, st.segs[n]);
    cpu.updateMode();
    return;
  }
  loadTaskCs(cpu, st.segs[SEG.CS], ext);
  loadTaskSs(cpu, st.segs[SEG.SS], ext);
  for (const s of [SEG.ES, SEG.DS, SEG.FS, SEG.GS]) loadTaskData(cpu, s, st.segs[s], ext);
  cpu.updateMode();
}

/** LDTR of the new task (Table 7-1 rows 5, 10): null is allowed; else a present LDT in the GDT, else #TS(LDT). */
function loadLdtr(cpu: Cpu, sel: number, ext: number): void {
  if ((sel & 0xfffc) === 0) {
    loadNull(cpu, SEG.LDTR, sel);
    return;
  }
  const err = selErr(sel, ext);
  if (sel & 4) throw new CpuFault(10, err);
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(10, err);
  const a = descAttr(d);
  if ((a & (ATTR.S | ATTR.TYPE_MASK)) !== 2 || (a & ATTR.P) === 0) throw new CpuFault(10, err);
  loadFromDescriptor(cpu, SEG.LDTR, sel, d);
}

/** Read a new-task segment descriptor: null or outside its table → #TS(sel). */
function taskDescriptor(cpu: Cpu, sel: number, ext: number): Descriptor {
  if ((sel & 0xfffc) === 0) throw new CpuFault(10, selErr(sel, ext));
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(10, selErr(sel, ext));
  return d;
}

/** CS of the new task (rows 6, 11, 12): code, DPL = RPL (conforming: DPL ≤ RPL) else #TS; present else #NP. */
function loadTaskCs(cpu: Cpu, sel: number, ext: number): void {
  const d = taskDescriptor(cpu, sel, ext);
  const a = descAttr(d);
  const dpl = (a >> ATTR.DPL_SHIFT) & 3;
  const rpl = sel & 3;
  if ((a & (ATTR.S | ATTR.CODE)) !== (ATTR.S | ATTR.CODE)) throw new CpuFault(10, selErr(sel, ext));
  if ((a & ATTR.EC) !== 0 ? dpl > rpl : dpl !== rpl) throw new CpuFault(10, selErr(sel, ext));
  if ((a & ATTR.P) === 0) throw new CpuFault(11, selErr(sel, ext));
  setAccessed(cpu, d);
  loadFromDescriptor(cpu, SEG.CS, sel, d);
  cpu.cpl = rpl;
  cpu.updateMode();
}

/** SS of the new task (rows 7, 8, 9, 13): writable data with RPL = DPL = CPL else #TS; present else #SS. */
function loadTaskSs(cpu: Cpu, sel: number, ext: number): void {
  const d = taskDescriptor(cpu, sel, ext);
  const a = descAttr(d);
  if (
    (a & (ATTR.S | ATTR.CODE | ATTR.RW)) !== (ATTR.S | ATTR.RW) ||
    ((a >> ATTR.DPL_SHIFT) & 3) !== cpu.cpl ||
    (sel & 3) !== cpu.cpl
  ) {
    throw new CpuFault(10, selErr(sel, ext));
  }
  if ((a & ATTR.P) === 0) throw new CpuFault(12, selErr(sel, ext));
  setAccessed(cpu, d);
  loadFromDescriptor(cpu, SEG.SS, sel, d);
  cpu.updateMode();
}

/**
 * DS/ES/FS/GS of the new task (rows 14-17): null is allowed; else data or readable code, with
 * DPL ≥ CPL and DPL ≥ RPL unless conforming code, else #TS; present else #NP.
 */
function loadTaskData(cpu: Cpu, seg: number, sel: number, ext: number): void {
  if ((sel & 0xfffc) === 0) {
    loadNull(cpu, seg, sel);
    return;
  }
  const d = taskDescriptor(cpu, sel, ext);
  const a = descAttr(d);
  const dpl = (a >> ATTR.DPL_SHIFT) & 3;
  const code = (a & ATTR.CODE) !== 0;
  if ((a & ATTR.S) === 0 || (code && (a & ATTR.RW) === 0)) throw new CpuFault(10, selErr(sel, ext));
  if (!(code && (a & ATTR.EC) !== 0) && (dpl < cpu.cpl || dpl < (sel & 3)))
    throw new CpuFault(10, selErr(sel, ext));
  if ((a & ATTR.P) === 0) throw new CpuFault(11, selErr(sel, ext));
  setAccessed(cpu, d);
  loadFromDescriptor(cpu, seg, sel, d);
}

/**
 * Resolve a task gate (GDT, LDT or IDT; Vol.3 7.2.5) to its TSS descriptor (Vol.2 JMP/CALL
 * TASK-GATE, INT n TASK-GATE): the TSS selector must name the GDT and lie within it, and the
 * descriptor must be an available TSS, else #GP(TSS selector). Presence is checked by
 * switchTask (#NP).
 */
function taskGateTarget(cpu: Cpu, gateLo: number, ext: number): { sel: number; d: Descriptor } {
  const sel = gateLo >>> 16;
  if (sel & 4) throw new CpuFault(13, selErr(sel, ext));
  const d = readDescriptor(cpu, sel);
  if (d === null || !isTss(descAttr(d)) || (descAttr(d) & 2) !== 0) throw new CpuFault(13, selErr(sel, ext));
  return { sel, d };
}

/**
 * JMP or CALL far to a TSS descriptor or a task gate (`d` read for `sel`; Vol.2 JMP/CALL
 * TASK-STATE-SEGMENT and TASK-GATE, Vol.3 7.3 step 2): DPL < CPL or DPL < RPL → #GP(sel);
 * a busy TSS or one named through the LDT → #GP(sel); a task gate that is not present → #NP(gate). The old task's EIP is
 * the instruction after the JMP/CALL (`cpu.nextRip`). On return `cpu.nextRip` is the new
 * task's EIP.
 */
export function farTaskSwitch(cpu: Cpu, sel: number, d: Descriptor, isCall: boolean): void {
  const a = descAttr(d);
  const dpl = (a >> ATTR.DPL_SHIFT) & 3;
  if (dpl < cpu.cpl || dpl < (sel & 3)) throw new CpuFault(13, sel & 0xfffc);
  let tsel = sel;
  let td = d;
  if ((a & 0xf) === 5) {
    if ((a & ATTR.P) === 0) throw new CpuFault(11, sel & 0xfffc);
    ({ sel: tsel, d: td } = taskGateTarget(cpu, d.lo, 0));
  } else if ((a & 2) !== 0 || (sel & 4) !== 0) {
    // A busy TSS, or a TSS descriptor in the LDT (TSS descriptors live in the GDT only:
    // Vol.3 7.2.2).
    throw new CpuFault(13, sel & 0xfffc);
  }
  const eflags = cpu.getEflags() & ~FLAGS.RF;
  switchTask(cpu, tsel, td, isCall ? "call" : "jmp", cpu.nextRip, eflags, 0);
  cpu.nextRip = cpu.rip;
}

/**
 * An event through a task gate in the IDT (Vol.2 INT n TASK-GATE; Vol.3 6.11.1, 7.3). The
 * gate's DPL (software INT) and presence were checked by the caller. `ret` is saved as the
 * old task's EIP and `image` as its EFLAGS; `err` (≥ 0) is pushed on the new task's stack.
 */
export function eventTaskSwitch(
  cpu: Cpu,
  gateLo: number,
  ext: number,
  ret: number,
  image: number,
  err: number,
): void {
  const { sel, d } = taskGateTarget(cpu, gateLo, ext);
  switchTask(cpu, sel, d, "event", ret, image, ext, err);
}

/**
 * IRET with EFLAGS.NT=1 outside IA-32e mode (Vol.2 IRET TASK-RETURN; Vol.3 7.3, 7.4): return
 * to the task named by the previous-task link of the current TSS. The link must name a busy
 * TSS in the GDT, else #TS(link) (not present: #NP(link)). The old task's EIP is the instruction after the IRET.
 */
export function taskReturn(cpu: Cpu): void {
  const link = sysRead(cpu, cpu.segBase[SEG.TR], 2);
  if (link & 4) throw new CpuFault(10, link & 0xfffc);
  const d = (link & 0xfffc) === 0 ? null : readDescriptor(cpu, link);
  // Not a TSS → #TS(link) here; an available TSS → #TS(link) in switchTask after the #NP check.
  if (d === null || !isTss(descAttr(d))) throw new CpuFault(10, link & 0xfffc);
  const eflags = cpu.getEflags() & ~FLAGS.RF;
  switchTask(cpu, link, d, "iret", cpu.nextRip, eflags, 0);
  cpu.nextRip = cpu.rip;
}
