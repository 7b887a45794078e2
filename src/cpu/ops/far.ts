/**
 * Far control transfers: JMP ptr16:16/32 (EA), JMP m16:16/32/64 (FF /5), CALL ptr16:16/32
 * (9A), CALL m16:16/32/64 (FF /3) and RET far (CB, CA iw) in real-address, virtual-8086,
 * protected and IA-32e modes (SDM Vol.2 "JMP", "CALL", "RET"; Vol.3 5.8 "Privilege Level
 * Checking When Transferring Program Control Between Code Segments", 5.8.6 call gates,
 * 5.8.5 stack switching, 5.8.6 returning from a called procedure).
 *
 * Direct transfers to code segments apply the conforming / non-conforming rules; call gates
 * (16- and 32-bit in legacy mode, 64-bit in IA-32e mode) may raise the privilege level for
 * CALL, switching to the inner stack from the TSS and copying parameters; RET far may return
 * to an outer level, popping SS:ESP and nulling data segment registers the outer level may
 * not use. A TSS or task-gate target switches tasks outside IA-32e mode (../task-switch.ts).
 */
import type { Cpu } from "../cpu.js";
import { CANON_HIGH, CANON_LOW } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, group, Imm, OPF_TERMINAL, OPF_I64 } from "../optable.js";
import { CpuFault } from "../fault.js";
import {
  atomically,
  checkInnerStack,
  checkReturnCs,
  checkReturnSs,
  loadReturnSs,
  pushOrSS,
  tssStack,
  tss64Read,
} from "../interrupts.js";
import {
  readDescriptor,
  descAttr,
  descLimit,
  setAccessed,
  sysRead32,
  loadCodeSegment,
  loadFromDescriptor,
  loadNull,
  loadRealMode,
  nullInvalidDataSegments,
  type Descriptor,
} from "../segmentation.js";
import { farTaskSwitch } from "../task-switch.js";
import { SEG, ATTR } from "../../x86/segment.js";
import { EFER } from "../../x86/cr.js";

const TWO32 = 4294967296;

/** Push a return address / value of `size` bytes given as a (possibly signed 64-bit) number. */
function pushNum(cpu: Cpu, size: number, v: number, ssErr: number): void {
  if (size === 8) pushOrSS(cpu, 8, v >>> 0, Math.floor(v / TWO32) | 0, ssErr);
  else pushOrSS(cpu, size, size === 2 ? v & 0xffff : v >>> 0, 0, ssErr);
}

/** Offset of `size` bytes as a number (64-bit: signed from the pair in rhi). */
function asOffset(v: number, vhi: number, size: number): number {
  if (size === 8) return (vhi | 0) * TWO32 + (v >>> 0);
  return size === 2 ? v & 0xffff : v >>> 0;
}

/** #GP(0) unless `eip` is a valid target: canonical for 64-bit code, else within `limit`. */
function checkTarget(eip: number, target64: boolean, limit: number): void {
  if (target64) {
    if (eip < CANON_LOW || eip >= CANON_HIGH) throw new CpuFault(13, 0);
  } else if (eip < 0 || eip >= TWO32 || eip > limit) {
    throw new CpuFault(13, 0);
  }
}

/** Read bytes 8..15 of a 16-byte system descriptor (IA-32e call gates) from the GDT or LDT. */
function readDescriptorUpper(cpu: Cpu, sel: number): { lo: number; hi: number } | null {
  const index = (sel & 0xfff8) + 8;
  let base: number;
  let limit: number;
  if (sel & 4) {
    if (cpu.segSel[SEG.LDTR] === 0 || (cpu.segAttr[SEG.LDTR] & ATTR.P) === 0) return null;
    base = cpu.segBase[SEG.LDTR];
    limit = cpu.segLimit[SEG.LDTR];
  } else {
    base = cpu.gdtrBase;
    limit = cpu.gdtrLimit;
  }
  if (index + 7 > limit) return null;
  return { lo: sysRead32(cpu, base + index), hi: sysRead32(cpu, base + index + 4) };
}

/**
 * Far JMP or CALL to `sel`:`offset` with operand size `osize` (SDM Vol.2 JMP / CALL
 * Operation). The return address pushed by CALL is cpu.nextRip.
 */
