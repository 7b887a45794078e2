/**
 * Exception and interrupt delivery (SDM Vol.3 chapter 6): the real-mode IVT (Vol.3 20.1.4),
 * protected-mode IDT gates with privilege-level stack switches from the TSS (6.12.1), delivery
 * from virtual-8086 mode (20.3.1.1), task gates (6.11.1; the switch itself is in
 * task-switch.ts), the 64-bit IDT with IST (6.14), error codes with the
 * EXT/IDT bits (6.13), the double-fault rules (6.15, Table 6-5), the RF image rules (17.3.1.1)
 * and the triple fault that puts the processor into shutdown.
 *
 * Delivery is transactional: every register change of a delivery that faults half-way (for
 * instance a #SS or #PF while pushing onto the new stack) is rolled back before the second
 * exception is delivered, so the second one reports the state of the first event.
 *
 * Also exports the helpers that the other privilege-changing instructions (far CALL/RET,
 * IRET, SYSCALL...) share: state snapshots, TSS stack lookups and error-code builders.
 */
import { FLAGS } from "../x86/eflags.js";
import { SEG, ATTR } from "../x86/segment.js";
import { hasErrorCode, exceptionClass, ExceptionClass } from "../x86/vectors.js";
import type { Cpu } from "./cpu.js";
import { CANON_HIGH, CANON_LOW } from "./cpu.js";
import { CpuFault } from "./fault.js";
import {
  readDescriptor,
  descAttr,
  descLimit,
  sysRead32,
  setAccessed,
  loadCodeSegment,
  loadFromDescriptor,
  loadNull,
  loadRealMode,
  type Descriptor,
} from "./segmentation.js";
import { eventTaskSwitch, TaskSwitchFault } from "./task-switch.js";

/** How an event arose: affects privilege checks (software INT), the EXT bit and the RF image. */
export type EventKind = "exception" | "interrupt" | "software" | "nmi" | "int1" | "int3" | "into";

const TWO32 = 4294967296;

// ------------------------------------------------------------------ shared helpers

/** The architectural state a far transfer or event delivery may change (for rollback). */
export interface CpuSnapshot {
  sel: number[];
  base: number[];
  limit: number[];
  attr: number[];
  rspLo: number;
  rspHi: number;
  cpl: number;
  eflags: number;
  rip: number;
}

/** Capture segment registers ES..GS, RSP, CPL, RFLAGS (materialized) and RIP. */
export function saveState(cpu: Cpu): CpuSnapshot {
  cpu.materializeFlags();
  const s: CpuSnapshot = {
    sel: [],
    base: [],
    limit: [],
    attr: [],
    rspLo: cpu.lo[4],
    rspHi: cpu.hi[4],
    cpl: cpu.cpl,
    eflags: cpu.eflags,
    rip: cpu.rip,
  };
  for (let n = 0; n < 6; n++) {
    s.sel.push(cpu.segSel[n]);
    s.base.push(cpu.segBase[n]);
    s.limit.push(cpu.segLimit[n]);
    s.attr.push(cpu.segAttr[n]);
  }
  return s;
}

/** Restore a snapshot taken by saveState (and recompute the derived mode state). */
export function restoreState(cpu: Cpu, s: CpuSnapshot): void {
  for (let n = 0; n < 6; n++) {
    cpu.segSel[n] = s.sel[n];
    cpu.segBase[n] = s.base[n];
    cpu.segLimit[n] = s.limit[n];
    cpu.segAttr[n] = s.attr[n];
  }
  cpu.lo[4] = s.rspLo;
  cpu.hi[4] = s.rspHi;
  cpu.eflags = s.eflags;
  cpu.lazyMask = 0;
  cpu.rip = s.rip;
  cpu.updateMode();
  cpu.cpl = s.cpl;
  cpu.updateAccessMode();
}

