/**
 * Specialized handlers for the hottest instruction forms (register-register ALU and MOV at
 * 32/64 bits, MOV between a register and a 64-bit-addressed memory operand). Semantics are
 * identical to the generic handlers in alu.ts/mov.ts; these only skip the size and operand
 * dispatch. Chosen at decode time through optable `specialize()`.
 */
import type { Handler, Instr } from "../instr.js";
import { specialize, OPCODES } from "../optable.js";
import { alu, AluOp } from "./alu.js";

const TWO32 = 4294967296;

/** ALU op on registers d (destination) and s (source) at 32 or 64 bits; CMP writes nothing. */
function aluRegReg(op: number, d: number, s: number, size: number): Handler {
  if (size === 8)
    return (cpu) => {
      const lo = cpu.lo;
      const hi = cpu.hi;
      const r = alu(cpu, op, 8, lo[d] >>> 0, hi[d] >>> 0, lo[s] >>> 0, hi[s] >>> 0);
      if (op !== AluOp.Cmp) {
        lo[d] = r;
        hi[d] = cpu.rhi;
      }
    };
  return (cpu) => {
    const r = alu(cpu, op, 4, cpu.lo[d] >>> 0, 0, cpu.lo[s] >>> 0, 0);
    if (op !== AluOp.Cmp) {
      cpu.lo[d] = r;
      cpu.hi[d] = 0;
    }
  };
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
      return i.osize === 8 || i.osize === 4 ? aluRegReg(op, d, s, i.osize) : undefined;
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