export function farTransfer(cpu: Cpu, sel: number, offset: number, osize: number, isCall: boolean): void {
  sel &= 0xffff;
  if (!cpu.protectedMode || cpu.v86) {
    // Real-address and virtual-8086 mode.
    const eip = osize === 2 ? offset & 0xffff : offset >>> 0;
    if (eip > cpu.segLimit[SEG.CS]) throw new CpuFault(13, 0);
    atomically(cpu, () => {
      if (isCall) {
        cpu.push(osize, cpu.segSel[SEG.CS]);
        cpu.push(osize, osize === 2 ? cpu.nextRip & 0xffff : cpu.nextRip >>> 0);
      }
      loadRealMode(cpu, SEG.CS, sel);
    });
    cpu.nextRip = eip;
    return;
  }
  const cpl = cpu.cpl;
  const rpl = sel & 3;
  const ia32e = (cpu.efer & EFER.LMA) !== 0;
  if ((sel & 0xfffc) === 0) throw new CpuFault(13, 0);
  const d = readDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(13, sel & 0xfffc);
  const a = descAttr(d);
  const dpl = (a >> ATTR.DPL_SHIFT) & 3;
  if (a & ATTR.S) {
    // Direct transfer to a code segment (SDM Vol.3 5.8.1, 5.8.2).
    if ((a & ATTR.CODE) === 0) throw new CpuFault(13, sel & 0xfffc);
    if (a & ATTR.EC) {
      if (dpl > cpl) throw new CpuFault(13, sel & 0xfffc);
    } else if (rpl > cpl || dpl !== cpl) {
      throw new CpuFault(13, sel & 0xfffc);
    }
    if (ia32e && (a & ATTR.L) !== 0 && (a & ATTR.DB) !== 0) throw new CpuFault(13, sel & 0xfffc);
    if ((a & ATTR.P) === 0) throw new CpuFault(11, sel & 0xfffc);
    const eip = osize === 8 ? offset : osize === 2 ? offset & 0xffff : offset >>> 0;
    checkTarget(eip, ia32e && (a & ATTR.L) !== 0, descLimit(d));
    atomically(cpu, () => {
      if (isCall) {
        pushNum(cpu, osize, cpu.segSel[SEG.CS], 0);
        pushNum(cpu, osize, cpu.nextRip, 0);
      }
      loadCodeSegment(cpu, sel, d, cpl);
    });
    cpu.nextRip = eip;
    return;
  }
  const type = a & 0xf;
  if (type === 4 || type === 12) {
    // In IA-32e mode only the 64-bit call gate (type 12) exists (SDM Vol.3 5.8.3.1).
    if (ia32e && type !== 12) throw new CpuFault(13, sel & 0xfffc);
    callGate(cpu, sel, d, osize, isCall, ia32e);
    return;
  }
  if (!ia32e && (type === 1 || type === 5 || type === 9)) {
    // JMP/CALL to an available TSS or a task gate switches tasks (SDM Vol.3 7.3); in IA-32e
    // mode these types are #GP(selector) (Vol.3 7.7).
    farTaskSwitch(cpu, sel, d, isCall);
    return;
  }
  throw new CpuFault(13, sel & 0xfffc);
}

