/**
 * String instructions: MOVS, CMPS, SCAS, LODS, STOS (A4-AF) and INS/OUTS (6C-6F) with the
 * REP/REPE/REPNE prefixes (SDM Vol.2 "MOVS/MOVSB/MOVSW/MOVSD/MOVSQ", "CMPS", "SCAS", "LODS",
 * "STOS", "INS", "OUTS", "REP/REPE/REPZ/REPNE/REPNZ"; Vol.1 7.3.9 "String Operations").
 *
 * Addressing: the source is seg:rSI (DS unless overridden), the destination ES:rDI (never
 * overridable); the index and count registers are SI/DI/CX, ESI/EDI/ECX or RSI/RDI/RCX by
 * address size, and a 32-bit address size in 64-bit mode writes them zero-extended
 * (Vol.1 3.3.7). DF selects increment or decrement.
 *
 * REP is interruptible and restartable (Vol.2 REP, "the processor ... updates the registers
 * after each iteration"): one execution of the handler performs at most REP_CAP iterations
 * (REP_FAST_BYTES for MOVS/STOS; REP_SLOW_CAP of them element by element) and,
 * when the count is still non-zero, leaves `cpu.nextRip = cpu.rip` so the instruction runs
 * again after pending interrupts are considered. Registers are committed after every
 * iteration (or chunk of iterations), so a fault leaves them describing the completed work.
 *
 * Fast path: REP MOVS and REP STOS move whole runs of elements that stay inside one page of
 * the source and of the destination with a single translation per page and typed-array
 * copies when both pages are plain RAM; writes into pages holding decoded code report
 * through `mem.onCodeWrite` so self-modifying code is seen (Vol.3 11.6).
 */
import { Access, SF_EXPDOWN, SF_READ, SF_WRITE, type Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, Imm, OPF_TERMINAL } from "../optable.js";
import { FLAGS } from "../../x86/eflags.js";
import { SEG } from "../../x86/segment.js";
import { alu, AluOp } from "./alu.js";
import { portIn, portOut } from "./io.js";

/** Largest number of iterations one execution of a REP-prefixed string instruction performs. */
export const REP_CAP = 4096;

/**
 * For REP MOVS/STOS, which may use the typed-array path, the cap is raised to this many
 * bytes (64 KiB: 65536 MOVSB or 8192 MOVSQ iterations, a few microseconds of copying).
 */
export const REP_FAST_BYTES = 65536;

/**
 * Largest number of those iterations that may take the element-by-element path (each costs
 * a segment check, a translation and a memory access): bounds the time one execution takes
 * when the typed-array path does not apply (CMPS/SCAS/LODS/INS/OUTS, MMIO, odd segments).
 */
export const REP_SLOW_CAP = 256;

const TWO32 = 4294967296;
const SI = 6;
const DI = 7;
const CX = 1;

/** Kinds of string operation. */
const enum K {
  Movs = 0,
  Cmps = 1,
  Scas = 2,
  Lods = 3,
  Stos = 4,
  Ins = 5,
  Outs = 6,
}

/** Read an index register (rSI/rDI) as an offset of address size `as`. */
function getIdx(cpu: Cpu, r: number, as: number): number {
  if (as === 8) return cpu.reg64(r);
  if (as === 4) return cpu.lo[r] >>> 0;
  return cpu.lo[r] & 0xffff;
}

/** Write an index register: 16-bit merges, 32-bit zero-extends (Vol.1 3.4.1.1), 64-bit whole. */
function setIdx(cpu: Cpu, r: number, as: number, v: number): void {
  if (as === 8) cpu.setReg64FromNumber(r, v);
  else if (as === 4) {
    cpu.lo[r] = v;
    cpu.hi[r] = 0;
  } else cpu.lo[r] = (cpu.lo[r] & ~0xffff) | (v & 0xffff);
}

/** `off + delta` wrapped to the address size. */
function advance(off: number, delta: number, as: number): number {
  const n = off + delta;
  if (as === 8) return n;
  if (as === 4) return n >>> 0;
  return n & 0xffff;
}

/** The iterations one execution may perform: min(count register, cap). */
function repBudget(cpu: Cpu, as: number, cap: number): number {
  if (as === 2) return Math.min(cpu.lo[CX] & 0xffff, cap);
  if (as === 8 && cpu.hi[CX] !== 0) return cap;
  return Math.min(cpu.lo[CX] >>> 0, cap);
}

