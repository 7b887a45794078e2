/**
 * Stack operations: PUSH/POP of registers, immediates, memory and segment registers,
 * PUSHA/POPA, ENTER/LEAVE (SDM Vol.2 "PUSH", "POP", "PUSHA", "POPA", "ENTER", "LEAVE").
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, group, Imm, OPF_D64, OPF_I64, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { loadDataSegment } from "../segmentation.js";
import { SEG } from "../../x86/segment.js";

for (let r = 0; r < 8; r++) {
  op(
    0x50 + r,
    "push",
    (cpu, i) => {
      const reg = r | ((i.rex & 1) << 3);
      const v = cpu.getReg(reg, i.osize);
      cpu.push(i.osize, v, cpu.rhi);
    },
    false,
    Imm.None,
    OPF_D64,
  );
  op(
    0x58 + r,
    "pop",
    (cpu, i) => {
      const reg = r | ((i.rex & 1) << 3);
      const v = cpu.pop(i.osize);
      cpu.setReg(reg, i.osize, v, cpu.rhi);
    },
    false,
    Imm.None,
    OPF_D64,
  );
}
op(
  0x68,
  "push",
  (cpu, i) => cpu.push(i.osize, i.osize === 2 ? i.imm & 0xffff : i.imm >>> 0, i.imm < 0 ? -1 : 0),
  false,
  Imm.Iz,
  OPF_D64,
);
op(
  0x6a,
  "push",
  (cpu, i) => cpu.push(i.osize, i.osize === 2 ? i.imm & 0xffff : i.imm >>> 0, i.imm < 0 ? -1 : 0),
  false,
  Imm.Ibs,
  OPF_D64,
);
group(
  0xff,
  6,
  "push",
  (cpu, i) => {
    const v = cpu.readRM(i, i.osize);
    cpu.push(i.osize, v, cpu.rhi);
  },
  Imm.None,
  OPF_D64,
);
group(
  0x8f,
  0,
  "pop",
  (cpu, i) => {
    // POP r/m: the address is computed after RSP is incremented (SDM Vol.2 POP).
    const oldSp = cpu.getSP();
    const v = cpu.pop(i.osize);
    const vh = cpu.rhi;
    try {
      cpu.writeRM(i, i.osize, v, vh);
    } catch (e) {
      cpu.setSP(oldSp);
      throw e;
    }
  },
  Imm.None,
  OPF_D64,
);

/** Push a segment register (a 16-bit selector zero-extended to the operand size). */
function pushSeg(seg: number) {
  return (cpu: Cpu, i: Instr): void => cpu.push(i.osize, cpu.segSel[seg]);
}
/** Pop a segment register. */
function popSeg(seg: number) {
  return (cpu: Cpu, i: Instr): void => {
    const sp = cpu.getSP();
    const v = cpu.read(SEG.SS, sp, i.osize) & 0xffff;
    loadDataSegment(cpu, seg, v);
    cpu.setSP(cpu.spOffset(i.osize));
    if (seg === SEG.SS) cpu.interruptShadow = true;
  };
}
op(0x06, "push", pushSeg(SEG.ES), false, Imm.None, OPF_I64);
op(0x07, "pop", popSeg(SEG.ES), false, Imm.None, OPF_I64 | OPF_TERMINAL);
op(0x0e, "push", pushSeg(SEG.CS), false, Imm.None, OPF_I64);
op(0x16, "push", pushSeg(SEG.SS), false, Imm.None, OPF_I64);
op(0x17, "pop", popSeg(SEG.SS), false, Imm.None, OPF_I64 | OPF_TERMINAL);
op(0x1e, "push", pushSeg(SEG.DS), false, Imm.None, OPF_I64);
op(0x1f, "pop", popSeg(SEG.DS), false, Imm.None, OPF_I64 | OPF_TERMINAL);
op(0x1a0, "push", pushSeg(SEG.FS), false, Imm.None, OPF_D64);
op(0x1a1, "pop", popSeg(SEG.FS), false, Imm.None, OPF_D64 | OPF_TERMINAL);
op(0x1a8, "push", pushSeg(SEG.GS), false, Imm.None, OPF_D64);
op(0x1a9, "pop", popSeg(SEG.GS), false, Imm.None, OPF_D64 | OPF_TERMINAL);

// PUSHA/POPA (60/61), invalid in 64-bit mode.
op(
  0x60,
  "pusha",
  (cpu, i) => {
    const size = i.osize;
    const sp = cpu.getReg(4, size);
    // Check the whole area first so a fault leaves ESP unchanged.
    cpu.linear(SEG.SS, cpu.spOffset(-8 * size), 8 * size, true);
    for (let r = 0; r < 8; r++) cpu.push(size, r === 4 ? sp : cpu.getReg(r, size));
  },
  false,
  Imm.None,
  OPF_I64,
);
op(
  0x61,
  "popa",
  (cpu, i) => {
    const size = i.osize;
    cpu.linear(SEG.SS, cpu.getSP(), 8 * size, false);
    for (let r = 7; r >= 0; r--) {
      const v = cpu.pop(size);
      if (r !== 4) cpu.setReg(r, size, v);
    }
  },
  false,
  Imm.None,
  OPF_I64,
);

// LEAVE (C9).
op(
  0xc9,
  "leave",
  (cpu, i) => {
    const bp =
      cpu.stackSize === 8 ? cpu.reg64(5) : cpu.stackSize === 4 ? cpu.lo[5] >>> 0 : cpu.lo[5] & 0xffff;
    const size = i.osize;
    const v = cpu.read(SEG.SS, bp, size);
    const vh = cpu.rhi;
    const newSp = bp + size;
    if (cpu.stackSize === 8) cpu.setReg64FromNumber(4, newSp);
    else cpu.setSP(cpu.stackSize === 4 ? newSp >>> 0 : newSp & 0xffff);
    cpu.setReg(5, size, v, vh);
  },
  false,
  Imm.None,
  OPF_D64,
);

// ENTER imm16, imm8 (C8).
op(
  0xc8,
  "enter",
  (cpu, i) => {
    const size = i.osize;
    const alloc = i.imm;
    const level = i.imm2 & 31;
    const bp = cpu.getReg(5, size);
    const bph = cpu.rhi;
    const oldSp = cpu.getSP();
    const oldBp5lo = cpu.lo[5];
    const oldBp5hi = cpu.hi[5];
    try {
      cpu.push(size, bp, bph);
      const frame = cpu.getSP();
      if (level > 0) {
        let p = cpu.stackSize === 8 ? cpu.reg64(5) : cpu.getReg(5, cpu.stackSize);
        for (let n = 1; n < level; n++) {
          p -= size;
          if (cpu.stackSize === 4) p >>>= 0;
          else if (cpu.stackSize === 2) p &= 0xffff;
          const v = cpu.read(SEG.SS, p, size);
          cpu.push(size, v, cpu.rhi);
        }
        cpu.push(size, frame >>> 0, size === 8 ? Math.floor(frame / 4294967296) : 0);
      }
      const newSp = cpu.spOffset(-alloc);
      // The new stack top must be writable (the processor checks it; SDM ENTER #SS/#PF).
      cpu.linear(SEG.SS, newSp, 1, true);
      if (size === 8) cpu.setReg64FromNumber(5, frame);
      else cpu.setReg(5, size, frame);
      cpu.setSP(newSp);
    } catch (e) {
      cpu.setSP(oldSp);
      cpu.lo[5] = oldBp5lo;
      cpu.hi[5] = oldBp5hi;
      throw e;
    }
  },
  false,
  Imm.IwIb,
  OPF_D64,
);

void CpuFault;