/**
 * Run `fn`; if it throws, restore the state from before the call and rethrow. Used by the
 * multi-step control transfers so that a fault leaves the state unchanged (SDM Vol.3 6.5).
 */
export function atomically<T>(cpu: Cpu, fn: () => T): T {
  const s = saveState(cpu);
  try {
    return fn();
  } catch (e) {
    restoreState(cpu, s);
    throw e;
  }
}

/** Push on the current stack, turning a stack-segment #SS(0) into #SS(`ssErr`) (new-stack faults). */
export function pushOrSS(cpu: Cpu, size: number, v: number, vhi: number, ssErr: number): void {
  try {
    cpu.push(size, v, vhi);
  } catch (e) {
    if (e instanceof CpuFault && e.vector === 12 && e.errorCode === 0) throw new CpuFault(12, ssErr);
    throw e;
  }
}

/** Error code for a selector (SDM Vol.3 6.13, Figure 6-7): index/TI plus the EXT bit. */
export function selectorError(sel: number, ext: number): number {
  return (sel & 0xfffc) | ext;
}

/** Error code referring to IDT entry `vec` (IDT bit set). */
export function idtError(vec: number, ext: number): number {
  return vec * 8 + 2 + ext;
}

/**
 * Stack for privilege level `dpl` from the current 32- or 16-bit TSS (SDM Vol.3 7.2.1,
 * Figures 7-2/7-11). Raises #TS(TSS selector) when the entry lies beyond the TSS limit.
 */
export function tssStack(cpu: Cpu, dpl: number, ext: number): { ss: number; sp: number } {
  const trAttr = cpu.segAttr[SEG.TR];
  const type = trAttr & 0xf;
  const base = cpu.segBase[SEG.TR];
  if (type === 11 || type === 9) {
    const off = 4 + dpl * 8;
    if (off + 5 > cpu.segLimit[SEG.TR]) throw new CpuFault(10, selectorError(cpu.segSel[SEG.TR], ext));
    return { sp: sysRead32(cpu, base + off), ss: sysRead32(cpu, base + off + 4) & 0xffff };
  }
  const off = 2 + dpl * 4;
  if (off + 3 > cpu.segLimit[SEG.TR]) throw new CpuFault(10, selectorError(cpu.segSel[SEG.TR], ext));
  const v = sysRead32(cpu, base + off);
  return { sp: v & 0xffff, ss: v >>> 16 };
}

/**
 * Read a 64-bit stack pointer from the 64-bit TSS at byte offset `off` (RSPn at 4 + 8n, ISTn
 * at 0x24 + 8(n-1); SDM Vol.3 7.7, Figure 7-11). #TS(TSS selector) beyond the limit, #SS(EXT)
 * when the value is not canonical.
 */
export function tss64Read(cpu: Cpu, off: number, ext: number): number {
  if (off + 7 > cpu.segLimit[SEG.TR]) throw new CpuFault(10, selectorError(cpu.segSel[SEG.TR], ext));
  const base = cpu.segBase[SEG.TR];
  const lo = sysRead32(cpu, base + off);
  const hi = sysRead32(cpu, base + off + 4) | 0;
  const v = hi * TWO32 + lo;
  if (v < CANON_LOW || v >= CANON_HIGH) throw new CpuFault(12, ext);
  return v;
}

/**
 * Check and load a new inner-level stack segment `sel` for privilege level `dpl` after a TSS
 * stack lookup (SDM Vol.2 CALL / INT n): null, out of table, RPL/DPL mismatch or not a
 * writable data segment → #TS(sel), not present → #SS(sel). Returns the descriptor.
 */
