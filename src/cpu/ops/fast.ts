/**
 * Specialized handlers for the hottest instruction forms (register-register ALU and MOV at
 * 32/64 bits, MOV between a register and a 64-bit-addressed memory operand). Semantics are
 * identical to the generic handlers in alu.ts/mov.ts; these only skip the size and operand
 * dispatch. Chosen at decode time through optable `specialize()`.
 */
import type { Cpu } from "../cpu.js";
import type { Handler, Instr } from "../instr.js";
import { LazyOp } from "../flags.js";
import { specialize, OPCODES } from "../optable.js";
import { STATUS_FLAGS } from "../../x86/eflags.js";

const TWO32 = 4294967296;

/** 64-bit ALU op on registers d (destination) and s (source). */
function alu64(op: number, d: number, s: number, cpu: Cpu): void {
  const lo = cpu.lo;
  const hi = cpu.hi;
  const a = lo[d] >>> 0;
  const ah = hi[d] >>> 0;
  const b = lo[s] >>> 0;
  const bh = hi[s] >>> 0;
  let rl: number;
  let rh: number;
  switch (op) {
    case 0: {
      const sum = a + b;
      rl = sum >>> 0;
      rh = (ah + bh + (sum > 0xffffffff ? 1 : 0)) >>> 0;
      cpu.setLazy64(LazyOp.Add, a, ah, b, bh, rl, rh, STATUS_FLAGS);
      break;
    }
    case 5:
    case 7: {
      const dif = a - b;
      rl = dif >>> 0;
      rh = (ah - bh - (dif < 0 ? 1 : 0)) >>> 0;
      cpu.setLazy64(LazyOp.Sub, a, ah, b, bh, rl, rh, STATUS_FLAGS);
      if (op === 7) return;
      break;
    }
    case 1:
      rl = (a | b) >>> 0;
      rh = (ah | bh) >>> 0;
      cpu.setLazy64(LazyOp.Logic, 0, 0, 0, 0, rl, rh, STATUS_FLAGS);
      break;
    case 4:
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
  lo[d] = rl;
  hi[d] = rh;
}

/** 32-bit ALU op on registers (result zero-extends in 64-bit mode). */
function alu32(op: number, d: number, s: number, cpu: Cpu): void {
  const a = cpu.lo[d] >>> 0;
  const b = cpu.lo[s] >>> 0;
  let r: number;
  switch (op) {
    case 0:
      r = (a + b) >>> 0;
      cpu.setLazy(LazyOp.Add, 4, a, b, r, STATUS_FLAGS);
      break;
    case 5:
    case 7:
      r = (a - b) >>> 0;
      cpu.setLazy(LazyOp.Sub, 4, a, b, r, STATUS_FLAGS);
      if (op === 7) return;
      break;
    case 1:
      r = (a | b) >>> 0;
      cpu.setLazy(LazyOp.Logic, 4, 0, 0, r, STATUS_FLAGS);
      break;
    case 4:
      r = (a & b) >>> 0;
      cpu.setLazy(LazyOp.Logic, 4, 0, 0, r, STATUS_FLAGS);
      break;
    default:
      r = (a ^ b) >>> 0;
      cpu.setLazy(LazyOp.Logic, 4, 0, 0, r, STATUS_FLAGS);
      break;
  }
  cpu.lo[d] = r;
  cpu.hi[d] = 0;
}

const SPECIALIZED_OPS = [0, 1, 4, 5, 6, 7]; // ADD OR AND SUB XOR CMP (ADC/SBB stay generic)

for (const op of SPECIALIZED_OPS) {
  const base = op << 3;
  // op r/m, reg (01) — destination rm; op reg, r/m (03) — destination reg.
  for (const dir of [1, 3]) {
    const opcode = base + dir;
    if (OPCODES[opcode] === undefined) continue;
    specialize(opcode, (i: Instr): Handler | undefined => {
      if (i.mod !== 3 || i.lock) return undefined;
      const d = dir === 1 ? i.rm : i.reg;
      const s = dir === 1 ? i.reg : i.rm;
      if (i.osize === 8) return (cpu) => alu64(op, d, s, cpu);
      if (i.osize === 4) return (cpu) => alu32(op, d, s, cpu);
      return undefined;
    });
  }
}

/** Register-to-register MOV at 32 bits (zero-extending) or 64 bits. */
function movRegReg(d: number, s: number, size: number): Handler | undefined {
  if (size === 8)
    return (cpu) => {
      cpu.lo[d] = cpu.lo[s];
      cpu.hi[d] = cpu.hi[s];
    };
  if (size === 4)
    return (cpu) => {
      cpu.lo[d] = cpu.lo[s];
      cpu.hi[d] = 0;
    };
  return undefined;
}

/** A 64-bit `[base + disp]` memory operand outside FS/GS, moving 8 bytes. */
function isBaseDisp64(i: Instr): boolean {
  return i.asize === 8 && i.osize === 8 && !i.ripRel && i.index < 0 && i.base >= 0 && i.seg < 4;
}

// MOV r/m, r (89) and MOV r, r/m (8B) at 32/64 bits.
specialize(0x89, (i) => {
  if (i.mod === 3) return movRegReg(i.rm, i.reg, i.osize);
  if (!isBaseDisp64(i)) return undefined;
  const { base: b, reg: s, disp, seg } = i;
  return (cpu) => cpu.write(seg, cpu.hi[b] * TWO32 + (cpu.lo[b] >>> 0) + disp, 8, cpu.lo[s], cpu.hi[s]);
});
specialize(0x8b, (i) => {
  if (i.mod === 3) return movRegReg(i.reg, i.rm, i.osize);
  if (!isBaseDisp64(i)) return undefined;
  const { base: b, reg: d, disp, seg } = i;
  return (cpu) => {
    cpu.lo[d] = cpu.read(seg, cpu.hi[b] * TWO32 + (cpu.lo[b] >>> 0) + disp, 8);
    cpu.hi[d] = cpu.rhi;
  };
});
