/**
 * Integer arithmetic and logic: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP in every encoding
 * (opcodes 00-3D and group 1 at 80-83), TEST, INC/DEC, NOT/NEG (SDM Vol.2 "ADD", "ADC", ...,
 * flags per Vol.1 Appendix A). Flags are recorded lazily (see ../flags.ts).
 */
import { Access, type Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { LazyOp } from "../flags.js";
import { op, group, Imm, OPF_LOCK, OPF_BYTE, OPF_I64 } from "../optable.js";
import { STATUS_FLAGS, FLAGS } from "../../x86/eflags.js";

/** Value mask for an operand size of 1, 2 or 4 bytes. */
export function sizeMask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

/** ALU operation index in ModRM.reg / opcode-bits-5:3 order. */
export const enum AluOp {
  Add = 0,
  Or = 1,
  Adc = 2,
  Sbb = 3,
  And = 4,
  Sub = 5,
  Xor = 6,
  Cmp = 7,
}

/**
 * Compute `a op b` at `size` bytes, record flags, and return the result (64-bit: low half,
 * high half in cpu.rhi). Operands are unsigned and masked to size; ah/bh are high halves.
 */
export function alu(
  cpu: Cpu,
  opIdx: number,
  size: number,
  a: number,
  ah: number,
  b: number,
  bh: number,
): number {
  if (size === 8) {
    let rl: number;
    let rh: number;
    switch (opIdx) {
      case AluOp.Add:
      case AluOp.Adc: {
        const cin = opIdx === AluOp.Adc ? cpu.getCF() : 0;
        const s = a + b + cin;
        rl = s >>> 0;
        rh = (ah + bh + (s > 0xffffffff ? 1 : 0)) >>> 0;
        cpu.lfCin = cin;
        cpu.setLazy64(opIdx === AluOp.Adc ? LazyOp.Adc : LazyOp.Add, a, ah, b, bh, rl, rh, STATUS_FLAGS);
        break;
      }
      case AluOp.Sub:
      case AluOp.Sbb:
      case AluOp.Cmp: {
        const cin = opIdx === AluOp.Sbb ? cpu.getCF() : 0;
        const s = a - b - cin;
        rl = s >>> 0;
        rh = (ah - bh - (s < 0 ? 1 : 0)) >>> 0;
        cpu.lfCin = cin;
        cpu.setLazy64(opIdx === AluOp.Sbb ? LazyOp.Sbb : LazyOp.Sub, a, ah, b, bh, rl, rh, STATUS_FLAGS);
        break;
      }
      case AluOp.Or:
        rl = (a | b) >>> 0;
        rh = (ah | bh) >>> 0;
        cpu.setLazy64(LazyOp.Logic, 0, 0, 0, 0, rl, rh, STATUS_FLAGS);
        break;
      case AluOp.And:
        rl = (a & b) >>> 0;
        rh = (ah & bh) >>> 0;
        cpu.setLazy64(LazyOp.Logic, 0, 0, 0, 0, rl, rh, STATUS_FLAGS);
        break;
      default:
        rl = (a ^ b) >>> 0;
        rh = (ah ^ bh) >>> 0;
        cpu.setLazy64(LazyOp.Logic, 0, 0, 0, 0, rl, rh, STATUS_FLAGS);
        break;
    }
    cpu.rhi = rh;
    return rl;
  }
  const mask = sizeMask(size);
  let r: number;
  switch (opIdx) {
    case AluOp.Add:
      r = (a + b) & mask;
      if (size === 4) r >>>= 0;
      cpu.setLazy(LazyOp.Add, size, a, b, r, STATUS_FLAGS);
      return r;
    case AluOp.Adc: {
      const cin = cpu.getCF();
      r = (a + b + cin) & mask;
      if (size === 4) r >>>= 0;
      cpu.lfCin = cin;
      cpu.setLazy(LazyOp.Adc, size, a, b, r, STATUS_FLAGS);
      return r;
    }
    case AluOp.Sub:
    case AluOp.Cmp:
      r = (a - b) & mask;
      if (size === 4) r >>>= 0;
      cpu.setLazy(LazyOp.Sub, size, a, b, r, STATUS_FLAGS);
      return r;
    case AluOp.Sbb: {
      const cin = cpu.getCF();
      r = (a - b - cin) & mask;
      if (size === 4) r >>>= 0;
      cpu.lfCin = cin;
      cpu.setLazy(LazyOp.Sbb, size, a, b, r, STATUS_FLAGS);
      return r;
    }
    case AluOp.Or:
      r = (a | b) & mask;
      break;
    case AluOp.And:
      r = a & b & mask;
      break;
    default:
      r = (a ^ b) & mask;
      break;
  }
  if (size === 4) r >>>= 0;
  cpu.setLazy(LazyOp.Logic, size, 0, 0, r, STATUS_FLAGS);
  return r;
}

/** Linear address of a read-modify-write memory operand, checked for writing first. */
export function rmwLinear(cpu: Cpu, i: Instr, size: number): number {
  const lin = cpu.linear(i.seg, cpu.ea(i), size, true);
  cpu.translate(lin, Access.Write);
  if ((lin & 0xfff) + size - 1 > 0xfff) cpu.translate(lin + size - 1, Access.Write);
  return lin;
}

/**
 * r/m ← r/m op (b, bh) for the r/m-destination forms (CMP: flags only, no write): a register,
 * a read-only memory operand for CMP, or a read-modify-write of memory.
 */
function aluToRm(cpu: Cpu, i: Instr, opIdx: number, size: number, b: number, bh: number): void {
  if (i.mod === 3) {
    const a = size === 1 ? cpu.getReg8(i.rm, i.rex) : cpu.getReg(i.rm, size);
    const r = alu(cpu, opIdx, size, a, cpu.rhi, b, bh);
    if (opIdx !== AluOp.Cmp) {
      if (size === 1) cpu.setReg8(i.rm, i.rex, r);
      else cpu.setReg(i.rm, size, r, cpu.rhi);
    }
    return;
  }
  if (opIdx === AluOp.Cmp) {
    const a = cpu.read(i.seg, cpu.ea(i), size);
    alu(cpu, opIdx, size, a, cpu.rhi, b, bh);
    return;
  }
  const lin = rmwLinear(cpu, i, size);
  const a = cpu.linRead(lin, size);
  const r = alu(cpu, opIdx, size, a, cpu.rhi, b, bh);
  cpu.linWrite(lin, size, r, cpu.rhi);
}

/** op r/m, reg — result to r/m (CMP: flags only). */
function aluRmReg(opIdx: number, byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const b = cpu.readRegOp(i, size);
    const bh = cpu.rhi;
    aluToRm(cpu, i, opIdx, size, b, bh);
  };
}