export function checkInnerStack(cpu: Cpu, sel: number, dpl: number, ext: number): Descriptor {
  const err = selectorError(sel, ext);
  if ((sel & 0xfffc) === 0) throw new CpuFault(10, ext);
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(10, err);
  const a = descAttr(d);
  if (
    (sel & 3) !== dpl ||
    ((a >> ATTR.DPL_SHIFT) & 3) !== dpl ||
    (a & (ATTR.S | ATTR.CODE | ATTR.RW)) !== (ATTR.S | ATTR.RW)
  ) {
    throw new CpuFault(10, err);
  }
  if ((a & ATTR.P) === 0) throw new CpuFault(12, err);
  return d;
}

/**
 * Check the code segment `cs` that a far RET or a protected-mode IRET returns to (SDM Vol.2
 * RET and IRET, PROTECTED-MODE-RETURN): null → #GP(0); outside the table, not code, RPL <
 * CPL, L and D/B both set in IA-32e mode, or a DPL that does not fit the RPL → #GP(cs); not
 * present → #NP(cs). Returns the descriptor, the RPL and whether the target is 64-bit code.
 */
export function checkReturnCs(
  cpu: Cpu,
  cs: number,
  cpl: number,
  ia32e: boolean,
): { d: Descriptor; rpl: number; target64: boolean } {
  if ((cs & 0xfffc) === 0) throw new CpuFault(13, 0);
  const d = readDescriptor(cpu, cs);
  if (d === null) throw new CpuFault(13, cs & 0xfffc);
  const a = descAttr(d);
  const rpl = cs & 3;
  const dpl = (a >> ATTR.DPL_SHIFT) & 3;
  if ((a & (ATTR.S | ATTR.CODE)) !== (ATTR.S | ATTR.CODE) || rpl < cpl) throw new CpuFault(13, cs & 0xfffc);
  if (ia32e && (a & ATTR.L) !== 0 && (a & ATTR.DB) !== 0) throw new CpuFault(13, cs & 0xfffc);
  if ((a & ATTR.EC) !== 0 ? dpl > rpl : dpl !== rpl) throw new CpuFault(13, cs & 0xfffc);
  if ((a & ATTR.P) === 0) throw new CpuFault(11, cs & 0xfffc);
  return { d, rpl, target64: ia32e && (a & ATTR.L) !== 0 };
}

/**
 * Check the stack segment `ss` popped by a far RET or IRET to the outer privilege level `rpl`
 * (SDM Vol.2 RET and IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL): a null SS is allowed only in
 * 64-bit mode returning to 64-bit code at CPL < 3 (else #GP(0)); outside the table, RPL or
 * DPL ≠ `rpl`, or not a writable data segment → #GP(ss); not present → #SS(ss). Returns the
 * descriptor, or null for a null SS.
 */
export function checkReturnSs(cpu: Cpu, ss: number, rpl: number, target64: boolean): Descriptor | null {
  if ((ss & 0xfffc) === 0) {
    if (!cpu.long64 || !target64 || rpl === 3) throw new CpuFault(13, 0);
    return null;
  }
  const ssd = readDescriptor(cpu, ss);
  if (ssd === null) throw new CpuFault(13, ss & 0xfffc);
  const sa = descAttr(ssd);
  if (
    (ss & 3) !== rpl ||
    (sa & (ATTR.S | ATTR.CODE | ATTR.RW)) !== (ATTR.S | ATTR.RW) ||
    ((sa >> ATTR.DPL_SHIFT) & 3) !== rpl
  ) {
    throw new CpuFault(13, ss & 0xfffc);
  }
  if ((sa & ATTR.P) === 0) throw new CpuFault(12, ss & 0xfffc);
  return ssd;
}

/** Load SS on a return to the outer level `rpl`: the descriptor `ssd` checked by checkReturnSs, or a null SS with DPL `rpl`. */
export function loadReturnSs(cpu: Cpu, ss: number, ssd: Descriptor | null, rpl: number): void {
  if (ssd === null) {
    loadNull(cpu, SEG.SS, ss);
    cpu.segAttr[SEG.SS] = (rpl << ATTR.DPL_SHIFT) | ATTR.DB;
  } else {
    setAccessed(cpu, ssd);
    loadFromDescriptor(cpu, SEG.SS, ss, ssd);
  }
}