/** Subtract `n` (no more than the count) from the count register of address size `as`. */
function decCount(cpu: Cpu, as: number, n: number): void {
  const lo = cpu.lo;
  if (as === 2) lo[CX] = (lo[CX] & ~0xffff) | ((lo[CX] - n) & 0xffff);
  else if (as === 4) {
    lo[CX] = (lo[CX] >>> 0) - n;
    cpu.hi[CX] = 0;
  } else {
    const v = (lo[CX] >>> 0) - n;
    lo[CX] = v;
    if (v < 0) cpu.hi[CX] = cpu.hi[CX] - 1;
  }
}

/** True when the count register of address size `as` is zero. */
function countZero(cpu: Cpu, as: number): boolean {
  if (as === 2) return (cpu.lo[CX] & 0xffff) === 0;
  if (as === 4) return cpu.lo[CX] === 0;
  return cpu.lo[CX] === 0 && cpu.hi[CX] === 0;
}

/** Operand size of INS/OUTS: 1, 2 or 4 (REX.W does not make them 64-bit). */
function ioSize(i: Instr, byte: boolean): number {
  return byte ? 1 : i.osize === 2 ? 2 : 4;
}

/**
 * Perform one element of `kind` at `size` bytes, then advance rSI/rDI by `delta`. Returns
 * true when the two compared values were equal (CMPS/SCAS; ZF=1), false otherwise.
 */
function step(cpu: Cpu, i: Instr, kind: K, size: number, as: number, delta: number): boolean {
  switch (kind) {
    case K.Movs: {
      const si = getIdx(cpu, SI, as);
      const di = getIdx(cpu, DI, as);
      const v = cpu.read(i.seg, si, size);
      cpu.write(SEG.ES, di, size, v, cpu.rhi);
      setIdx(cpu, SI, as, advance(si, delta, as));
      setIdx(cpu, DI, as, advance(di, delta, as));
      return false;
    }
    case K.Cmps: {
      // temp ← SRC1 (seg:rSI) − SRC2 (ES:rDI) (SDM Vol.2 CMPS Operation).
      const si = getIdx(cpu, SI, as);
      const di = getIdx(cpu, DI, as);
      const a = cpu.read(i.seg, si, size);
      const ah = cpu.rhi;
      const b = cpu.read(SEG.ES, di, size);
      const bh = cpu.rhi;
      alu(cpu, AluOp.Cmp, size, a, size === 8 ? ah : 0, b, size === 8 ? bh : 0);
      setIdx(cpu, SI, as, advance(si, delta, as));
      setIdx(cpu, DI, as, advance(di, delta, as));
      return a === b && (size !== 8 || ah === bh);
    }
    case K.Scas: {
      // temp ← rAX − ES:rDI (SDM Vol.2 SCAS Operation).
      const di = getIdx(cpu, DI, as);
      const a = cpu.getReg(0, size);
      const ah = size === 8 ? cpu.rhi : 0;
      const b = cpu.read(SEG.ES, di, size);
      const bh = size === 8 ? cpu.rhi : 0;
      alu(cpu, AluOp.Cmp, size, a, ah, b, bh);
      setIdx(cpu, DI, as, advance(di, delta, as));
      return a === b && ah === bh;
    }
    case K.Lods: {
      const si = getIdx(cpu, SI, as);
      const v = cpu.read(i.seg, si, size);
      cpu.setReg(0, size, v, cpu.rhi);
      setIdx(cpu, SI, as, advance(si, delta, as));
      return false;
    }
    case K.Stos: {
      const di = getIdx(cpu, DI, as);
      const v = cpu.getReg(0, size);
      cpu.write(SEG.ES, di, size, v, cpu.rhi);
      setIdx(cpu, DI, as, advance(di, delta, as));
      return false;
    }
    case K.Ins: {
      // The destination is checked before the port is read, so a fault does not lose input.
      const di = getIdx(cpu, DI, as);
      const lin = cpu.linear(SEG.ES, di, size, true);
      cpu.translate(lin, Access.Write);
      if ((lin & 0xfff) + size > 0x1000) cpu.translate(lin + size - 1, Access.Write);
      const v = portIn(cpu, cpu.lo[2] & 0xffff, size);
      cpu.linWrite(lin, size, v);
      setIdx(cpu, DI, as, advance(di, delta, as));
      return false;
    }
    default: {
      const si = getIdx(cpu, SI, as);
      const v = cpu.read(i.seg, si, size);
      portOut(cpu, cpu.lo[2] & 0xffff, size, v);
      setIdx(cpu, SI, as, advance(si, delta, as));
      return false;
    }
  }
}