/** op reg, r/m — result to reg. */
function aluRegRm(opIdx: number, byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const b = cpu.readRM(i, size);
    const bh = cpu.rhi;
    const a = cpu.readRegOp(i, size);
    const r = alu(cpu, opIdx, size, a, cpu.rhi, b, bh);
    if (opIdx !== AluOp.Cmp) cpu.writeRegOp(i, size, r, cpu.rhi);
  };
}

/** op AL/eAX, imm. */
function aluAccImm(opIdx: number, byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const a = cpu.getReg(0, size);
    const ah = cpu.rhi;
    const b = size === 8 ? i.imm >>> 0 : i.imm & sizeMask(size);
    const r = alu(cpu, opIdx, size, a, ah, b >>> 0, size === 8 && i.imm < 0 ? 0xffffffff : 0);
    if (opIdx !== AluOp.Cmp) cpu.setReg(0, size, r, cpu.rhi);
  };
}

/** Group 1: op r/m, imm. */
function aluRmImm(opIdx: number, byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const b = size === 8 ? i.imm >>> 0 : (i.imm & sizeMask(size)) >>> 0;
    const bh = size === 8 && i.imm < 0 ? 0xffffffff : 0;
    aluToRm(cpu, i, opIdx, size, b, bh);
  };
}

/** TEST r/m, reg and TEST r/m, imm share this: AND without writing. */
function testOp(cpu: Cpu, size: number, a: number, ah: number, b: number, bh: number): void {
  alu(cpu, AluOp.And, size, a, ah, b, bh);
}