/** Vectors whose exceptions are faults (RF=1 in the pushed image, SDM Vol.3 17.3.1.1, Table 6-1). */
function isFaultClass(vector: number): boolean {
  return (
    vector === 0 ||
    (vector >= 5 && vector <= 7) ||
    (vector >= 10 && vector <= 14) ||
    vector === 16 ||
    vector === 17 ||
    (vector >= 19 && vector <= 21)
  );
}

// ------------------------------------------------------------------ delivery

/**
 * Deliver vector `vector` with `errorCode` (-1 for none). `returnRip` is the address pushed
 * as the return address (the faulting instruction for faults, the next one for traps and
 * software interrupts). Faults raised during delivery are combined by the double-fault rules
 * of SDM Vol.3 Table 6-5; a contributory fault or #PF while delivering #DF is a triple fault:
 * the processor enters shutdown and hooks.shutdown is called.
 */
export function deliverEvent(
  cpu: Cpu,
  vector: number,
  errorCode: number,
  kind: EventKind,
  returnRip: number = cpu.rip,
): void {
  let ret = returnRip;
  let vec = vector;
  let err = errorCode;
  let k = kind;
  // Class of the event being delivered, for combining with a fault raised while delivering it
  // (interrupts and software events count as benign).
  let first: ExceptionClass = k === "exception" ? exceptionClass(vec) : ExceptionClass.Benign;
  let deliveringDF = k === "exception" && vec === 8;
  for (;;) {
    try {
      deliverOnce(cpu, vec, err, k, ret);
      cpu.halted = false;
      cpu.interruptShadow = false;
      return;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      const second = exceptionClass(e.vector);
      if (deliveringDF && second !== ExceptionClass.Benign) {
        cpu.enterShutdown("triple fault");
        return;
      }
      const isDouble =
        (first === ExceptionClass.Contributory && second === ExceptionClass.Contributory) ||
        (first === ExceptionClass.PageFault && second !== ExceptionClass.Benign);
      if (isDouble) {
        vec = 8;
        err = 0;
        deliveringDF = true;
        first = ExceptionClass.Contributory;
      } else {
        vec = e.vector;
        err = e.errorCode;
        first = second;
      }
      k = "exception";
      ret = cpu.rip; // a fault during delivery reports the instruction that caused the event
    }
  }
}

/** Check pending NMI / external interrupts at an instruction boundary (SDM Vol.3 6.9 priorities). */
export function checkInterrupts(cpu: Cpu): void {
  if (cpu.nmiPending && !cpu.nmiBlocked) {
    cpu.nmiPending = false;
    cpu.nmiBlocked = true; // until the next IRET (SDM Vol.3 6.7.1)
    cpu.halted = false;
    deliverEvent(cpu, 2, -1, "nmi");
    return;
  }
  if (cpu.intrPending && (cpu.eflags & FLAGS.IF) !== 0) {
    const vec = cpu.acknowledgeInterrupt();
    if (vec >= 0) {
      cpu.halted = false;
      deliverEvent(cpu, vec, -1, "interrupt");
    }
  }
}

function pushedErrorCode(vector: number, err: number, kind: EventKind): number {
  if (kind !== "exception") return -1;
  return hasErrorCode(vector) ? err & 0xffff : -1;
}