/**
 * Linear address of seg:off without checks (the checks are done by `rangeElements`).
 */
function linearOf(cpu: Cpu, seg: number, off: number): number {
  if (cpu.long64) return seg >= SEG.FS ? off + cpu.segBase[seg] : off;
  return (cpu.segBase[seg] + off) >>> 0;
}

/**
 * How many of `n` consecutive elements of `size` bytes starting at seg:off (ascending when
 * `back` is false, descending otherwise) lie inside one page, inside the address-size range
 * (no offset wrap) and inside the segment (limit, type; canonical form in 64-bit mode).
 * 0 means "take the element-by-element path" (which raises any fault exactly).
 */
function rangeElements(
  cpu: Cpu,
  seg: number,
  off: number,
  size: number,
  as: number,
  back: boolean,
  n: number,
  write: boolean,
): number {
  const lin = linearOf(cpu, seg, off);
  const pageOff = lin & 0xfff;
  if (pageOff + size > 0x1000) return 0;
  if (back) {
    n = Math.min(n, Math.floor(pageOff / size) + 1);
    if (as !== 8) n = Math.min(n, Math.floor(off / size) + 1);
  } else {
    n = Math.min(n, Math.floor((0x1000 - pageOff) / size));
    if (as !== 8) n = Math.min(n, Math.floor(((as === 4 ? TWO32 : 0x10000) - off) / size));
  }
  if (n <= 0) return 0;
  const low = back ? off - (n - 1) * size : off;
  const last = low + n * size - 1;
  if (cpu.long64) {
    const l0 = back ? lin - (n - 1) * size : lin;
    if (l0 < -0x800000000000 || l0 + n * size > 0x800000000000) return 0;
    return n;
  }
  const f = cpu.segFlags[seg];
  if ((f & (write ? SF_WRITE : SF_READ)) === 0 || (f & SF_EXPDOWN) !== 0) return 0;
  const limit = cpu.segLimit[seg];
  if (last <= limit) return n;
  // Trim to the elements below the limit (the element crossing it takes the slow path).
  if (back) return 0;
  const fit = Math.floor((limit - off + 1) / size);
  return fit > 0 ? fit : 0;
}

/**
 * One chunk of REP MOVS / REP STOS through typed arrays. Returns the number of elements done
 * (registers committed), or 0 when the next element must take the element-by-element path.
 */
function fastChunk(
  cpu: Cpu,
  i: Instr,
  kind: K,
  size: number,
  as: number,
  back: boolean,
  budget: number,
): number {
  const di = getIdx(cpu, DI, as);
  let n = rangeElements(cpu, SEG.ES, di, size, as, back, budget, true);
  if (n === 0) return 0;
  const mem = cpu.mem;
  let si = 0;
  let src0 = 0;
  if (kind === K.Movs) {
    si = getIdx(cpu, SI, as);
    n = rangeElements(cpu, i.seg, si, size, as, back, n, false);
    if (n === 0) return 0;
    // Translate the first element's addresses, in the order the first iteration accesses them.
    src0 = cpu.translate(linearOf(cpu, i.seg, si), Access.Read);
    if (!mem.isRamPage(Math.floor(src0 / 4096))) return 0;
  }
  const dst0 = cpu.translate(linearOf(cpu, SEG.ES, di), Access.Write);
  const dstPage = Math.floor(dst0 / 4096);
  if (!mem.isRamPage(dstPage)) return 0;
  const u8 = mem.u8;
  if (kind === K.Movs) {
    // Element-by-element order matters when the destination runs into source bytes not yet
    // read: copy at most the distance between them per chunk (one element at least, which a
    // memmove-style copy reproduces exactly since an element is read before it is written).
    const dist = back ? src0 - dst0 : dst0 - src0;
    if (dist > 0 && dist < n * size) n = Math.max(1, Math.floor(dist / size));
    const bytes = n * size;
    const srcLow = back ? src0 - (n - 1) * size : src0;
    const dstLow = back ? dst0 - (n - 1) * size : dst0;
    u8.copyWithin(dstLow, srcLow, srcLow + bytes);
  } else {
    const bytes = n * size;
    const dstLow = back ? dst0 - (n - 1) * size : dst0;
    const v = cpu.getReg(0, size);
    if (size === 1) u8.fill(v, dstLow, dstLow + bytes);
    else {
      const view = mem.view;
      if (size === 2) view.setUint16(dstLow, v, true);
      else if (size === 4) view.setUint32(dstLow, v, true);
      else {
        view.setUint32(dstLow, v, true);
        view.setUint32(dstLow + 4, cpu.rhi, true);
      }
      let filled = size;
      while (filled < bytes) {
        const c = Math.min(filled, bytes - filled);
        u8.copyWithin(dstLow + filled, dstLow, dstLow + c);
        filled += c;
      }
    }
  }
  if (mem.codePage[dstPage] !== 0) mem.onCodeWrite(dstPage);
  const delta = (back ? -size : size) * n;
  if (kind === K.Movs) setIdx(cpu, SI, as, advance(si, delta, as));
  setIdx(cpu, DI, as, advance(di, delta, as));
  decCount(cpu, as, n);
  return n;
}

