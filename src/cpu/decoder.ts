/**
 * Instruction decoder for 16-, 32- and 64-bit code (SDM Vol.2 chapter 2 "Instruction
 * Format"): legacy prefixes (2.1.1), REX (2.2.1), operand/address-size attributes (Table
 * 3-4 of Vol.1 3.6), ModRM/SIB/displacement (2.1.5, Tables 2-1..2-3), RIP-relative
 * addressing (2.2.1.6), immediates, the 15-byte limit, and LOCK validity (#UD, Vol.2 LOCK).
 *
 * Decoding is done into blocks: straight-line runs of instructions in one physical page,
 * ended by a control transfer or mode change, cached by the CPU by physical address.
 */
import { Access, type Cpu } from "./cpu.js";
import { CpuFault } from "./fault.js";
import { Instr, IF_TERMINAL, type Handler } from "./instr.js";
import {
  OPCODES,
  Imm,
  OPF_D64,
  OPF_F64,
  OPF_TERMINAL,
  OPF_LOCK,
  OPF_I64,
  OPF_BYTE,
  type OpDef,
} from "./optable.js";
import "./ops/index.js";

/** A cached run of decoded instructions. */
export interface Block {
  /** The instructions, in order. */
  instrs: Instr[];
  /** False when the block's last instruction continues onto another page (not cached). */
  cacheable: boolean;
  /** Successor cache (block chaining): RIP, block and CPU chain epoch of two recent successors. */
  succRip0: number;
  succ0: Block | null;
  succEpoch0: number;
  succRip1: number;
  succ1: Block | null;
  succEpoch1: number;
  /** Executions so far (drives compilation by the JIT tier, see jit/compile.ts). */
  hits: number;
  /** The compiled form of the block, once it is hot. */
  jit: ((cpu: Cpu) => void) | null;
}

const MAX_BLOCK = 64;

/** Thrown inside the decoder when an instruction would continue onto the next page. */
const CROSS_PAGE = { crossPage: true };

const udHandler: Handler = () => {
  throw new CpuFault(6, -1);
};
const gpLengthHandler: Handler = () => {
  throw new CpuFault(13, 0);
};

/** Reads instruction bytes starting at a linear/physical address. */
class Fetcher {
  cpu!: Cpu;
  lin = 0;
  phys = 0;
  remain = 0;
  allowCross = false;
  nextPhys = -1;
  /** Offset limit for CS-limit checks in legacy modes (bytes readable from lin). */
  csRoom = Infinity;

  byte(n: number): number {
    if (n >= 15) throw new CpuFault(13, 0);
    if (n >= this.csRoom) throw new CpuFault(13, 0);
    if (n < this.remain) return this.cpu.mem.read8(this.phys + n);
    if (!this.allowCross) throw CROSS_PAGE;
    if (this.nextPhys < 0) {
      const cpu = this.cpu;
      const nextLin = cpu.long64 ? this.lin + this.remain : (this.lin + this.remain) >>> 0;
      this.nextPhys = cpu.translate(nextLin, Access.Exec);
    }
    return this.cpu.mem.read8(this.nextPhys + n - this.remain);
  }
}

const fetcher = new Fetcher();

const SEG_PREFIX: Record<number, number> = { 0x26: 0, 0x2e: 1, 0x36: 2, 0x3e: 3, 0x64: 4, 0x65: 5 };