/** One delivery attempt; on a fault the state is rolled back and the fault rethrown. */
function deliverOnce(cpu: Cpu, vec: number, err: number, kind: EventKind, ret: number): void {
  // EXT: set unless the event is INT n / INT3 / INTO (SDM Vol.3 6.13).
  const ext = kind === "software" || kind === "int3" || kind === "into" ? 0 : 1;
  const snap = saveState(cpu);
  // RF image (SDM Vol.3 17.3.1.1): 1 for fault-class exceptions, 0 for software interrupts
  // (RF is cleared at the start of the instruction), the current value otherwise.
  let image = cpu.eflags;
  if (kind === "exception" && isFaultClass(vec)) image |= FLAGS.RF;
  else if (kind === "software" || kind === "int3" || kind === "int1" || kind === "into") image &= ~FLAGS.RF;
  try {
    if (!cpu.protectedMode) deliverReal(cpu, vec, ret, image);
    else if ((cpu.efer & (1 << 10)) !== 0)
      deliverLong(cpu, vec, pushedErrorCode(vec, err, kind), kind, ext, ret, image);
    else deliverProtected(cpu, vec, pushedErrorCode(vec, err, kind), kind, ext, ret, image);
  } catch (e) {
    // A fault after the commit point of a task switch belongs to the new task: no rollback.
    if (!(e instanceof TaskSwitchFault)) restoreState(cpu, snap);
    throw e;
  }
}

/** Real-address-mode delivery through the IVT (SDM Vol.3 20.1.4; Vol.2 INT n REAL-ADDRESS-MODE). */
function deliverReal(cpu: Cpu, vec: number, ret: number, image: number): void {
  if (vec * 4 + 3 > cpu.idtrLimit) throw new CpuFault(13, 0);
  const entry = cpu.mem.read32((cpu.idtrBase + vec * 4) >>> 0);
  cpu.push(2, image & 0xffff);
  cpu.push(2, cpu.segSel[SEG.CS]);
  cpu.push(2, ret & 0xffff);
  cpu.setEflags(image & ~(FLAGS.IF | FLAGS.TF | FLAGS.AC | FLAGS.RF));
  loadRealMode(cpu, SEG.CS, entry >>> 16);
  cpu.rip = entry & 0xffff;
}

/**
 * Gate checks shared by protected-mode and IA-32e delivery (SDM Vol.3 6.12.1.1, 6.14.1): a
 * software INT n, INT3 or INTO through a gate with DPL < CPL → #GP(IDT entry, EXT=0); a gate
 * that is not present → #NP(IDT entry). `gateHi` is the gate's second dword.
 */
function checkGateAccess(cpu: Cpu, vec: number, kind: EventKind, ext: number, gateHi: number): void {
  const gateDpl = (gateHi >> 13) & 3;
  if ((kind === "software" || kind === "int3" || kind === "into") && gateDpl < cpu.cpl) {
    throw new CpuFault(13, idtError(vec, 0));
  }
  if ((gateHi & 0x8000) === 0) throw new CpuFault(11, idtError(vec, ext));
}

/**
 * Check the handler code segment `sel` named by an IDT gate (SDM Vol.2 INT n): null → #GP(EXT);
 * outside the table, not code, DPL > CPL, or (when `long`) not a 64-bit code segment (L=1,
 * D=0) → #GP(sel); not present → #NP(sel). Returns the descriptor, its attributes and DPL.
 */
function checkHandlerCs(
  cpu: Cpu,
  sel: number,
  ext: number,
  long: boolean,
): { d: Descriptor; attr: number; dpl: number } {
  if ((sel & 0xfffc) === 0) throw new CpuFault(13, ext);
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(13, selectorError(sel, ext));
  const attr = descAttr(d);
  const dpl = (attr >> ATTR.DPL_SHIFT) & 3;
  if (
    (attr & (ATTR.S | ATTR.CODE)) !== (ATTR.S | ATTR.CODE) ||
    dpl > cpu.cpl ||
    (long && ((attr & ATTR.L) === 0 || (attr & ATTR.DB) !== 0))
  ) {
    throw new CpuFault(13, selectorError(sel, ext));
  }
  if ((attr & ATTR.P) === 0) throw new CpuFault(11, selectorError(sel, ext));
  return { d, attr, dpl };
}