/** Far JMP/CALL through a call gate (SDM Vol.2 CALL "CALL-GATE", JMP "CALL-GATE"; Vol.3 5.8.4-5.8.5). */
function callGate(
  cpu: Cpu,
  gsel: number,
  g: Descriptor,
  _osize: number,
  isCall: boolean,
  ia32e: boolean,
): void {
  const cpl = cpu.cpl;
  const ga = descAttr(g);
  const gdpl = (ga >> ATTR.DPL_SHIFT) & 3;
  if (gdpl < cpl || gdpl < (gsel & 3)) throw new CpuFault(13, gsel & 0xfffc);
  if ((ga & ATTR.P) === 0) throw new CpuFault(11, gsel & 0xfffc);
  let gsize: number;
  let target: number;
  let params = 0;
  if (ia32e) {
    const up = readDescriptorUpper(cpu, gsel);
    if (up === null || ((up.hi >> 8) & 0x1f) !== 0) throw new CpuFault(13, gsel & 0xfffc);
    gsize = 8;
    target = (up.lo | 0) * TWO32 + (((g.hi & 0xffff0000) | (g.lo & 0xffff)) >>> 0);
  } else {
    gsize = (ga & 0xf) === 12 ? 4 : 2;
    target = gsize === 4 ? ((g.hi & 0xffff0000) | (g.lo & 0xffff)) >>> 0 : g.lo & 0xffff;
    params = g.hi & 0x1f;
  }
  const csel = g.lo >>> 16;
  if ((csel & 0xfffc) === 0) throw new CpuFault(13, 0);
  const cd = readDescriptor(cpu, csel);
  if (cd === null) throw new CpuFault(13, csel & 0xfffc);
  const ca = descAttr(cd);
  const cdpl = (ca >> ATTR.DPL_SHIFT) & 3;
  if ((ca & (ATTR.S | ATTR.CODE)) !== (ATTR.S | ATTR.CODE) || cdpl > cpl)
    throw new CpuFault(13, csel & 0xfffc);
  if (ia32e && ((ca & ATTR.L) === 0 || (ca & ATTR.DB) !== 0)) throw new CpuFault(13, csel & 0xfffc);
  const conforming = (ca & ATTR.EC) !== 0;
  if (!isCall && !conforming && cdpl !== cpl) throw new CpuFault(13, csel & 0xfffc);
  if ((ca & ATTR.P) === 0) throw new CpuFault(11, csel & 0xfffc);
  const oldCs = cpu.segSel[SEG.CS];
  const ret = cpu.nextRip;
  if (!isCall) {
    checkTarget(target, ia32e, descLimit(cd));
    atomically(cpu, () => loadCodeSegment(cpu, csel, cd, cpl));
    cpu.nextRip = target;
    return;
  }
  if (!conforming && cdpl < cpl) {
    // MORE-PRIVILEGE: switch to the inner stack named in the TSS.
    if (ia32e) {
      const newRsp = tss64Read(cpu, 4 + cdpl * 8, 0);
      checkTarget(target, true, 0);
      const oldSs = cpu.segSel[SEG.SS];
      const oldRsp = cpu.reg64(4);
      atomically(cpu, () => {
        loadCodeSegment(cpu, csel, cd, cdpl);
        loadNull(cpu, SEG.SS, cdpl);
        cpu.segAttr[SEG.SS] = (cdpl << ATTR.DPL_SHIFT) | ATTR.DB;
        cpu.updateMode();
        cpu.setReg64FromNumber(4, newRsp);
        pushNum(cpu, 8, oldSs, 0);
        pushNum(cpu, 8, oldRsp, 0);
        pushNum(cpu, 8, oldCs, 0);
        pushNum(cpu, 8, ret, 0);
      });
      cpu.nextRip = target;
      return;
    }
    const { ss: newSs, sp: newSp } = tssStack(cpu, cdpl, 0);
    const ssd = checkInnerStack(cpu, newSs, cdpl, 0);
    checkTarget(target, false, descLimit(cd));
    // Parameters are read from the caller's stack before switching (SDM Vol.3 5.8.5, Figure 5-13).
    const args: number[] = [];
    for (let n = params - 1; n >= 0; n--) args.push(cpu.read(SEG.SS, cpu.spOffset(n * gsize), gsize));
    const oldSs = cpu.segSel[SEG.SS];
    const oldSp = cpu.lo[4] >>> 0;
    const ssErr = newSs & 0xfffc;
    atomically(cpu, () => {
      setAccessed(cpu, ssd);
      loadFromDescriptor(cpu, SEG.SS, newSs, ssd);
      loadCodeSegment(cpu, csel, cd, cdpl);
      cpu.lo[4] = newSp;
      // The whole frame must fit: check its lowest byte first so no partial frame is left.
      const frame = (4 + params) * gsize;
      try {
        cpu.linear(SEG.SS, cpu.spOffset(-frame), frame, true);
      } catch (e) {
        if (e instanceof CpuFault && e.vector === 12) throw new CpuFault(12, ssErr);
        throw e;
      }
      pushNum(cpu, gsize, oldSs, ssErr);
      pushNum(cpu, gsize, oldSp, ssErr);
      for (const v of args) pushNum(cpu, gsize, v, ssErr);
      pushNum(cpu, gsize, oldCs, ssErr);
      pushNum(cpu, gsize, ret, ssErr);
    });
    cpu.nextRip = target;
    return;
  }
  // SAME-PRIVILEGE through the gate: the pushes use the gate size.
  checkTarget(target, ia32e, descLimit(cd));
  atomically(cpu, () => {
    loadCodeSegment(cpu, csel, cd, cpl);
    pushNum(cpu, gsize, oldCs, 0);
    pushNum(cpu, gsize, ret, 0);
  });
  cpu.nextRip = target;
}

