/**
 * Exception and interrupt delivery (SDM Vol.3 chapter 6): the real-mode IVT (Vol.3 20.1.4),
 * protected-mode IDT gates with privilege-level stack switches from the TSS (6.12.1), the
 * 64-bit IDT with IST (6.14), error codes, the double-fault rules (6.15, Table 6-5) and
 * the triple fault that puts the processor into shutdown.
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
  sysRead32,
  loadCodeSegment,
  loadFromDescriptor,
  loadNull,
  loadRealMode,
} from "./segmentation.js";

/** How an event arose: affects privilege checks (software INT) and the EXT bit. */
export type EventKind = "exception" | "interrupt" | "software" | "nmi" | "int1" | "int3" | "into";

const TWO32 = 4294967296;

/**
 * Deliver vector `vector` with `errorCode` (-1 for none). Faults raised during delivery are
 * combined by the double-fault rules; a fault while delivering #DF is a triple fault.
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
  // First event's class, for combining with a fault raised while delivering it.
  let first: ExceptionClass | -1 = k === "exception" ? exceptionClass(vec) : -1;
  let firstIsDF = k === "exception" && vec === 8;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      deliverOnce(cpu, vec, err, k, ret);
      cpu.halted = false;
      return;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      if (firstIsDF) {
        cpu.enterShutdown("triple fault");
        return;
      }
      const second = exceptionClass(e.vector);
      const isDouble =
        (first === ExceptionClass.Contributory && second === ExceptionClass.Contributory) ||
        (first === ExceptionClass.PageFault && second !== ExceptionClass.Benign);
      if (isDouble) {
        vec = 8;
        err = 0;
        firstIsDF = true;
      } else {
        vec = e.vector;
        err = e.errorCode;
        first = second;
      }
      k = "exception";
      ret = cpu.rip; // a fault during delivery reports the instruction that caused the event
    }
  }
  cpu.enterShutdown("triple fault");
}

/** Check pending NMI / external interrupts at an instruction boundary (SDM Vol.3 6.9 priorities). */
export function checkInterrupts(cpu: Cpu): void {
  if (cpu.nmiPending && !cpu.nmiBlocked) {
    cpu.nmiPending = false;
    cpu.nmiBlocked = true;
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
  return hasErrorCode(vector) ? err : -1;
}

function deliverOnce(cpu: Cpu, vec: number, err: number, kind: EventKind, ret: number): void {
  const ext = kind === "exception" || kind === "interrupt" || kind === "nmi" || kind === "int1" ? 1 : 0;
  cpu.materializeFlags();
  if (!cpu.protectedMode) {
    deliverReal(cpu, vec, ret);
    return;
  }
  if ((cpu.efer & (1 << 10)) !== 0) {
    deliverLong(cpu, vec, pushedErrorCode(vec, err, kind), kind, ext, ret);
    return;
  }
  deliverProtected(cpu, vec, pushedErrorCode(vec, err, kind), kind, ext, ret);
}

/** Real-address-mode delivery through the IVT (SDM Vol.3 20.1.4). */
function deliverReal(cpu: Cpu, vec: number, ret: number): void {
  if (vec * 4 + 3 > cpu.idtrLimit) throw new CpuFault(13, 0);
  const entry = cpu.mem.read32((cpu.idtrBase + vec * 4) >>> 0);
  const flags = cpu.getEflags();
  cpu.push(2, flags & 0xffff);
  cpu.push(2, cpu.segSel[SEG.CS]);
  cpu.push(2, ret & 0xffff);
  cpu.setEflags(flags & ~(FLAGS.IF | FLAGS.TF | FLAGS.AC | FLAGS.RF));
  loadRealMode(cpu, SEG.CS, entry >>> 16);
  cpu.rip = entry & 0xffff;
}

function idtError(vec: number, ext: number): number {
  return vec * 8 + 2 + ext;
}

/** 32-bit protected-mode delivery through an interrupt or trap gate (SDM Vol.3 6.12.1). */
function deliverProtected(cpu: Cpu, vec: number, err: number, kind: EventKind, ext: number, ret: number): void {
  if (vec * 8 + 7 > cpu.idtrLimit) throw new CpuFault(13, idtError(vec, ext));
  const gLo = sysRead32(cpu, cpu.idtrBase + vec * 8);
  const gHi = sysRead32(cpu, cpu.idtrBase + vec * 8 + 4);
  const type = (gHi >> 8) & 0x1f; // S bit + type
  const gateDpl = (gHi >> 13) & 3;
  if (type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) {
    // Task gates (type 5) need hardware task switching, which pinvm does not implement.
    throw new CpuFault(13, idtError(vec, ext));
  }
  if ((kind === "software" || kind === "int3" || kind === "into") && gateDpl < cpu.cpl) {
    throw new CpuFault(13, idtError(vec, 0));
  }
  if ((gHi & 0x8000) === 0) throw new CpuFault(11, idtError(vec, ext));
  const gate32 = (type & 8) !== 0;
  const isTrap = (type & 1) !== 0;
  const sel = gLo >>> 16;
  const offset = gate32 ? ((gHi & 0xffff0000) | (gLo & 0xffff)) >>> 0 : gLo & 0xffff;
  if ((sel & 0xfffc) === 0) throw new CpuFault(13, ext);
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(13, (sel & 0xfffc) + ext);
  const attr = descAttr(d);
  const dpl = (attr >> ATTR.DPL_SHIFT) & 3;
  if ((attr & (ATTR.S | ATTR.CODE)) !== (ATTR.S | ATTR.CODE) || dpl > cpu.cpl) {
    throw new CpuFault(13, (sel & 0xfffc) + ext);
  }
  if ((attr & ATTR.P) === 0) throw new CpuFault(11, (sel & 0xfffc) + ext);
  const conforming = (attr & ATTR.EC) !== 0;
  const flags = cpu.getEflags();
  const oldCs = cpu.segSel[SEG.CS];
  const oldEip = ret;
  const size = gate32 ? 4 : 2;
  const wasV86 = cpu.v86;
  if (!conforming && dpl < cpu.cpl) {
    // Inter-privilege: new stack from the TSS (SDM Vol.3 7.2.1, Figure 7-2).
    if (wasV86 && dpl !== 0) throw new CpuFault(13, (sel & 0xfffc) + ext);
    const { ss: newSs, sp: newSp } = tssStack(cpu, dpl, ext);
    const ssd = readDescriptor(cpu, newSs);
    if (ssd === null) throw new CpuFault(10, (newSs & 0xfffc) + ext);
    const ssAttr = descAttr(ssd);
    if (
      (newSs & 3) !== dpl ||
      ((ssAttr >> ATTR.DPL_SHIFT) & 3) !== dpl ||
      (ssAttr & (ATTR.S | ATTR.CODE | ATTR.RW)) !== (ATTR.S | ATTR.RW)
    ) {
      throw new CpuFault(10, (newSs & 0xfffc) + ext);
    }
    if ((ssAttr & ATTR.P) === 0) throw new CpuFault(12, (newSs & 0xfffc) + ext);
    const oldSs = cpu.segSel[SEG.SS];
    const oldSp = cpu.lo[4] >>> 0;
    const saved = [cpu.segSel[SEG.GS], cpu.segSel[SEG.FS], cpu.segSel[SEG.DS], cpu.segSel[SEG.ES]];
    loadFromDescriptor(cpu, SEG.SS, newSs, ssd);
    cpu.stackSize = ssAttr & ATTR.DB ? 4 : 2;
    cpu.setSP(newSp);
    cpu.v86 = false;
    if (wasV86) {
      for (const s of saved) cpu.push(size, s);
    }
    cpu.push(size, oldSs);
    cpu.push(size, oldSp);
    cpu.push(size, flags);
    cpu.push(size, oldCs);
    cpu.push(size, oldEip);
    if (err >= 0) cpu.push(size, err);
    if (wasV86) {
      for (const s of [SEG.GS, SEG.FS, SEG.DS, SEG.ES]) loadNull(cpu, s, 0);
    }
    loadCodeSegment(cpu, sel, d, dpl);
  } else {
    if (wasV86) throw new CpuFault(13, (sel & 0xfffc) + ext);
    cpu.push(size, flags);
    cpu.push(size, oldCs);
    cpu.push(size, oldEip);
    if (err >= 0) cpu.push(size, err);
    loadCodeSegment(cpu, sel, d, cpu.cpl);
  }
  let nf = flags & ~(FLAGS.TF | FLAGS.NT | FLAGS.VM | FLAGS.RF);
  if (!isTrap) nf &= ~FLAGS.IF;
  cpu.setEflags(nf);
  cpu.updateMode();
  cpu.rip = offset;
}

/** Stack for privilege level `dpl` from the current 32- or 16-bit TSS (SDM Vol.3 7.2.1). */
function tssStack(cpu: Cpu, dpl: number, ext: number): { ss: number; sp: number } {
  const trAttr = cpu.segAttr[SEG.TR];
  const type = trAttr & 0xf;
  const base = cpu.segBase[SEG.TR];
  if (type === 11 || type === 9) {
    const off = 4 + dpl * 8;
    if (off + 5 > cpu.segLimit[SEG.TR]) throw new CpuFault(10, (cpu.segSel[SEG.TR] & 0xfffc) + ext);
    return { sp: sysRead32(cpu, base + off), ss: sysRead32(cpu, base + off + 4) & 0xffff };
  }
  const off = 2 + dpl * 4;
  if (off + 3 > cpu.segLimit[SEG.TR]) throw new CpuFault(10, (cpu.segSel[SEG.TR] & 0xfffc) + ext);
  const v = sysRead32(cpu, base + off);
  return { sp: v & 0xffff, ss: v >>> 16 };
}

/** IA-32e mode delivery through a 16-byte IDT gate (SDM Vol.3 6.14.1-6.14.5). */
function deliverLong(cpu: Cpu, vec: number, err: number, kind: EventKind, ext: number, ret: number): void {
  if (vec * 16 + 15 > cpu.idtrLimit) throw new CpuFault(13, idtError(vec, ext));
  const g0 = sysRead32(cpu, cpu.idtrBase + vec * 16);
  const g1 = sysRead32(cpu, cpu.idtrBase + vec * 16 + 4);
  const g2 = sysRead32(cpu, cpu.idtrBase + vec * 16 + 8);
  const type = (g1 >> 8) & 0x1f;
  const gateDpl = (g1 >> 13) & 3;
  if (type !== 0x0e && type !== 0x0f) throw new CpuFault(13, idtError(vec, ext));
  if ((kind === "software" || kind === "int3" || kind === "into") && gateDpl < cpu.cpl) {
    throw new CpuFault(13, idtError(vec, 0));
  }
  if ((g1 & 0x8000) === 0) throw new CpuFault(11, idtError(vec, ext));
  const sel = g0 >>> 16;
  const offset = (g2 | 0) * TWO32 + (((g1 & 0xffff0000) | (g0 & 0xffff)) >>> 0);
  if (offset < CANON_LOW || offset >= CANON_HIGH) throw new CpuFault(13, ext);
  const ist = g1 & 7;
  if ((sel & 0xfffc) === 0) throw new CpuFault(13, ext);
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(13, (sel & 0xfffc) + ext);
  const attr = descAttr(d);
  const dpl = (attr >> ATTR.DPL_SHIFT) & 3;
  if (
    (attr & (ATTR.S | ATTR.CODE)) !== (ATTR.S | ATTR.CODE) ||
    dpl > cpu.cpl ||
    (attr & ATTR.L) === 0 ||
    (attr & ATTR.DB) !== 0
  ) {
    throw new CpuFault(13, (sel & 0xfffc) + ext);
  }
  if ((attr & ATTR.P) === 0) throw new CpuFault(11, (sel & 0xfffc) + ext);
  const conforming = (attr & ATTR.EC) !== 0;
  const newCpl = conforming ? cpu.cpl : dpl;
  const flags = cpu.getEflags();
  const oldCs = cpu.segSel[SEG.CS];
  const oldSs = cpu.segSel[SEG.SS];
  const oldRsp = cpu.reg64(4);
  const oldRip = ret;
  let rsp: number;
  if (ist !== 0) rsp = tss64Read(cpu, 0x24 + (ist - 1) * 8, ext);
  else if (newCpl < cpu.cpl) rsp = tss64Read(cpu, 4 + newCpl * 8, ext);
  else rsp = oldRsp;
  rsp = Math.floor(rsp / 16) * 16; // align to 16 bytes (SDM 6.14.2)
  if (rsp - 40 < CANON_LOW || rsp > CANON_HIGH) throw new CpuFault(12, 0);
  // Build the frame with supervisor writes at the new privilege level before committing.
  const frame: number[] = [oldSs, oldRsp, flags, oldCs, oldRip];
  if (err >= 0) frame.push(err);
  const saveCpl = cpu.cpl;
  cpu.cpl = newCpl;
  cpu.updateAccessMode();
  try {
    let p = rsp;
    for (const v of frame) {
      p -= 8;
      cpu.linWrite64(p, v >>> 0, Math.floor(v / TWO32) | 0);
    }
  } catch (e) {
    cpu.cpl = saveCpl;
    cpu.updateAccessMode();
    if (e instanceof CpuFault && e.vector === 14) throw e;
    throw new CpuFault(12, 0);
  }
  cpu.cpl = saveCpl;
  if (newCpl !== cpu.cpl) {
    loadNull(cpu, SEG.SS, newCpl);
    cpu.segAttr[SEG.SS] = (newCpl << ATTR.DPL_SHIFT) | ATTR.DB;
  }
  loadCodeSegment(cpu, sel, d, newCpl);
  cpu.setReg64FromNumber(4, rsp - frame.length * 8);
  let nf = flags & ~(FLAGS.TF | FLAGS.NT | FLAGS.VM | FLAGS.RF);
  if (type === 0x0e) nf &= ~FLAGS.IF;
  cpu.setEflags(nf);
  cpu.rip = offset;
}

/** Read a 64-bit stack pointer from the 64-bit TSS at `off` (SDM Vol.3 7.7, Figure 7-11). */
function tss64Read(cpu: Cpu, off: number, ext: number): number {
  if (off + 7 > cpu.segLimit[SEG.TR]) throw new CpuFault(10, (cpu.segSel[SEG.TR] & 0xfffc) + ext);
  const base = cpu.segBase[SEG.TR];
  const lo = sysRead32(cpu, base + off);
  const hi = sysRead32(cpu, base + off + 4) | 0;
  const v = hi * TWO32 + lo;
  if (v < CANON_LOW || v >= CANON_HIGH) throw new CpuFault(12, 0);
  return v;
}