/** Build the handler for string operation `kind` (byte form when `byte`). */
function stringOp(kind: K, byte: boolean) {
  const fast = kind === K.Movs || kind === K.Stos;
  const compares = kind === K.Cmps || kind === K.Scas;
  const io = kind === K.Ins || kind === K.Outs;
  return (cpu: Cpu, i: Instr): void => {
    const size = io ? ioSize(i, byte) : byte ? 1 : i.osize;
    const back = (cpu.eflags & FLAGS.DF) !== 0;
    const delta = back ? -size : size;
    const as = i.asize;
    if (i.rep === 0) {
      step(cpu, i, kind, size, as, delta);
      return;
    }
    const budget = repBudget(cpu, as, fast ? Math.max(REP_CAP, REP_FAST_BYTES / size) : REP_CAP);
    if (budget === 0) return;
    let done = 0;
    let slow = 0;
    while (done < budget && slow < REP_SLOW_CAP) {
      if (fast) {
        const k = fastChunk(cpu, i, kind, size, as, back, budget - done);
        if (k > 0) {
          done += k;
          continue;
        }
      }
      const eq = step(cpu, i, kind, size, as, delta);
      decCount(cpu, as, 1);
      done++;
      slow++;
      // REPE stops on ZF=0, REPNE on ZF=1 (only CMPS and SCAS test ZF).
      if (compares && (i.rep === 1 ? !eq : eq)) return;
      if (io && cpu.stopRequested) break;
    }
    if (!countZero(cpu, as)) cpu.nextRip = cpu.rip;
  };
}

op(0x6c, "insb", stringOp(K.Ins, true), false, Imm.None, OPF_TERMINAL);
op(0x6d, "ins", stringOp(K.Ins, false), false, Imm.None, OPF_TERMINAL);
op(0x6e, "outsb", stringOp(K.Outs, true), false, Imm.None, OPF_TERMINAL);
op(0x6f, "outs", stringOp(K.Outs, false), false, Imm.None, OPF_TERMINAL);
op(0xa4, "movsb", stringOp(K.Movs, true), false, Imm.None, OPF_TERMINAL);
op(0xa5, "movs", stringOp(K.Movs, false), false, Imm.None, OPF_TERMINAL);
op(0xa6, "cmpsb", stringOp(K.Cmps, true), false, Imm.None, OPF_TERMINAL);
op(0xa7, "cmps", stringOp(K.Cmps, false), false, Imm.None, OPF_TERMINAL);
op(0xaa, "stosb", stringOp(K.Stos, true), false, Imm.None, OPF_TERMINAL);
op(0xab, "stos", stringOp(K.Stos, false), false, Imm.None, OPF_TERMINAL);
op(0xac, "lodsb", stringOp(K.Lods, true), false, Imm.None, OPF_TERMINAL);
op(0xad, "lods", stringOp(K.Lods, false), false, Imm.None, OPF_TERMINAL);
op(0xae, "scasb", stringOp(K.Scas, true), false, Imm.None, OPF_TERMINAL);
op(0xaf, "scas", stringOp(K.Scas, false), false, Imm.None, OPF_TERMINAL);
