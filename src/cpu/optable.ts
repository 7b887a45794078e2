/**
 * Opcode maps as data: one entry per opcode of the one-byte map, the 0F map, and the 0F38 /
 * 0F3A maps (SDM Vol.2 Appendix A "Opcode Map"). Instruction-group modules in ops/ fill the
 * tables through `op()`, `group()` and `mandatory()`; the decoder reads them.
 */
import type { Handler, Instr } from "./instr.js";

/** Immediate operand kinds (SDM Vol.2 A.2.2 operand-type codes). */
export const enum Imm {
  None = 0,
  /** imm8, zero-extended. */
  Ib = 1,
  /** imm8, sign-extended. */
  Ibs = 2,
  /** imm16. */
  Iw = 3,
  /** imm16/32 by operand size, sign-extended to 64 bits for 64-bit operand size. */
  Iz = 4,
  /** imm16/32/64 by operand size (MOV r, imm). */
  Iv = 5,
  /** imm16 then imm8 (ENTER). */
  IwIb = 6,
  /** Far pointer: offset16/32 then selector16. */
  Ap = 7,
  /** Memory offset of address size (MOV moffs). */
  Moffs = 8,
  /** rel8. */
  Jb = 9,
  /** rel16/32 (rel32 in 64-bit mode). */
  Jz = 10,
  /** imm8 for byte-operand group entries, imm16/32 for others (group 3 TEST). */
  ByteOrZ = 11,
}

/** Operand-size behaviour in 64-bit mode (SDM Vol.2 Table A-1 "d64"/"f64"). */
export const OPF_D64 = 1;
/** Operand size forced to 64 bits in 64-bit mode. */
export const OPF_F64 = 2;
/** Ends a decoded block. */
export const OPF_TERMINAL = 4;
/** LOCK prefix allowed (with a memory destination). */
export const OPF_LOCK = 8;
/** Invalid in 64-bit mode (i64). */
export const OPF_I64 = 16;
/** Byte operand (for Imm.ByteOrZ). */
export const OPF_BYTE = 32;

/** One opcode-table entry. */
export interface OpDef {
  /** Semantics (absent when `group` or `prefixed` selects a sub-entry). */
  exec?: Handler;
  /** Has a ModRM byte. */
  modrm: boolean;
  /** Immediate kind. */
  imm: Imm;
  /** OPF_* flags. */
  flags: number;
  /** Sub-entries selected by ModRM.reg. */
  group?: (OpDef | undefined)[];
  /** Sub-entries selected by mandatory prefix: [none, 66, F3, F2]. */
  prefixed?: (OpDef | undefined)[];
  /** Mnemonic for diagnostics. */
  name: string;
  /**
   * Optional specializer: given the fully decoded instruction, return a faster handler for
   * this particular form (e.g. register-register at 64 bits), or undefined to keep `exec`.
   */
  special?: (i: Instr) => Handler | undefined;
}

/** All opcode maps, indexed 0x000-0x3FF (see Instr.opcode). */
export const OPCODES: (OpDef | undefined)[] = new Array(0x400).fill(undefined);

/** Define the entry for `opcode` (replacing any earlier one). */
export function op(
  opcode: number,
  name: string,
  exec: Handler,
  modrm: boolean,
  imm: Imm = Imm.None,
  flags = 0,
): void {
  OPCODES[opcode] = { exec, modrm, imm, flags, name };
}

/** Attach a specializer to the entry already defined for `opcode` (see OpDef.special). */
export function specialize(opcode: number, fn: (i: Instr) => Handler | undefined): void {
  const d = OPCODES[opcode];
  if (d === undefined) throw new Error(`specialize: opcode ${opcode.toString(16)} is not defined`);
  d.special = fn;
}

/** Define member `reg` of the ModRM.reg-selected group at `opcode`. */
export function group(
  opcode: number,
  reg: number,
  name: string,
  exec: Handler,
  imm: Imm = Imm.None,
  flags = 0,
): void {
  let d = OPCODES[opcode];
  if (d === undefined || d.group === undefined) {
    d = {
      modrm: true,
      imm: Imm.None,
      flags: 0,
      group: new Array(8).fill(undefined),
      name: `grp${opcode.toString(16)}`,
    };
    OPCODES[opcode] = d;
  }
  d.group![reg] = { exec, modrm: true, imm, flags, name };
}

/** Mandatory-prefix selector index: 0 none, 1 66h, 2 F3h, 3 F2h. */
export const enum Mandatory {
  None = 0,
  P66 = 1,
  PF3 = 2,
  PF2 = 3,
}

/** Define the entry for `opcode` under mandatory prefix `prefix` (SSE-style encodings). */
export function mandatory(
  opcode: number,
  prefix: Mandatory,
  name: string,
  exec: Handler,
  modrm = true,
  imm: Imm = Imm.None,
  flags = 0,
): void {
  let d = OPCODES[opcode];
  if (d === undefined || d.prefixed === undefined) {
    d = {
      modrm,
      imm: Imm.None,
      flags: 0,
      prefixed: new Array(4).fill(undefined),
      name: `pfx${opcode.toString(16)}`,
    };
    OPCODES[opcode] = d;
  }
  d.prefixed![prefix] = { exec, modrm, imm, flags, name };
}