/** INC/DEC r/m (group 4/5 /0 /1): CF is preserved (SDM Vol.2 INC). */
export function incDec(cpu: Cpu, i: Instr, size: number, dec: boolean, reg: number): void {
  // Preserve CF: materialize it before the lazy state is replaced.
  const cf = cpu.getCF();
  cpu.eflags = (cpu.eflags & ~FLAGS.CF) | cf;
  const mask = STATUS_FLAGS & ~FLAGS.CF;
  let lin = 0;
  let a: number;
  let ah = 0;
  if (reg >= 0) {
    a = cpu.getReg(reg, size);
    ah = cpu.rhi;
  } else if (i.mod === 3) {
    a = size === 1 ? cpu.getReg8(i.rm, i.rex) : cpu.getReg(i.rm, size);
    ah = cpu.rhi;
  } else {
    lin = rmwLinear(cpu, i, size);
    a = cpu.linRead(lin, size);
    ah = cpu.rhi;
  }
  let r: number;
  let rh = 0;
  if (size === 8) {
    if (dec) {
      const s = a - 1;
      r = s >>> 0;
      rh = (ah - (s < 0 ? 1 : 0)) >>> 0;
    } else {
      const s = a + 1;
      r = s >>> 0;
      rh = (ah + (s > 0xffffffff ? 1 : 0)) >>> 0;
    }
    cpu.setLazy64(dec ? LazyOp.Dec : LazyOp.Inc, a, ah, 1, 0, r, rh, mask);
  } else {
    r = (dec ? a - 1 : a + 1) & sizeMask(size);
    if (size === 4) r >>>= 0;
    cpu.setLazy(dec ? LazyOp.Dec : LazyOp.Inc, size, a, 1, r, mask);
  }
  if (reg >= 0) cpu.setReg(reg, size, r, rh);
  else if (i.mod === 3) {
    if (size === 1) cpu.setReg8(i.rm, i.rex, r);
    else cpu.setReg(i.rm, size, r, rh);
  } else cpu.linWrite(lin, size, r, rh);
}

/** NOT / NEG r/m (group 3 /2 /3). */
function notNeg(neg: boolean, byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    let lin = 0;
    let a: number;
    if (i.mod === 3) a = size === 1 ? cpu.getReg8(i.rm, i.rex) : cpu.getReg(i.rm, size);
    else {
      lin = rmwLinear(cpu, i, size);
      a = cpu.linRead(lin, size);
    }
    const ah = cpu.rhi;
    let r: number;
    let rh = 0;
    if (neg) {
      r = alu(cpu, AluOp.Sub, size, 0, 0, a, size === 8 ? ah : 0);
      rh = cpu.rhi;
    } else {
      r = ~a & sizeMask(size === 8 ? 4 : size);
      r >>>= 0;
      rh = ~ah >>> 0;
    }
    if (i.mod === 3) {
      if (size === 1) cpu.setReg8(i.rm, i.rex, r);
      else cpu.setReg(i.rm, size, r, rh);
    } else cpu.linWrite(lin, size, r, rh);
  };
}