/**
 * Legacy protected-mode delivery through an interrupt or trap gate (SDM Vol.3 6.12.1; Vol.2
 * INT n PROTECTED-MODE, INTER-PRIVILEGE-LEVEL-INTERRUPT, INTERRUPT-FROM-VIRTUAL-8086-MODE,
 * INTRA-PRIVILEGE-LEVEL-INTERRUPT).
 */
function deliverProtected(
  cpu: Cpu,
  vec: number,
  err: number,
  kind: EventKind,
  ext: number,
  ret: number,
  image: number,
): void {
  if (vec * 8 + 7 > cpu.idtrLimit) throw new CpuFault(13, idtError(vec, ext));
  const gLo = sysRead32(cpu, cpu.idtrBase + vec * 8);
  const gHi = sysRead32(cpu, cpu.idtrBase + vec * 8 + 4);
  const type = (gHi >> 8) & 0x1f; // S bit + type
  if (type !== 0x05 && type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) {
    throw new CpuFault(13, idtError(vec, ext));
  }
  checkGateAccess(cpu, vec, kind, ext, gHi);
  if (type === 0x05) {
    // A task gate switches tasks (SDM Vol.3 6.11.1, 7.3); the error code, if any, goes on
    // the new task's stack.
    eventTaskSwitch(cpu, gLo, ext, ret, image, err);
    return;
  }
  const gate32 = (type & 8) !== 0;
  const isTrap = (type & 1) !== 0;
  const sel = gLo >>> 16;
  const offset = gate32 ? ((gHi & 0xffff0000) | (gLo & 0xffff)) >>> 0 : gLo & 0xffff;
  const { d, attr, dpl } = checkHandlerCs(cpu, sel, ext, false);
  const conforming = (attr & ATTR.EC) !== 0;
  const oldCs = cpu.segSel[SEG.CS];
  const size = gate32 ? 4 : 2;
  const wasV86 = cpu.v86;
  const inner = !conforming && dpl < cpu.cpl;
  // From V86 mode the handler must be a non-conforming ring-0 segment (SDM Vol.3 20.3.1.1).
  if (wasV86 && (!inner || dpl !== 0)) throw new CpuFault(13, selectorError(sel, ext));
  if (offset > descLimit(d)) throw new CpuFault(13, ext);
  let nf = image & ~(FLAGS.TF | FLAGS.NT | FLAGS.VM | FLAGS.RF);
  if (!isTrap) nf &= ~FLAGS.IF;
  if (inner) {
    // Inter-privilege: new stack from the TSS (SDM Vol.3 6.12.1, Figure 6-4).
    const { ss: newSs, sp: newSp } = tssStack(cpu, dpl, ext);
    const ssd = checkInnerStack(cpu, newSs, dpl, ext);
    const ssErr = selectorError(newSs, ext);
    const oldSs = cpu.segSel[SEG.SS];
    const oldSp = cpu.lo[4] >>> 0;
    const savedSegs = [cpu.segSel[SEG.GS], cpu.segSel[SEG.FS], cpu.segSel[SEG.DS], cpu.segSel[SEG.ES]];
    // Switch to the new stack (VM cleared first so the pushes use protected-mode checks).
    cpu.eflags &= ~FLAGS.VM;
    setAccessed(cpu, ssd);
    loadFromDescriptor(cpu, SEG.SS, newSs, ssd);
    cpu.cpl = dpl;
    cpu.updateMode();
    cpu.lo[4] = newSp;
    if (wasV86) for (const s of savedSegs) pushOrSS(cpu, size, s, 0, ssErr);
    pushOrSS(cpu, size, oldSs, 0, ssErr);
    pushOrSS(cpu, size, oldSp, 0, ssErr);
    pushOrSS(cpu, size, image, 0, ssErr);
    pushOrSS(cpu, size, oldCs, 0, ssErr);
    pushOrSS(cpu, size, ret, 0, ssErr);
    if (err >= 0) pushOrSS(cpu, size, err, 0, ssErr);
    if (wasV86) for (const s of [SEG.GS, SEG.FS, SEG.DS, SEG.ES]) loadNull(cpu, s, 0);
    loadCodeSegment(cpu, sel, d, dpl);
  } else {
    cpu.push(size, image);
    cpu.push(size, oldCs);
    cpu.push(size, ret);
    if (err >= 0) cpu.push(size, err);
    loadCodeSegment(cpu, sel, d, cpu.cpl);
  }
  cpu.setEflags(nf);
  cpu.updateMode();
  cpu.rip = offset;
}

