/**
 * Data movement: MOV in its register, memory, immediate and moffs forms, MOV to/from segment
 * registers, LEA, MOVZX/MOVSX/MOVSXD, XCHG, NOP/PAUSE (SDM Vol.2 "MOV", "LEA", "MOVZX",
 * "MOVSX/MOVSXD", "XCHG", "NOP", "PAUSE").
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, group, Imm, OPF_BYTE, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { loadDataSegment } from "../segmentation.js";
import { SEG } from "../../x86/segment.js";
import { FLAGS } from "../../x86/eflags.js";
import { rmwLinear } from "./alu.js";

op(0x88, "mov", (cpu, i) => cpu.writeRM(i, 1, cpu.readRegOp(i, 1)), true);
op(
  0x89,
  "mov",
  (cpu, i) => {
    const v = cpu.readRegOp(i, i.osize);
    cpu.writeRM(i, i.osize, v, cpu.rhi);
  },
  true,
);
op(0x8a, "mov", (cpu, i) => cpu.writeRegOp(i, 1, cpu.readRM(i, 1)), true);
op(
  0x8b,
  "mov",
  (cpu, i) => {
    const v = cpu.readRM(i, i.osize);
    cpu.writeRegOp(i, i.osize, v, cpu.rhi);
  },
  true,
);

for (let r = 0; r < 8; r++) {
  op(0xb0 + r, "mov", (cpu, i) => cpu.setReg8(r | ((i.rex & 1) << 3), i.rex, i.imm), false, Imm.Ib);
  op(0xb8 + r, "mov", (cpu, i) => cpu.setReg(r | ((i.rex & 1) << 3), i.osize, i.imm, i.immHi), false, Imm.Iv);
}
group(0xc6, 0, "mov", (cpu, i) => cpu.writeRM(i, 1, i.imm), Imm.Ib, OPF_BYTE);
group(
  0xc7,
  0,
  "mov",
  (cpu, i) => cpu.writeRM(i, i.osize, i.imm >>> 0, i.osize === 8 && i.imm < 0 ? -1 : 0),
  Imm.Iz,
);

/** moffs address for A0-A3: an offset (legacy) or a 64-bit address. */
function moffs(cpu: Cpu, i: Instr): number {
  if (i.asize === 8) return (i.immHi | 0) * 4294967296 + (i.imm >>> 0);
  return i.imm;
}
op(0xa0, "mov", (cpu, i) => cpu.setReg(0, 1, cpu.read(i.seg, moffs(cpu, i), 1)), false, Imm.Moffs);
op(
  0xa1,
  "mov",
  (cpu, i) => {
    const v = cpu.read(i.seg, moffs(cpu, i), i.osize);
    cpu.setReg(0, i.osize, v, cpu.rhi);
  },
  false,
  Imm.Moffs,
);
op(0xa2, "mov", (cpu, i) => cpu.write(i.seg, moffs(cpu, i), 1, cpu.getReg(0, 1)), false, Imm.Moffs);
op(
  0xa3,
  "mov",
  (cpu, i) => {
    const v = cpu.getReg(0, i.osize);
    cpu.write(i.seg, moffs(cpu, i), i.osize, v, cpu.rhi);
  },
  false,
  Imm.Moffs,
);

// LEA (8D): register form is #UD.
op(
  0x8d,
  "lea",
  (cpu, i) => {
    if (i.mod === 3) throw new CpuFault(6, -1);
    if (i.asize === 8 && !i.ripRel) {
      // Exact 64-bit address arithmetic (the result may be any 64-bit value).
      const l = cpu.ea64(i);
      if (i.osize === 8) cpu.setReg(i.reg, 8, l, cpu.rhi);
      else cpu.setReg(i.reg, i.osize, i.osize === 2 ? l & 0xffff : l);
      return;
    }
    const a = cpu.ea(i);
    if (i.osize === 8) cpu.setReg64FromNumber(i.reg, a);
    else cpu.setReg(i.reg, i.osize, i.osize === 2 ? a & 0xffff : a >>> 0);
  },
  true,
);

// MOV r/m, Sreg (8C) and MOV Sreg, r/m (8E).
op(
  0x8c,
  "mov",
  (cpu, i) => {
    if (i.reg > 5 && i.reg < 8) throw new CpuFault(6, -1);
    const sreg = i.reg & 7;
    if (sreg > 5) throw new CpuFault(6, -1);
    const v = cpu.segSel[sreg];
    // Register destination with 32/64-bit operand size zero-extends; memory stores 16 bits.
    if (i.mod === 3) cpu.setReg(i.rm, i.osize === 2 ? 2 : i.osize, v);
    else cpu.writeRM(i, 2, v);
  },
  true,
);
op(
  0x8e,
  "mov",
  (cpu, i) => {
    const sreg = i.reg & 7;
    if (sreg === SEG.CS || sreg > 5) throw new CpuFault(6, -1);
    const sel = cpu.readRM(i, 2);
    loadDataSegment(cpu, sreg, sel);
    if (sreg === SEG.SS) cpu.interruptShadow = true;
  },
  true,
  Imm.None,
  OPF_TERMINAL,
);

