/**
 * A decoded instruction: the fields of the instruction format (SDM Vol.2 2.1, Figure 2-1)
 * after prefixes, REX, ModRM/SIB and displacement/immediates have been resolved, plus the
 * handler that executes it. Instructions are decoded once and cached by physical address.
 */
import type { Cpu } from "./cpu.js";

/** Executes one decoded instruction. */
export type Handler = (cpu: Cpu, i: Instr) => void;

/** Instruction property flags. */
export const IF_TERMINAL = 1; // ends a decoded block (control transfer or mode change)

/** One decoded instruction. All fields are plain numbers so the object stays monomorphic. */
export class Instr {
  /** Semantics. */
  exec: Handler;
  /** Length in bytes (1-15). */
  len = 0;
  /** Opcode: one-byte map 0x000-0x0FF, 0F map 0x100-0x1FF, 0F38 0x200-0x2FF, 0F3A 0x300-0x3FF. */
  opcode = 0;
  /** Effective operand size in bytes for "v"-sized operands: 2, 4 or 8. */
  osize = 4;
  /** Effective address size in bytes: 2, 4 or 8. */
  asize = 4;
  /** Effective segment for the memory operand (SEG.* index). */
  seg = 3;
  /** True when a segment-override prefix was given. */
  segOverride = false;
  /** 0 none, 1 REP/REPE (F3), 2 REPNE (F2) — the last of F2/F3 given. */
  rep = 0;
  /** 1 when the 66h prefix was present. */
  opsizePrefix = 0;
  /** LOCK prefix present. */
  lock = false;
  /** The REX byte (0x40-0x4F) or 0 when absent. */
  rex = 0;
  /** ModRM.mod (3 = register operand). */
  mod = 0;
  /** ModRM.reg extended by REX.R (0-15). */
  reg = 0;
  /** ModRM.rm extended by REX.B when mod=3 (register number), else raw rm. */
  rm = 0;
  /** Base register for the memory operand, or -1. */
  base = -1;
  /** Index register for the memory operand, or -1. */
  index = -1;
  /** SIB scale as a shift count 0-3. */
  scale = 0;
  /** Displacement, sign-extended. */
  disp = 0;
  /** RIP-relative addressing (64-bit mode, mod=0 rm=5). */
  ripRel = false;
  /** First immediate (sign- or zero-extended as the instruction defines); low 32 bits for imm64. */
  imm = 0;
  /** High 32 bits of a 64-bit immediate or moffs. */
  immHi = 0;
  /** Second immediate (ENTER's imm8, far pointer selector). */
  imm2 = 0;
  /** IF_* flags. */
  flags = 0;
  /** Physical address of the first byte (for diagnostics). */
  phys = 0;

  /** Create an instruction with a handler. */
  constructor(exec: Handler) {
    this.exec = exec;
  }
}