/** IA-32e mode delivery through a 16-byte IDT gate (SDM Vol.3 6.14.1-6.14.5; Vol.2 INT n IA-32E-MODE). */
function deliverLong(
  cpu: Cpu,
  vec: number,
  err: number,
  kind: EventKind,
  ext: number,
  ret: number,
  image: number,
): void {
  if (vec * 16 + 15 > cpu.idtrLimit) throw new CpuFault(13, idtError(vec, ext));
  const g0 = sysRead32(cpu, cpu.idtrBase + vec * 16);
  const g1 = sysRead32(cpu, cpu.idtrBase + vec * 16 + 4);
  const g2 = sysRead32(cpu, cpu.idtrBase + vec * 16 + 8);
  const type = (g1 >> 8) & 0x1f;
  if (type !== 0x0e && type !== 0x0f) throw new CpuFault(13, idtError(vec, ext));
  checkGateAccess(cpu, vec, kind, ext, g1);
  const sel = g0 >>> 16;
  const offset = (g2 | 0) * TWO32 + (((g1 & 0xffff0000) | (g0 & 0xffff)) >>> 0);
  const ist = g1 & 7;
  const { d, attr, dpl } = checkHandlerCs(cpu, sel, ext, true);
  if (offset < CANON_LOW || offset >= CANON_HIGH) throw new CpuFault(13, ext);
  const conforming = (attr & ATTR.EC) !== 0;
  const newCpl = conforming ? cpu.cpl : dpl;
  const oldCs = cpu.segSel[SEG.CS];
  const oldSs = cpu.segSel[SEG.SS];
  const oldRsp = cpu.reg64(4);
  const oldCpl = cpu.cpl;
  let rsp: number;
  if (ist !== 0) rsp = tss64Read(cpu, 0x24 + (ist - 1) * 8, ext);
  else if (newCpl < cpu.cpl) rsp = tss64Read(cpu, 4 + newCpl * 8, ext);
  else rsp = oldRsp;
  rsp = Math.floor(rsp / 16) * 16; // the new RSP is aligned to 16 bytes (SDM 6.14.2)
  const frame: number[] = [oldSs, oldRsp, image, oldCs, ret];
  if (err >= 0) frame.push(err);
  // Pushes are supervisor accesses at the new privilege level (rolled back on a fault).
  cpu.cpl = newCpl;
  cpu.updateAccessMode();
  let p = rsp;
  for (const v of frame) {
    p -= 8;
    if (p < CANON_LOW || p + 8 > CANON_HIGH) throw new CpuFault(12, ext);
    cpu.linWrite64(p, v >>> 0, Math.floor(v / TWO32) | 0);
  }
  cpu.cpl = oldCpl;
  if (newCpl !== oldCpl) {
    loadNull(cpu, SEG.SS, newCpl);
    cpu.segAttr[SEG.SS] = (newCpl << ATTR.DPL_SHIFT) | ATTR.DB;
  }
  loadCodeSegment(cpu, sel, d, newCpl);
  cpu.setReg64FromNumber(4, p);
  let nf = image & ~(FLAGS.TF | FLAGS.NT | FLAGS.VM | FLAGS.RF);
  if (type === 0x0e) nf &= ~FLAGS.IF;
  cpu.setEflags(nf);
  cpu.rip = offset;
}