/** Decode one instruction; `f` is positioned at its first byte. */
export function decodeOne(cpu: Cpu, f: Fetcher): Instr {
  const i = new Instr(udHandler);
  const mode64 = cpu.long64;
  const code = cpu.codeSize;
  let n = 0;
  let b = f.byte(n++);
  let opsizePrefix = false;
  let adsizePrefix = false;
  let rex = 0;
  let lastRep = 0;
  let lastMandatoryRep = 0;
  let seg = -1;
  let lock = false;
  for (;;) {
    if (b === 0x66) opsizePrefix = true;
    else if (b === 0x67) adsizePrefix = true;
    else if (b === 0xf0) lock = true;
    else if (b === 0xf2 || b === 0xf3) {
      lastRep = b === 0xf3 ? 1 : 2;
      lastMandatoryRep = lastRep;
    } else if (b in SEG_PREFIX) seg = SEG_PREFIX[b];
    else if (mode64 && (b & 0xf0) === 0x40) {
      rex = b;
      b = f.byte(n++);
      // A REX prefix followed by a legacy prefix is ignored (SDM 2.2.1).
      if (b === 0x66 || b === 0x67 || b === 0xf0 || b === 0xf2 || b === 0xf3 || b in SEG_PREFIX) {
        rex = 0;
        continue;
      }
      if ((b & 0xf0) === 0x40) continue;
      break;
    } else break;
    b = f.byte(n++);
  }
  let opcode = b;
  if (b === 0x0f) {
    b = f.byte(n++);
    if (b === 0x38) opcode = 0x200 | f.byte(n++);
    else if (b === 0x3a) opcode = 0x300 | f.byte(n++);
    else opcode = 0x100 | b;
  }
  i.opcode = opcode;
  i.rex = rex;
  i.lock = lock;
  i.rep = lastRep;
  i.opsizePrefix = opsizePrefix ? 1 : 0;

  let def: OpDef | undefined = OPCODES[opcode];
  if (def !== undefined && def.prefixed !== undefined) {
    const sel = lastMandatoryRep === 1 ? 2 : lastMandatoryRep === 2 ? 3 : opsizePrefix ? 1 : 0;
    const d = def.prefixed[sel];
    def = d;
    if (sel >= 2 && def !== undefined) i.rep = 0;
  }

  // Sizes (SDM Vol.1 3.6, Table 3-4; Vol.2 2.2.1.2).
  const flags0 = def !== undefined ? def.flags : 0;
  let osize: number;
  if (mode64) {
    if (rex & 8) osize = 8;
    else if (flags0 & OPF_F64) osize = 8;
    else if (opsizePrefix) osize = 2;
    else osize = flags0 & OPF_D64 ? 8 : 4;
    i.asize = adsizePrefix ? 4 : 8;
  } else {
    osize = code === 4 ? (opsizePrefix ? 2 : 4) : opsizePrefix ? 4 : 2;
    i.asize = code === 4 ? (adsizePrefix ? 2 : 4) : adsizePrefix ? 4 : 2;
  }

  let needModrm = def !== undefined && def.modrm;
  if (def === undefined) needModrm = false;
  if (needModrm) {
    const m = f.byte(n++);
    const mod = m >> 6;
    const reg = ((m >> 3) & 7) | ((rex & 4) << 1);
    const rm = m & 7;
    i.mod = mod;
    i.reg = reg;
    let defaultSeg = 3;
    if (mod === 3) {
      i.rm = rm | ((rex & 1) << 3);
    } else if (i.asize === 2) {
      i.rm = rm;
      switch (rm) {
        case 0:
          i.base = 3;
          i.index = 6;
          break;
        case 1:
          i.base = 3;
          i.index = 7;
          break;
        case 2:
          i.base = 5;
          i.index = 6;
          defaultSeg = 2;
          break;
        case 3:
          i.base = 5;
          i.index = 7;
          defaultSeg = 2;
          break;
        case 4:
          i.base = 6;
          break;
        case 5:
          i.base = 7;
          break;
        case 6:
          if (mod === 0) {
            i.disp = f.byte(n) | (f.byte(n + 1) << 8);
            n += 2;
          } else {
            i.base = 5;
            defaultSeg = 2;
          }
          break;
        default:
          i.base = 3;
      }
      if (mod === 1) {
        i.disp = (f.byte(n++) << 24) >> 24;
      } else if (mod === 2) {
        i.disp = ((f.byte(n) | (f.byte(n + 1) << 8)) << 16) >> 16;
        n += 2;
      }
    } else {
      i.rm = rm;
      let baseReg = rm;
      if (rm === 4) {
        const sib = f.byte(n++);
        i.scale = sib >> 6;
        const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
        if (idx !== 4) i.index = idx;
        baseReg = sib & 7;
        if (baseReg === 5 && mod === 0) {
          i.base = -1;
          i.disp = f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24);
          n += 4;
        } else {
          i.base = baseReg | ((rex & 1) << 3);
          if (baseReg === 4 || baseReg === 5) defaultSeg = 2;
        }
      } else if (rm === 5 && mod === 0) {
        i.disp = f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24);
        n += 4;
        if (mode64) i.ripRel = true;
      } else {
        i.base = rm | ((rex & 1) << 3);
        if (rm === 5) defaultSeg = 2;
      }
      if (mod === 1) {
        i.disp = (f.byte(n++) << 24) >> 24;
      } else if (mod === 2) {
        i.disp = f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24);
        n += 4;
      }
    }
    i.seg = seg >= 0 ? seg : defaultSeg;
    if (def !== undefined && def.group !== undefined) def = def.group[(m >> 3) & 7];
  } else {
    i.seg = seg >= 0 ? seg : 3;
  }
  i.segOverride = seg >= 0;

  if (def === undefined || def.exec === undefined) {
    i.exec = udHandler;
    i.flags = IF_TERMINAL;
    i.len = n;
    return i;
  }
  const flags = def.flags;
  if (mode64 && !(rex & 8)) {
    if (flags & OPF_F64) osize = 8;
    else if (flags & OPF_D64) osize = opsizePrefix ? 2 : 8;
  }
  i.osize = osize;

  // Immediates.
  switch (def.imm) {
    case Imm.None:
      break;
    case Imm.Ib:
      i.imm = f.byte(n++);
      break;
    case Imm.Ibs:
    case Imm.Jb:
      i.imm = (f.byte(n++) << 24) >> 24;
      break;
    case Imm.Iw:
      i.imm = f.byte(n) | (f.byte(n + 1) << 8);
      n += 2;
      break;
    case Imm.IwIb:
      i.imm = f.byte(n) | (f.byte(n + 1) << 8);
      i.imm2 = f.byte(n + 2);
      n += 3;
      break;
    case Imm.ByteOrZ:
    case Imm.Iz:
    case Imm.Jz:
      if (def.imm === Imm.ByteOrZ && flags & OPF_BYTE) {
        i.imm = f.byte(n++);
      } else if (osize === 2 && !(def.imm === Imm.Jz && mode64)) {
        i.imm = f.byte(n) | (f.byte(n + 1) << 8);
        if (def.imm === Imm.Jz) i.imm = (i.imm << 16) >> 16;
        n += 2;
      } else {
        i.imm = f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24);
        if (osize !== 8 && def.imm !== Imm.Jz) i.imm >>>= 0;
        n += 4;
      }
      break;
    case Imm.Iv:
      if (osize === 2) {
        i.imm = f.byte(n) | (f.byte(n + 1) << 8);
        n += 2;
      } else {
        i.imm = (f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24)) >>> 0;
        n += 4;
        if (osize === 8) {
          i.immHi = f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24);
          n += 4;
        }
      }
      break;
    case Imm.Ap:
      if (osize === 2) {
        i.imm = f.byte(n) | (f.byte(n + 1) << 8);
        n += 2;
      } else {
        i.imm = (f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24)) >>> 0;
        n += 4;
      }
      i.imm2 = f.byte(n) | (f.byte(n + 1) << 8);
      n += 2;
      break;
    case Imm.Moffs:
      if (i.asize === 2) {
        i.imm = f.byte(n) | (f.byte(n + 1) << 8);
        n += 2;
      } else {
        i.imm = (f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24)) >>> 0;
        n += 4;
        if (i.asize === 8) {
          i.immHi = f.byte(n) | (f.byte(n + 1) << 8) | (f.byte(n + 2) << 16) | (f.byte(n + 3) << 24);
          n += 4;
        }
      }
      break;
  }
  i.len = n;
  i.exec = def.exec;
  if (def.special !== undefined) {
    const h = def.special(i);
    if (h !== undefined) i.exec = h;
  }
  i.flags = flags & OPF_TERMINAL ? IF_TERMINAL : 0;
  if ((mode64 && flags & OPF_I64) || (lock && (!(flags & OPF_LOCK) || i.mod === 3 || !def.modrm))) {
    i.exec = udHandler;
    i.flags = IF_TERMINAL;
  }
  return i;
}