for (let n = 0; n < 8; n++) {
  const base = n << 3;
  const lockable = n === AluOp.Cmp ? 0 : OPF_LOCK;
  const names = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
  op(base + 0, names[n], aluRmReg(n, true), true, Imm.None, lockable);
  op(base + 1, names[n], aluRmReg(n, false), true, Imm.None, lockable);
  op(base + 2, names[n], aluRegRm(n, true), true);
  op(base + 3, names[n], aluRegRm(n, false), true);
  op(base + 4, names[n], aluAccImm(n, true), false, Imm.Ib);
  op(base + 5, names[n], aluAccImm(n, false), false, Imm.Iz);
  group(0x80, n, names[n], aluRmImm(n, true), Imm.Ib, lockable);
  group(0x81, n, names[n], aluRmImm(n, false), Imm.Iz, lockable);
  group(0x82, n, names[n], aluRmImm(n, true), Imm.Ib, lockable | OPF_I64);
  group(0x83, n, names[n], aluRmImm(n, false), Imm.Ibs, lockable);
}

// TEST (84, 85, A8, A9, F6/F7 /0 /1).
op(
  0x84,
  "test",
  (cpu, i) => {
    const b = cpu.readRegOp(i, 1);
    testOp(cpu, 1, cpu.readRM(i, 1), 0, b, 0);
  },
  true,
);
op(
  0x85,
  "test",
  (cpu, i) => {
    const b = cpu.readRegOp(i, i.osize);
    const bh = cpu.rhi;
    const a = cpu.readRM(i, i.osize);
    testOp(cpu, i.osize, a, cpu.rhi, b, bh);
  },
  true,
);
op(0xa8, "test", (cpu, i) => testOp(cpu, 1, cpu.getReg(0, 1), 0, i.imm, 0), false, Imm.Ib);
op(
  0xa9,
  "test",
  (cpu, i) => {
    const a = cpu.getReg(0, i.osize);
    testOp(cpu, i.osize, a, cpu.rhi, i.imm >>> 0, i.osize === 8 && i.imm < 0 ? 0xffffffff : 0);
  },
  false,
  Imm.Iz,
);
const testRmImm8 = (cpu: Cpu, i: Instr): void => testOp(cpu, 1, cpu.readRM(i, 1), 0, i.imm, 0);
const testRmImm = (cpu: Cpu, i: Instr): void => {
  const a = cpu.readRM(i, i.osize);
  testOp(cpu, i.osize, a, cpu.rhi, i.imm >>> 0, i.osize === 8 && i.imm < 0 ? 0xffffffff : 0);
};
group(0xf6, 0, "test", testRmImm8, Imm.Ib, OPF_BYTE);
group(0xf6, 1, "test", testRmImm8, Imm.Ib, OPF_BYTE);
group(0xf7, 0, "test", testRmImm, Imm.Iz);
group(0xf7, 1, "test", testRmImm, Imm.Iz);
group(0xf6, 2, "not", notNeg(false, true), Imm.None, OPF_LOCK);
group(0xf7, 2, "not", notNeg(false, false), Imm.None, OPF_LOCK);
group(0xf6, 3, "neg", notNeg(true, true), Imm.None, OPF_LOCK);
group(0xf7, 3, "neg", notNeg(true, false), Imm.None, OPF_LOCK);

// INC/DEC.
group(0xfe, 0, "inc", (cpu, i) => incDec(cpu, i, 1, false, -1), Imm.None, OPF_LOCK);
group(0xfe, 1, "dec", (cpu, i) => incDec(cpu, i, 1, true, -1), Imm.None, OPF_LOCK);
group(0xff, 0, "inc", (cpu, i) => incDec(cpu, i, i.osize, false, -1), Imm.None, OPF_LOCK);
group(0xff, 1, "dec", (cpu, i) => incDec(cpu, i, i.osize, true, -1), Imm.None, OPF_LOCK);
for (let r = 0; r < 8; r++) {
  op(0x40 + r, "inc", (cpu, i) => incDec(cpu, i, i.osize, false, r), false, Imm.None, OPF_I64);
  op(0x48 + r, "dec", (cpu, i) => incDec(cpu, i, i.osize, true, r), false, Imm.None, OPF_I64);
}