// MOVZX / MOVSX (0F B6/B7/BE/BF) and MOVSXD (63 in 64-bit mode).
op(0x1b6, "movzx", (cpu, i) => cpu.writeRegOp(i, i.osize, cpu.readRM(i, 1), 0), true);
op(0x1b7, "movzx", (cpu, i) => cpu.writeRegOp(i, i.osize, cpu.readRM(i, 2), 0), true);
op(
  0x1be,
  "movsx",
  (cpu, i) => {
    const v = (cpu.readRM(i, 1) << 24) >> 24;
    cpu.writeRegOp(i, i.osize, i.osize === 2 ? v & 0xffff : v >>> 0, v < 0 ? -1 : 0);
  },
  true,
);
op(
  0x1bf,
  "movsx",
  (cpu, i) => {
    const v = (cpu.readRM(i, 2) << 16) >> 16;
    cpu.writeRegOp(i, i.osize, i.osize === 2 ? v & 0xffff : v >>> 0, v < 0 ? -1 : 0);
  },
  true,
);
op(
  0x63,
  "movsxd/arpl",
  (cpu, i) => {
    if (!cpu.long64) {
      arpl(cpu, i);
      return;
    }
    const v = cpu.readRM(i, 4) | 0;
    if (i.osize === 8) cpu.writeRegOp(i, 8, v >>> 0, v < 0 ? -1 : 0);
    else cpu.writeRegOp(i, i.osize, i.osize === 2 ? v & 0xffff : v >>> 0);
  },
  true,
);

/** ARPL r/m16, r16 (SDM Vol.2 ARPL): protected mode only. */
function arpl(cpu: Cpu, i: Instr): void {
  if (!cpu.protectedMode || cpu.v86) throw new CpuFault(6, -1);
  let lin = 0;
  let dest: number;
  if (i.mod === 3) dest = cpu.getReg(i.rm, 2);
  else {
    lin = rmwLinear(cpu, i, 2);
    dest = cpu.linRead16(lin);
  }
  const src = cpu.getReg(i.reg, 2);
  if ((dest & 3) < (src & 3)) {
    dest = (dest & ~3) | (src & 3);
    if (i.mod === 3) cpu.setReg(i.rm, 2, dest);
    else cpu.linWrite16(lin, dest);
    cpu.setFlagBits(FLAGS.ZF, FLAGS.ZF);
  } else cpu.setFlagBits(FLAGS.ZF, 0);
}

// XCHG (86, 87, 90+r). 90 without REX.B is NOP; F3 90 is PAUSE.
op(
  0x86,
  "xchg",
  (cpu, i) => {
    const r = cpu.readRegOp(i, 1);
    if (i.mod === 3) {
      cpu.writeRegOp(i, 1, cpu.getReg8(i.rm, i.rex));
      cpu.setReg8(i.rm, i.rex, r);
      return;
    }
    const lin = rmwLinear(cpu, i, 1);
    const m = cpu.linRead8(lin);
    cpu.linWrite8(lin, r);
    cpu.writeRegOp(i, 1, m);
  },
  true,
);
op(
  0x87,
  "xchg",
  (cpu, i) => {
    const size = i.osize;
    const r = cpu.readRegOp(i, size);
    const rh = cpu.rhi;
    if (i.mod === 3) {
      const m = cpu.getReg(i.rm, size);
      const mh = cpu.rhi;
      cpu.setReg(i.rm, size, r, rh);
      cpu.writeRegOp(i, size, m, mh);
      return;
    }
    const lin = rmwLinear(cpu, i, size);
    const m = cpu.linRead(lin, size);
    const mh = cpu.rhi;
    cpu.linWrite(lin, size, r, rh);
    cpu.writeRegOp(i, size, m, mh);
  },
  true,
);
op(
  0x90,
  "nop",
  (cpu, i) => {
    if (i.rex & 1) {
      const a = cpu.getReg(0, i.osize);
      const ah = cpu.rhi;
      const b = cpu.getReg(8, i.osize);
      const bh = cpu.rhi;
      cpu.setReg(0, i.osize, b, bh);
      cpu.setReg(8, i.osize, a, ah);
    }
    // PAUSE (F3 90) is a hint; nothing to do in an interpreter.
  },
  false,
);
for (let r = 1; r < 8; r++) {
  op(
    0x90 + r,
    "xchg",
    (cpu, i) => {
      const reg = r | ((i.rex & 1) << 3);
      const a = cpu.getReg(0, i.osize);
      const ah = cpu.rhi;
      const b = cpu.getReg(reg, i.osize);
      const bh = cpu.rhi;
      cpu.setReg(0, i.osize, b, bh);
      cpu.setReg(reg, i.osize, a, ah);
    },
    false,
  );
}
// Multi-byte NOP (0F 1F /0) and hint NOPs 0F 18-1F with ModRM.
for (let o = 0x118; o <= 0x11f; o++) op(o, "nop", () => {}, true);