/** Decode a block starting at linear address `lin` (physical `phys`). */
export function decodeBlock(cpu: Cpu, lin: number, phys: number): Block {
  const instrs: Instr[] = [];
  let offset = 0;
  const f = fetcher;
  f.cpu = cpu;
  let cacheable = true;
  while (instrs.length < MAX_BLOCK) {
    const remain = 4096 - ((phys + offset) & 0xfff);
    if (remain <= 0) break;
    f.lin = cpu.long64 ? lin + offset : (lin + offset) >>> 0;
    f.phys = phys + offset;
    f.remain = remain;
    f.allowCross = instrs.length === 0;
    f.nextPhys = -1;
    f.csRoom = cpu.long64 ? Infinity : cpu.segLimit[1] - (cpu.rip + offset) + 1;
    let ins: Instr;
    try {
      ins = decodeOne(cpu, f);
    } catch (e) {
      if (e === CROSS_PAGE) break;
      if (e instanceof CpuFault && instrs.length > 0) break; // fault belongs to a later instruction
      if (e instanceof CpuFault && e.vector === 13) {
        ins = new Instr(gpLengthHandler);
        ins.flags = IF_TERMINAL;
        ins.len = 0;
        instrs.push(ins);
        break;
      }
      throw e;
    }
    ins.phys = phys + offset;
    instrs.push(ins);
    offset += ins.len;
    if (ins.flags & IF_TERMINAL) break;
    if (f.nextPhys >= 0) {
      cacheable = false; // crossed into the next page: end the block, and do not cache it
      break;
    }
  }
  return {
    instrs,
    cacheable,
    succRip0: NaN,
    succ0: null,
    succEpoch0: -1,
    succRip1: NaN,
    succ1: null,
    succEpoch1: -1,
    hits: 0,
    jit: null,
  };
}

export type { Fetcher };