/** Far RET [imm16] (SDM Vol.2 RET: REAL-ADDRESS/V86, PROTECTED-MODE, RETURN-TO-OUTER-PRIVILEGE-LEVEL, IA-32e). */
export function retFar(cpu: Cpu, osize: number, release: number): void {
  const tempEip = asOffset(cpu.read(SEG.SS, cpu.getSP(), osize), cpu.rhi, osize);
  const tempCs = cpu.read(SEG.SS, cpu.spOffset(osize), osize) & 0xffff;
  if (!cpu.protectedMode || cpu.v86) {
    if (tempEip > cpu.segLimit[SEG.CS]) throw new CpuFault(13, 0);
    atomically(cpu, () => {
      cpu.setSP(cpu.spOffset(2 * osize + release));
      loadRealMode(cpu, SEG.CS, tempCs);
    });
    cpu.nextRip = tempEip;
    return;
  }
  const cpl = cpu.cpl;
  const ia32e = (cpu.efer & EFER.LMA) !== 0;
  const { d, rpl, target64 } = checkReturnCs(cpu, tempCs, cpl, ia32e);
  if (rpl === cpl) {
    checkTarget(tempEip, target64, descLimit(d));
    atomically(cpu, () => {
      cpu.setSP(cpu.spOffset(2 * osize + release));
      loadCodeSegment(cpu, tempCs, d, cpl);
    });
    cpu.nextRip = tempEip;
    return;
  }
  // RETURN-TO-OUTER-PRIVILEGE-LEVEL: SS:ESP lie above the released parameters.
  const base = 2 * osize + release;
  const tempSp = asOffset(cpu.read(SEG.SS, cpu.spOffset(base), osize), cpu.rhi, osize);
  const tempSs = cpu.read(SEG.SS, cpu.spOffset(base + osize), osize) & 0xffff;
  const ssd = checkReturnSs(cpu, tempSs, rpl, target64);
  checkTarget(tempEip, target64, descLimit(d));
  atomically(cpu, () => {
    loadCodeSegment(cpu, tempCs, d, rpl);
    loadReturnSs(cpu, tempSs, ssd, rpl);
    cpu.updateMode();
    if (osize === 8) cpu.setReg64FromNumber(4, tempSp);
    else if (osize === 4) cpu.setReg(4, 4, tempSp);
    else cpu.lo[4] = (cpu.lo[4] & ~0xffff) | tempSp;
    cpu.setSP(cpu.spOffset(release));
    nullInvalidDataSegments(cpu);
  });
  cpu.nextRip = tempEip;
}

/** Read a far pointer m16:16/32/64 from the memory operand: [offset, selector]. */
function farPointer(cpu: Cpu, i: Instr): [number, number] {
  if (i.mod === 3) throw new CpuFault(6, -1);
  const ea = cpu.ea(i);
  const size = i.osize;
  const off = asOffset(cpu.read(i.seg, ea, size), cpu.rhi, size);
  const selOff = i.asize === 2 ? (ea + size) & 0xffff : i.asize === 4 ? (ea + size) >>> 0 : ea + size;
  const sel = cpu.read(i.seg, selOff, 2);
  return [off, sel];
}

op(
  0xea,
  "jmp far",
  (cpu, i) => farTransfer(cpu, i.imm2, i.imm, i.osize, false),
  false,
  Imm.Ap,
  OPF_TERMINAL | OPF_I64,
);
op(
  0x9a,
  "call far",
  (cpu, i) => farTransfer(cpu, i.imm2, i.imm, i.osize, true),
  false,
  Imm.Ap,
  OPF_TERMINAL | OPF_I64,
);
group(
  0xff,
  5,
  "jmp far",
  (cpu, i) => {
    const [off, sel] = farPointer(cpu, i);
    farTransfer(cpu, sel, off, i.osize, false);
  },
  Imm.None,
  OPF_TERMINAL,
);
group(
  0xff,
  3,
  "call far",
  (cpu, i) => {
    const [off, sel] = farPointer(cpu, i);
    farTransfer(cpu, sel, off, i.osize, true);
  },
  Imm.None,
  OPF_TERMINAL,
);
op(0xcb, "retf", (cpu, i) => retFar(cpu, i.osize, 0), false, Imm.None, OPF_TERMINAL);
op(0xca, "retf", (cpu, i) => retFar(cpu, i.osize, i.imm), false, Imm.Iw, OPF_TERMINAL);
