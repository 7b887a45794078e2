/**
 * x87 FPU instructions: escape opcodes D8-DF with their ModRM-selected forms (SDM Vol.2
 * Appendix A.5 "x87 FPU Opcode Map", Tables A-7..A-22) and WAIT/FWAIT (9B).
 *
 * Architecture notes:
 * - Device-not-available (SDM Vol.3 2.5, Table 2-2): CR0.EM=1 or CR0.TS=1 → #NM for every x87
 *   instruction; WAIT → #NM only when TS=1 and MP=1.
 * - Pending unmasked exceptions (FSW.ES) are reported at the next *waiting* x87 instruction
 *   (SDM Vol.1 8.6, 8.7): #MF (vector 16) with CR0.NE=1. With NE=0 the PC-style FERR#/IRQ13
 *   path is not modelled: the exception stays recorded in FSW and execution continues.
 *   The non-waiting forms FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE never check.
 * - Stack faults (SDM Vol.1 8.5.1.1): IE + SF, C1 = 1 on overflow, 0 on underflow; the
 *   masked response writes the QNaN indefinite; unmasked leaves registers and TOP unchanged.
 * - Unmasked IE/DE/ZE leave the destination unchanged; unmasked OE/UE store the bias-adjusted
 *   result in registers but suppress memory stores (SDM Vol.1 8.5, 8.7; see float80.ts).
 * - The last instruction pointer, opcode (11 bits) and data pointer (SDM Vol.1 8.1.8-8.1.9)
 *   are recorded for every non-control instruction; the data pointer only for memory forms.
 * - Operand bits C0-C3 and tag word per SDM Vol.1 8.1.3 and 8.1.7.
 * Arithmetic is the soft-float in ../fpu/float80.ts; transcendentals in ../fpu/x87-transcendental.ts.
 */
import { Access, type Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { CpuFault, nm, ud } from "../fault.js";
import { testCondition } from "../flags.js";
import { op } from "../optable.js";
import { CR0 } from "../../x86/cr.js";
import { FLAGS } from "../../x86/eflags.js";
import { SEG } from "../../x86/segment.js";
import {
  CLS_INF,
  CLS_NORMAL,
  CLS_QNAN,
  CLS_SNAN,
  CLS_UNSUPPORTED,
  CLS_ZERO,
  FE_DENORMAL,
  FE_INVALID,
  FE_OVERFLOW,
  FE_UNDERFLOW,
  FE_ZERODIVIDE,
  FSW_C0,
  FSW_C1,
  FSW_C2,
  FSW_C3,
  Float80,
  classify,
  f80Add,
  f80Compare,
  f80Div,
  f80Extract,
  f80FromBcd,
  f80FromFloat32,
  f80FromFloat64,
  f80FromInt32,
  f80FromInt64,
  f80Mul,
  f80Rem,
  f80RoundInt,
  f80Scale,
  f80Sqrt,
  f80Sub,
  f80ToBcd,
  f80ToFloat32,
  f80ToFloat64,
  f80ToInt,
  setIndefinite,
  type Int64Parts,
} from "../fpu/float80.js";
import {
  X87Const,
  f80Atan,
  f80Cos,
  f80F2xm1,
  f80LoadConst,
  f80Sin,
  f80SinCos,
  f80Tan,
  f80Yl2x,
  f80Yl2xp1,
} from "../fpu/x87-transcendental.js";
import type { X87State } from "../fpu/x87-state.js";

/** Stack-fault flag (SF), status word bit 6. */
export const FSW_SF = 0x40;
/** Error-summary status (ES), status word bit 7. */
export const FSW_ES = 0x80;
/** FPU busy (B), status word bit 15 (mirrors ES). */
export const FSW_B = 0x8000;
/** All condition-code bits. */
const CC_ALL = FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3;
/** #MF vector (SDM Vol.3 6.15, interrupt 16). */
const VEC_MF = 16;

// Scratch values (the handlers never re-enter).
const T0 = new Float80();
const T1 = new Float80();
const T2 = new Float80();
const INT: Int64Parts = { hi: 0, lo: 0 };
const BCD = new Uint8Array(10);

// ------------------------------------------------------------------ register stack helpers

/** TOP field of the status word. */
export function x87Top(x: X87State): number {
  return (x.fsw >>> 11) & 7;
}

function setTop(x: X87State, t: number): void {
  x.fsw = (x.fsw & ~0x3800) | ((t & 7) << 11);
}

/** Tag (2 bits) a value deserves when written to a register (SDM Vol.1 8.1.7). */
export function tagFor(v: Float80): number {
  const c = classify(v);
  return c === CLS_ZERO ? 1 : c === CLS_NORMAL ? 0 : 2;
}

/** True when ST(i) is empty. */
function empty(x: X87State, i: number): boolean {
  return ((x.ftw >>> (2 * ((x87Top(x) + i) & 7))) & 3) === 3;
}

/** ST(i). */
function st(x: X87State, i: number): Float80 {
  return x.regs[(x87Top(x) + i) & 7];
}

/** Writes v to ST(i) and updates its tag. */
function setSt(x: X87State, i: number, v: Float80): void {
  const p = (x87Top(x) + i) & 7;
  x.regs[p].copy(v);
  x.ftw = (x.ftw & ~(3 << (2 * p))) | (tagFor(v) << (2 * p));
}

/** Marks ST(i) empty. */
function free(x: X87State, i: number): void {
  x.ftw |= 3 << (2 * ((x87Top(x) + i) & 7));
}

/** Pops the stack (tag of ST(0) → empty, TOP + 1). */
function pop(x: X87State): void {
  free(x, 0);
  setTop(x, x87Top(x) + 1);
}

/** Pushes v (no overflow check here). */
function push(x: X87State, v: Float80): void {
  setTop(x, x87Top(x) - 1);
  setSt(x, 0, v);
}

/** Sets ES and B when an unmasked exception is flagged in the status word. */
function updateEs(x: X87State): void {
  if (x.fsw & ~x.fcw & 0x3f) x.fsw |= FSW_ES | FSW_B;
  else x.fsw &= ~(FSW_ES | FSW_B);
}

/**
 * Merges `flags` (exception bits and condition codes under `ccMask`) into the status word.
 * Returns true when an unmasked IE/DE/ZE suppresses the result.
 */
function signal(x: X87State, flags: number, ccMask: number = FSW_C1): boolean {
  const exc = flags & 0x3f;
  x.fsw = (x.fsw & ~ccMask) | (flags & ccMask) | (flags & (0x3f | FSW_SF));
  const unmasked = exc & ~x.fcw & 0x3f;
  if (unmasked) x.fsw |= FSW_ES | FSW_B;
  return (unmasked & (FE_INVALID | FE_DENORMAL | FE_ZERODIVIDE)) !== 0;
}

/** Stack underflow: IE|SF, C1=0. Returns true when IE is unmasked (leave state unchanged). */
function underflow(x: X87State, ccMask = FSW_C1): boolean {
  return signal(x, FE_INVALID | FSW_SF, ccMask | FSW_C1);
}

/** Stack overflow: IE|SF, C1=1. Returns true when IE is unmasked. */
function overflow(x: X87State): boolean {
  return signal(x, FE_INVALID | FSW_SF | FSW_C1);
}

/** Writes the indefinite into ST(i). */
function setIndef(x: X87State, i: number): void {
  setIndefinite(T2);
  setSt(x, i, T2);
}

// ------------------------------------------------------------------ entry checks / pointers

/** #NM checks for x87 instructions (SDM Vol.3 Table 2-2). */
function checkNm(cpu: Cpu): void {
  if (cpu.cr0 & (CR0.EM | CR0.TS)) nm();
}

/** Reports a pending unmasked exception as #MF (CR0.NE=1); with NE=0 nothing happens (FERR# not modelled). */
function checkPending(cpu: Cpu): void {
  if (cpu.x87.fsw & FSW_ES && cpu.cr0 & CR0.NE) throw new CpuFault(VEC_MF, -1);
}

/** Entry of a waiting x87 instruction. */
function enter(cpu: Cpu): X87State {
  checkNm(cpu);
  checkPending(cpu);
  return cpu.x87;
}

/** True for real-address and virtual-8086 mode (real-mode environment formats, linear pointers). */
function realFormat(cpu: Cpu): boolean {
  return !cpu.protectedMode || cpu.v86;
}

/** FOP: the low 3 bits of the first opcode byte and the ModRM byte (SDM Vol.1 8.1.9). */
function fopOf(i: Instr): number {
  return ((i.opcode & 7) << 8) | (i.mod << 6) | ((i.reg & 7) << 3) | (i.rm & 7);
}

/** Records FIP/FCS/FOP (and FDP/FDS for memory forms) for a non-control instruction. */
function record(cpu: Cpu, i: Instr, x: X87State): void {
  x.fop = fopOf(i);
  let ip = cpu.rip;
  if (realFormat(cpu)) ip = (cpu.segBase[SEG.CS] + ip) >>> 0;
  x.fipLo = ip >>> 0;
  x.fipHi = cpu.long64 ? Math.floor(ip / 4294967296) >>> 0 : 0;
  x.fcs = cpu.segSel[SEG.CS];
  if (i.mod !== 3) {
    let dp = cpu.ea(i);
    if (realFormat(cpu)) dp = (cpu.segBase[i.seg] + dp) >>> 0;
    x.fdpLo = dp >>> 0;
    x.fdpHi = cpu.long64 ? Math.floor(dp / 4294967296) >>> 0 : 0;
    x.fds = cpu.segSel[i.seg];
  }
}

// ------------------------------------------------------------------ memory helpers

/** Linear address of a memory operand of `size` bytes, with every page checked for `write`. */
function memLin(cpu: Cpu, i: Instr, size: number, write: boolean): number {
  const lin = cpu.linear(i.seg, cpu.ea(i), size, write);
  const kind = write ? Access.Write : Access.Read;
  cpu.translate(lin, kind);
  if ((lin & 0xfff) + size - 1 > 0xfff) cpu.translate(lin + size - 1, kind);
  return lin;
}

function readM80(cpu: Cpu, lin: number, out: Float80): void {
  const lo = cpu.linRead(lin, 4);
  const hi = cpu.linRead(lin + 4, 4);
  const se = cpu.linRead(lin + 8, 2);
  out.set(se >>> 15, se & 0x7fff, hi, lo);
}

function writeM80(cpu: Cpu, lin: number, v: Float80): void {
  cpu.linWrite(lin, 4, v.lo);
  cpu.linWrite(lin + 4, 4, v.hi);
  cpu.linWrite(lin + 8, 2, v.se);
}

/**
 * Loads the memory operand of a D8/DA/DC/DE arithmetic form into `out` (float32, int32,
 * float64, int16 by opcode). Returns conversion flags (IE for SNaN, DE for denormal).
 */
function loadArithOperand(cpu: Cpu, i: Instr, out: Float80): number {
  switch (i.opcode) {
    case 0xd8:
      return f80FromFloat32(out, cpu.read(i.seg, cpu.ea(i), 4));
    case 0xdc: {
      const lo = cpu.read(i.seg, cpu.ea(i), 8);
      return f80FromFloat64(out, cpu.rhi, lo);
    }
    case 0xda:
      f80FromInt32(out, cpu.read(i.seg, cpu.ea(i), 4) | 0);
      return 0;
    default:
      f80FromInt32(out, (cpu.read(i.seg, cpu.ea(i), 2) << 16) >> 16);
      return 0;
  }
}

// ------------------------------------------------------------------ arithmetic

/** dst = a op b for ModRM.reg-style op: 0 add, 1 mul, 4 a−b, 5 b−a, 6 a÷b, 7 b÷a. */
function arith(opIdx: number, dst: Float80, a: Float80, b: Float80, cw: number): number {
  switch (opIdx) {
    case 0:
      return f80Add(dst, a, b, cw);
    case 1:
      return f80Mul(dst, a, b, cw);
    case 4:
      return f80Sub(dst, a, b, cw);
    case 5:
      return f80Sub(dst, b, a, cw);
    case 6:
      return f80Div(dst, a, b, cw);
    default:
      return f80Div(dst, b, a, cw);
  }
}

/** ST(dst) = ST(dst) op src (src already loaded); pops afterwards when `popAfter`. */
function arithTo(
  x: X87State,
  opIdx: number,
  dstI: number,
  src: Float80,
  srcEmpty: boolean,
  convFlags: number,
  popAfter: boolean,
): void {
  if (empty(x, dstI) || srcEmpty) {
    if (underflow(x)) return;
    setIndef(x, dstI);
  } else {
    const f = convFlags | arith(opIdx, T0, st(x, dstI), src, x.fcw);
    if (signal(x, f)) return;
    setSt(x, dstI, T0);
  }
  if (popAfter) pop(x);
}

/** Compare ST(0) with b (ordered = FCOM, else FUCOM); pops `pops` times. */
function compareSt0(
  x: X87State,
  b: Float80,
  bEmpty: boolean,
  ordered: boolean,
  pops: number,
  convFlags = 0,
): void {
  if (empty(x, 0) || bEmpty) {
    if (underflow(x, CC_ALL)) return;
    x.fsw |= FSW_C3 | FSW_C2 | FSW_C0;
  } else {
    const f = convFlags | f80Compare(st(x, 0), b, ordered);
    if (signal(x, f, CC_ALL)) return;
  }
  for (let n = 0; n < pops; n++) pop(x);
}

/** FCOMI/FUCOMI family: compare ST(0) with ST(i), results in ZF/PF/CF (SDM Vol.2 FCOMI). */
function comi(cpu: Cpu, x: X87State, i: number, ordered: boolean, popAfter: boolean): void {
  const MASK = FLAGS.ZF | FLAGS.PF | FLAGS.CF | FLAGS.OF | FLAGS.SF | FLAGS.AF;
  if (empty(x, 0) || empty(x, i)) {
    if (underflow(x)) return;
    cpu.setFlagBits(MASK, FLAGS.ZF | FLAGS.PF | FLAGS.CF);
  } else {
    const f = f80Compare(st(x, 0), st(x, i), ordered);
    if (signal(x, f & 0x3f)) return;
    const v = (f & FSW_C3 ? FLAGS.ZF : 0) | (f & FSW_C2 ? FLAGS.PF : 0) | (f & FSW_C0 ? FLAGS.CF : 0);
    cpu.setFlagBits(MASK, v);
  }
  if (popAfter) pop(x);
}

// ------------------------------------------------------------------ loads and stores

/** Pushes v with overflow checking (masked overflow pushes the indefinite). */
function pushChecked(x: X87State, v: Float80, convFlags: number): void {
  if (!empty(x, 7)) {
    if (overflow(x)) return;
    setIndefinite(T2);
    push(x, T2);
    return;
  }
  if (signal(x, convFlags)) return;
  push(x, v);
}

/** FIST/FISTP/FISTTP to memory of `bits` with control word `cw`. */
function storeInt(cpu: Cpu, i: Instr, x: X87State, bits: 16 | 32 | 64, cw: number, popAfter: boolean): void {
  const size = bits / 8;
  const lin = memLin(cpu, i, size, true);
  let flags: number;
  if (empty(x, 0)) {
    flags = FE_INVALID | FSW_SF;
    INT.lo = bits === 16 ? 0x8000 : 0;
    INT.hi = 0x80000000;
    if (bits === 32) INT.lo = 0x80000000;
  } else flags = f80ToInt(st(x, 0), bits, cw, INT);
  const unmaskedIE = flags & FE_INVALID && !(x.fcw & FE_INVALID);
  if (!unmaskedIE)
    cpu.linWrite(lin, size, bits === 64 ? INT.lo : INT.lo & (bits === 16 ? 0xffff : 0xffffffff), INT.hi);
  if (signal(x, flags)) return;
  if (popAfter) pop(x);
}

/** FST/FSTP m32/m64/m80. */
function storeFloat(cpu: Cpu, i: Instr, x: X87State, size: 4 | 8 | 10, popAfter: boolean): void {
  const lin = memLin(cpu, i, size, true);
  if (empty(x, 0)) {
    if (x.fcw & FE_INVALID) {
      if (size === 4) cpu.linWrite(lin, 4, 0xffc00000);
      else if (size === 8) cpu.linWrite(lin, 8, 0, 0xfff80000);
      else writeM80(cpu, lin, setIndefT2());
    }
    if (underflow(x)) return;
    if (popAfter) pop(x);
    return;
  }
  const v = st(x, 0);
  let flags = 0;
  if (size === 10) writeM80(cpu, lin, v);
  else {
    flags = size === 4 ? f80ToFloat32(v, x.fcw, INT) : f80ToFloat64(v, x.fcw, INT);
    const unmasked = flags & ~x.fcw & (FE_INVALID | FE_DENORMAL | FE_OVERFLOW | FE_UNDERFLOW);
    // Unmasked OE/UE on a memory store: nothing stored, and (silicon) no PE/C1 reported.
    if (unmasked & (FE_OVERFLOW | FE_UNDERFLOW)) flags &= ~(0x20 | FSW_C1);
    if (!unmasked) {
      if (size === 4) cpu.linWrite(lin, 4, INT.lo);
      else cpu.linWrite(lin, 8, INT.lo, INT.hi);
    }
  }
  if (signal(x, flags)) return;
  if (flags & ~x.fcw & (FE_OVERFLOW | FE_UNDERFLOW)) return; // unmasked: no pop either (SDM 8.5.4)
  if (popAfter) pop(x);
}

function setIndefT2(): Float80 {
  setIndefinite(T2);
  return T2;
}

// ------------------------------------------------------------------ environment

/** Size of the FSTENV image: 14 bytes (16-bit operand size) or 28 bytes. */
function envSize(i: Instr): number {
  return i.osize === 2 ? 14 : 28;
}

/** Stores the environment image at `lin` (SDM Vol.1 8.1.10, Figures 8-9..8-12). */
function storeEnv(cpu: Cpu, i: Instr, x: X87State, lin: number): void {
  const real = realFormat(cpu);
  const w16 = (off: number, v: number): void => cpu.linWrite(lin + off, 2, v & 0xffff);
  const w32 = (off: number, v: number): void => cpu.linWrite(lin + off, 4, v >>> 0);
  if (i.osize === 2) {
    w16(0, x.fcw);
    w16(2, x.fsw);
    w16(4, x.ftw);
    if (real) {
      w16(6, x.fipLo);
      w16(8, ((x.fipLo >>> 4) & 0xf000) | (x.fop & 0x7ff));
      w16(10, x.fdpLo);
      w16(12, (x.fdpLo >>> 4) & 0xf000);
    } else {
      w16(6, x.fipLo);
      w16(8, x.fcs);
      w16(10, x.fdpLo);
      w16(12, x.fds);
    }
    return;
  }
  // Reserved upper halves of the 32-bit format are written as FFFFh (as silicon does).
  w32(0, 0xffff0000 | x.fcw);
  w32(4, 0xffff0000 | x.fsw);
  w32(8, 0xffff0000 | x.ftw);
  if (real) {
    w32(12, 0xffff0000 | (x.fipLo & 0xffff));
    w32(16, ((x.fipLo >>> 16) << 12) | (x.fop & 0x7ff));
    w32(20, 0xffff0000 | (x.fdpLo & 0xffff));
    w32(24, (x.fdpLo >>> 16) << 12);
  } else {
    w32(12, x.fipLo);
    w32(16, ((x.fop & 0x7ff) << 16) | x.fcs);
    w32(20, x.fdpLo);
    w32(24, 0xffff0000 | x.fds);
  }
}

/** Reads the environment image at `lin` into `x` (tags: only "empty" is taken from memory). */
function loadEnv(cpu: Cpu, i: Instr, x: X87State, lin: number): void {
  const real = realFormat(cpu);
  const r16 = (off: number): number => cpu.linRead(lin + off, 2);
  const r32 = (off: number): number => cpu.linRead(lin + off, 4);
  let fcw: number, fsw: number, ftw: number, fip: number, fcs: number, fop: number, fdp: number, fds: number;
  if (i.osize === 2) {
    fcw = r16(0);
    fsw = r16(2);
    ftw = r16(4);
    if (real) {
      const w = r16(8);
      fip = r16(6) | ((w & 0xf000) << 4);
      fop = w & 0x7ff;
      fdp = r16(10) | ((r16(12) & 0xf000) << 4);
      fcs = fds = 0;
    } else {
      fip = r16(6);
      fcs = r16(8);
      fdp = r16(10);
      fds = r16(12);
      fop = x.fop;
    }
  } else {
    fcw = r16(0);
    fsw = r16(4);
    ftw = r16(8);
    if (real) {
      const w = r32(16);
      fip = (r16(12) | ((w >>> 12) << 16)) >>> 0;
      fop = w & 0x7ff;
      fdp = (r16(20) | ((r32(24) >>> 12) << 16)) >>> 0;
      fcs = fds = 0;
    } else {
      fip = r32(12);
      const w = r32(16);
      fcs = w & 0xffff;
      fop = (w >>> 16) & 0x7ff;
      fdp = r32(20);
      fds = r16(24);
    }
  }
  x.fcw = fcw;
  x.fsw = fsw;
  x.fop = fop;
  x.fipLo = fip >>> 0;
  x.fipHi = 0;
  x.fcs = fcs;
  x.fdpLo = fdp >>> 0;
  x.fdpHi = 0;
  x.fds = fds;
  x.ftw = ftw;
  retag(x);
  updateEs(x);
}

/** Recomputes non-empty tags from register contents (silicon keeps only empty/non-empty). */
function retag(x: X87State): void {
  let t = 0;
  for (let p = 0; p < 8; p++) {
    const old = (x.ftw >>> (2 * p)) & 3;
    t |= (old === 3 ? 3 : tagFor(x.regs[p])) << (2 * p);
  }
  x.ftw = t;
}

/** FNINIT state (SDM Vol.2 FINIT: FCW 037Fh, FSW 0, FTW FFFFh, pointers and opcode 0). */
export function x87Init(x: X87State): void {
  x.fcw = 0x037f;
  x.fsw = 0;
  x.ftw = 0xffff;
  x.fop = 0;
  x.fipLo = x.fipHi = x.fcs = 0;
  x.fdpLo = x.fdpHi = x.fds = 0;
}

// ------------------------------------------------------------------ opcode handlers

const CONST_ORDER = [
  X87Const.One,
  X87Const.L2T,
  X87Const.L2E,
  X87Const.Pi,
  X87Const.Lg2,
  X87Const.Ln2,
  X87Const.Zero,
];

/** D8 (m32real / ST(0),ST(i)) and DC (m64real / ST(i),ST(0)), DA (m32int), DE (m16int / ...P). */
function execArith(cpu: Cpu, i: Instr): void {
  const x = enter(cpu);
  const reg = i.reg & 7;
  if (i.mod !== 3) {
    const conv = loadArithOperand(cpu, i, T1);
    record(cpu, i, x);
    if (reg === 2 || reg === 3) compareSt0(x, T1, false, true, reg - 2, conv);
    else arithTo(x, reg, 0, T1, false, conv, false);
    return;
  }
  const r = i.rm & 7;
  const opc = i.opcode;
  if (opc === 0xda) {
    // DA: FCMOVB/E/BE/U, FUCOMPP (DA E9)
    if (reg <= 3) return fcmov(cpu, i, x, [2, 4, 6, 10][reg]);
    if (reg === 5 && r === 1) {
      record(cpu, i, x);
      return compareSt0(x, st(x, 1), empty(x, 1), false, 2);
    }
    ud();
  }
  record(cpu, i, x);
  if (reg === 2 || reg === 3) {
    // D8 D0/D8 FCOM/FCOMP; DC D0/D8 and DE D0 aliases; DE D9 FCOMPP.
    if (opc === 0xde) {
      if (reg === 3 && r !== 1) ud();
      if (reg === 3) return compareSt0(x, st(x, 1), empty(x, 1), true, 2);
      return compareSt0(x, st(x, r), empty(x, r), true, 1);
    }
    return compareSt0(x, st(x, r), empty(x, r), true, reg - 2);
  }
  if (opc === 0xd8) return arithTo(x, reg, 0, st(x, r), empty(x, r), 0, false);
  // DC/DE register forms: destination ST(i); sub/subr and div/divr swap (SDM Table A-7 notes).
  const idx = reg >= 4 ? reg ^ 1 : reg;
  T1.copy(st(x, 0));
  arithTo(x, idx, r, T1, empty(x, 0), 0, opc === 0xde);
}

/** FCMOVcc ST(0), ST(i) (SDM Vol.2 FCMOVcc). */
function fcmov(cpu: Cpu, i: Instr, x: X87State, cc: number): void {
  record(cpu, i, x);
  const r = i.rm & 7;
  x.fsw &= ~FSW_C1;
  if (empty(x, 0) || empty(x, r)) {
    if (underflow(x)) return;
    setIndef(x, 0);
    return;
  }
  if (testCondition(cpu, cc)) {
    T0.copy(st(x, r));
    setSt(x, 0, T0);
  }
}

/** D9: FLD m32, FST/FSTP m32, FLDENV, FLDCW, FNSTENV, FNSTCW; register forms. */
function execD9(cpu: Cpu, i: Instr): void {
  const reg = i.reg & 7;
  if (i.mod !== 3) {
    switch (reg) {
      case 0: {
        const x = enter(cpu);
        const conv = f80FromFloat32(T1, cpu.read(i.seg, cpu.ea(i), 4));
        record(cpu, i, x);
        pushChecked(x, T1, conv);
        return;
      }
      case 2:
      case 3: {
        const x = enter(cpu);
        record(cpu, i, x);
        storeFloat(cpu, i, x, 4, reg === 3);
        return;
      }
      case 4: {
        const x = enter(cpu);
        const lin = memLin(cpu, i, envSize(i), false);
        loadEnv(cpu, i, x, lin);
        return;
      }
      case 5: {
        const x = enter(cpu);
        x.fcw = cpu.read(i.seg, cpu.ea(i), 2) | 0x40;
        updateEs(x);
        return;
      }
      case 6: {
        checkNm(cpu);
        const x = cpu.x87;
        const lin = memLin(cpu, i, envSize(i), true);
        storeEnv(cpu, i, x, lin);
        x.fcw |= 0x3f;
        return;
      }
      case 7:
        checkNm(cpu);
        cpu.write(i.seg, cpu.ea(i), 2, cpu.x87.fcw);
        return;
      default:
        ud();
    }
  }
  const r = i.rm & 7;
  const x = enter(cpu);
  switch (reg) {
    case 0: // FLD ST(i)
      record(cpu, i, x);
      if (!empty(x, 7)) {
        if (overflow(x)) return;
        push(x, setIndefT2());
        return;
      }
      if (empty(x, r)) {
        if (underflow(x)) return;
        push(x, setIndefT2());
        return;
      }
      x.fsw &= ~FSW_C1;
      T1.copy(st(x, r));
      push(x, T1);
      return;
    case 1: // FXCH
      return fxch(cpu, i, x, r);
    case 2: // FNOP (D9 D0 only)
      if (r !== 0) ud();
      record(cpu, i, x);
      return;
    case 3: // FSTP1 alias (D9 D8+i)
      record(cpu, i, x);
      return fstReg(x, r, true);
  }
  record(cpu, i, x);
  const code = (reg << 3) | r; // 0x20..0x3f
  switch (code) {
    case 0x20: // FCHS
    case 0x21: // FABS
      if (empty(x, 0)) {
        if (underflow(x)) return;
        setIndef(x, 0);
        return;
      }
      T0.copy(st(x, 0));
      T0.sign = code === 0x20 ? T0.sign ^ 1 : 0;
      x.fsw &= ~FSW_C1;
      setSt(x, 0, T0);
      return;
    case 0x24: // FTST
      T1.set(0, 0, 0, 0);
      return compareSt0(x, T1, false, true, 0);
    case 0x25: // FXAM
      return fxam(x);
    case 0x28:
    case 0x29:
    case 0x2a:
    case 0x2b:
    case 0x2c:
    case 0x2d:
    case 0x2e:
      f80LoadConst(T1, CONST_ORDER[code - 0x28], x.fcw);
      x.fsw &= ~FSW_C1;
      pushChecked(x, T1, 0);
      return;
    case 0x30: // F2XM1
      return unary(x, (d, a, cw) => f80F2xm1(d, a, cw));
    case 0x31: // FYL2X
      return binaryPop(x, (d, a, b, cw) => f80Yl2x(d, b, a, cw));
    case 0x32: // FPTAN
      return fptan(x);
    case 0x33: // FPATAN
      return binaryPop(x, (d, a, b, cw) => f80Atan(d, b, a, cw));
    case 0x34: // FXTRACT
      return fxtract(x);
    case 0x35: // FPREM1
      return fprem(x, true);
    case 0x36: // FDECSTP
      x.fsw &= ~FSW_C1;
      setTop(x, x87Top(x) - 1);
      return;
    case 0x37: // FINCSTP
      x.fsw &= ~FSW_C1;
      setTop(x, x87Top(x) + 1);
      return;
    case 0x38: // FPREM
      return fprem(x, false);
    case 0x39: // FYL2XP1
      return binaryPop(x, (d, a, b, cw) => f80Yl2xp1(d, b, a, cw));
    case 0x3a: // FSQRT
      return unary(x, (d, a, cw) => f80Sqrt(d, a, cw));
    case 0x3b: // FSINCOS
      return fsincos(x);
    case 0x3c: // FRNDINT
      return unary(x, (d, a, cw) => f80RoundInt(d, a, cw));
    case 0x3d: // FSCALE
      if (empty(x, 0) || empty(x, 1)) {
        if (underflow(x)) return;
        setIndef(x, 0);
        return;
      }
      if (signal(x, f80Scale(T0, st(x, 0), st(x, 1), x.fcw))) return;
      setSt(x, 0, T0);
      return;
    case 0x3e: // FSIN
      return trigUnary(x, (d, a, cw) => f80Sin(d, a, cw));
    case 0x3f: // FCOS
      return trigUnary(x, (d, a, cw) => f80Cos(d, a, cw));
    default:
      ud();
  }
}

type Unary = (dst: Float80, a: Float80, cw: number) => number;
type Binary = (dst: Float80, a: Float80, b: Float80, cw: number) => number;

/** ST(0) = f(ST(0)). */
function unary(x: X87State, f: Unary): void {
  if (empty(x, 0)) {
    if (underflow(x)) return;
    setIndef(x, 0);
    return;
  }
  if (signal(x, f(T0, st(x, 0), x.fcw))) return;
  setSt(x, 0, T0);
}

/** FSIN/FCOS: like unary, but C2 = 1 (out of range) leaves ST(0) unchanged. */
function trigUnary(x: X87State, f: Unary): void {
  if (empty(x, 0)) {
    if (underflow(x, FSW_C1 | FSW_C2)) return;
    setIndef(x, 0);
    return;
  }
  const flags = f(T0, st(x, 0), x.fcw);
  if (signal(x, flags, FSW_C1 | FSW_C2)) return;
  if (!(flags & FSW_C2)) setSt(x, 0, T0);
}

/** ST(1) = f(ST(0), ST(1)); pop (FYL2X, FYL2XP1, FPATAN). */
function binaryPop(x: X87State, f: Binary): void {
  if (empty(x, 0) || empty(x, 1)) {
    if (underflow(x)) return;
    setIndef(x, 1);
    pop(x);
    return;
  }
  if (signal(x, f(T0, st(x, 0), st(x, 1), x.fcw))) return;
  setSt(x, 1, T0);
  pop(x);
}

/** FPTAN: ST(0) = tan ST(0), then push +1.0 (SDM Vol.2 FPTAN). */
function fptan(x: X87State): void {
  if (empty(x, 0) || !empty(x, 7)) {
    const ovf = !empty(x, 7) && !empty(x, 0);
    if (ovf ? overflow(x) : underflow(x, FSW_C1 | FSW_C2)) return;
    setIndef(x, 0);
    push(x, setIndefT2());
    return;
  }
  const flags = f80Tan(T0, st(x, 0), x.fcw);
  if (signal(x, flags, FSW_C1 | FSW_C2)) return;
  if (flags & FSW_C2) return;
  setSt(x, 0, T0);
  if (classify(T0) === CLS_QNAN && (flags & FE_INVALID || classify(st(x, 0)) === CLS_QNAN)) {
    // NaN operand or result: push the NaN again instead of 1.0 (SDM Vol.2 FPTAN: "… ST(0) ← 1.0"
    // happens only for numeric results; a NaN operand leaves the NaN in both places).
    push(x, T0);
    return;
  }
  T1.set(0, 16383, 0x80000000, 0);
  push(x, T1);
}

/** FSINCOS: ST(0) = sin, push cos. */
function fsincos(x: X87State): void {
  if (empty(x, 0) || !empty(x, 7)) {
    const ovf = !empty(x, 7) && !empty(x, 0);
    if (ovf ? overflow(x) : underflow(x, FSW_C1 | FSW_C2)) return;
    setIndef(x, 0);
    push(x, setIndefT2());
    return;
  }
  const flags = f80SinCos(T0, T1, st(x, 0), x.fcw);
  if (signal(x, flags, FSW_C1 | FSW_C2)) return;
  if (flags & FSW_C2) return;
  setSt(x, 0, T0);
  push(x, T1);
}

/** FXTRACT: ST(0) = exponent, push significand. */
function fxtract(x: X87State): void {
  if (empty(x, 0) || !empty(x, 7)) {
    const ovf = !empty(x, 7) && !empty(x, 0);
    if (ovf ? overflow(x) : underflow(x)) return;
    setIndef(x, 0);
    push(x, setIndefT2());
    return;
  }
  if (signal(x, f80Extract(T0, T1, st(x, 0)))) return;
  setSt(x, 0, T1);
  push(x, T0);
}

/** FPREM / FPREM1: ST(0) = partial remainder of ST(0) / ST(1); C0-C3 per the result. */
function fprem(x: X87State, ieee: boolean): void {
  if (empty(x, 0) || empty(x, 1)) {
    if (underflow(x, CC_ALL)) return;
    setIndef(x, 0);
    return;
  }
  const f = f80Rem(T0, st(x, 0), st(x, 1), x.fcw, ieee);
  if (signal(x, f, CC_ALL)) return;
  setSt(x, 0, T0);
}

/** FXAM: classify ST(0) into C3,C2,C0 with the sign in C1 (SDM Vol.2 FXAM). */
function fxam(x: X87State): void {
  const v = st(x, 0);
  let cc: number;
  if (empty(x, 0)) cc = FSW_C3 | FSW_C0;
  else {
    switch (classify(v)) {
      case CLS_UNSUPPORTED:
        cc = 0;
        break;
      case CLS_QNAN:
      case CLS_SNAN:
        cc = FSW_C0;
        break;
      case CLS_NORMAL:
        cc = FSW_C2;
        break;
      case CLS_INF:
        cc = FSW_C2 | FSW_C0;
        break;
      case CLS_ZERO:
        cc = FSW_C3;
        break;
      default:
        cc = FSW_C3 | FSW_C2;
    }
  }
  if (v.sign) cc |= FSW_C1;
  x.fsw = (x.fsw & ~CC_ALL) | cc;
}

/** FXCH ST(i) (SDM Vol.2 FXCH: empty operands become the indefinite when IE is masked). */
function fxch(cpu: Cpu, i: Instr, x: X87State, r: number): void {
  record(cpu, i, x);
  x.fsw &= ~FSW_C1;
  if (empty(x, 0) || empty(x, r)) {
    if (underflow(x)) return;
    if (empty(x, 0)) setIndef(x, 0);
    if (empty(x, r)) setIndef(x, r);
  }
  T0.copy(st(x, 0));
  T1.copy(st(x, r));
  setSt(x, 0, T1);
  setSt(x, r, T0);
}

/** FST/FSTP ST(i). */
function fstReg(x: X87State, r: number, popAfter: boolean): void {
  if (empty(x, 0)) {
    if (underflow(x)) return;
    setIndef(x, r);
  } else {
    x.fsw &= ~FSW_C1;
    T0.copy(st(x, 0));
    setSt(x, r, T0);
  }
  if (popAfter) pop(x);
}

/** DB: FILD m32, FISTTP m32, FIST/FISTP m32, FLD/FSTP m80; FCMOVNcc, FNCLEX, FNINIT, FUCOMI, FCOMI. */
function execDB(cpu: Cpu, i: Instr): void {
  const reg = i.reg & 7;
  if (i.mod !== 3) {
    const x = enter(cpu);
    switch (reg) {
      case 0:
        f80FromInt32(T1, cpu.read(i.seg, cpu.ea(i), 4) | 0);
        record(cpu, i, x);
        return pushChecked(x, T1, 0);
      case 1:
        record(cpu, i, x);
        return storeInt(cpu, i, x, 32, x.fcw | 0xc00, true);
      case 2:
      case 3:
        record(cpu, i, x);
        return storeInt(cpu, i, x, 32, x.fcw, reg === 3);
      case 5:
        readM80(cpu, memLin(cpu, i, 10, false), T1);
        record(cpu, i, x);
        return pushChecked(x, T1, 0);
      case 7:
        record(cpu, i, x);
        return storeFloat(cpu, i, x, 10, true);
      default:
        ud();
    }
  }
  const r = i.rm & 7;
  if (reg === 4) {
    checkNm(cpu);
    switch (r) {
      case 0: // FENI, FDISI, FSETPM: no-ops since the 387
      case 1:
      case 4:
        return;
      case 2: // FNCLEX
        cpu.x87.fsw &= ~(0x80ff | FSW_B);
        return;
      case 3: // FNINIT
        x87Init(cpu.x87);
        return;
      default:
        ud();
    }
  }
  const x = enter(cpu);
  if (reg <= 3) return fcmov(cpu, i, x, [3, 5, 7, 11][reg]);
  record(cpu, i, x);
  if (reg === 5) return comi(cpu, x, r, false, false);
  if (reg === 6) return comi(cpu, x, r, true, false);
  ud();
}

/** DD: FLD m64, FISTTP m64, FST/FSTP m64, FRSTOR, FNSAVE, FNSTSW m16; FFREE, FST(P) ST(i), FUCOM(P). */
function execDD(cpu: Cpu, i: Instr): void {
  const reg = i.reg & 7;
  if (i.mod !== 3) {
    switch (reg) {
      case 0: {
        const x = enter(cpu);
        const lo = cpu.read(i.seg, cpu.ea(i), 8);
        const conv = f80FromFloat64(T1, cpu.rhi, lo);
        record(cpu, i, x);
        return pushChecked(x, T1, conv);
      }
      case 1: {
        const x = enter(cpu);
        record(cpu, i, x);
        return storeInt(cpu, i, x, 64, x.fcw | 0xc00, true);
      }
      case 2:
      case 3: {
        const x = enter(cpu);
        record(cpu, i, x);
        return storeFloat(cpu, i, x, 8, reg === 3);
      }
      case 4: {
        // FRSTOR
        const x = enter(cpu);
        const es = envSize(i);
        const lin = memLin(cpu, i, es + 80, false);
        const regs = Array.from({ length: 8 }, (_, n) => {
          const v = new Float80();
          readM80(cpu, lin + es + 10 * n, v);
          return v;
        });
        loadEnv(cpu, i, x, lin);
        const top = x87Top(x);
        for (let n = 0; n < 8; n++) x.regs[(top + n) & 7].copy(regs[n]);
        retag(x);
        return;
      }
      case 6: {
        // FNSAVE
        checkNm(cpu);
        const x = cpu.x87;
        const es = envSize(i);
        const lin = memLin(cpu, i, es + 80, true);
        storeEnv(cpu, i, x, lin);
        for (let n = 0; n < 8; n++) writeM80(cpu, lin + es + 10 * n, st(x, n));
        x87Init(x);
        return;
      }
      case 7:
        checkNm(cpu);
        cpu.write(i.seg, cpu.ea(i), 2, cpu.x87.fsw);
        return;
      default:
        ud();
    }
  }
  const r = i.rm & 7;
  const x = enter(cpu);
  record(cpu, i, x);
  switch (reg) {
    case 0: // FFREE
      free(x, r);
      return;
    case 1: // FXCH4 alias
      return fxch(cpu, i, x, r);
    case 2:
    case 3:
      return fstReg(x, r, reg === 3);
    case 4:
    case 5:
      return compareSt0(x, st(x, r), empty(x, r), false, reg - 4);
    default:
      ud();
  }
}

/** DF: FILD m16/m64, FISTTP m16, FIST(P) m16, FBLD, FBSTP, FISTP m64; FNSTSW AX, F(U)COMIP, aliases. */
function execDF(cpu: Cpu, i: Instr): void {
  const reg = i.reg & 7;
  if (i.mod !== 3) {
    const x = enter(cpu);
    switch (reg) {
      case 0:
        f80FromInt32(T1, (cpu.read(i.seg, cpu.ea(i), 2) << 16) >> 16);
        record(cpu, i, x);
        return pushChecked(x, T1, 0);
      case 1:
        record(cpu, i, x);
        return storeInt(cpu, i, x, 16, x.fcw | 0xc00, true);
      case 2:
      case 3:
        record(cpu, i, x);
        return storeInt(cpu, i, x, 16, x.fcw, reg === 3);
      case 4: {
        const lin = memLin(cpu, i, 10, false);
        for (let n = 0; n < 10; n++) BCD[n] = cpu.linRead(lin + n, 1);
        f80FromBcd(T1, BCD);
        record(cpu, i, x);
        return pushChecked(x, T1, 0);
      }
      case 5: {
        const lo = cpu.read(i.seg, cpu.ea(i), 8);
        f80FromInt64(T1, cpu.rhi, lo);
        record(cpu, i, x);
        return pushChecked(x, T1, 0);
      }
      case 6: {
        record(cpu, i, x);
        const lin = memLin(cpu, i, 10, true);
        let flags: number;
        if (empty(x, 0)) {
          flags = FE_INVALID | FSW_SF;
          BCD.fill(0);
          BCD[7] = 0xc0;
          BCD[8] = BCD[9] = 0xff;
        } else flags = f80ToBcd(st(x, 0), x.fcw, BCD);
        if (!(flags & FE_INVALID && !(x.fcw & FE_INVALID)))
          for (let n = 0; n < 10; n++) cpu.linWrite(lin + n, 1, BCD[n]);
        if (signal(x, flags)) return;
        pop(x);
        return;
      }
      default:
        record(cpu, i, x);
        return storeInt(cpu, i, x, 64, x.fcw, true);
    }
  }
  const r = i.rm & 7;
  if (reg === 4) {
    if (r !== 0) ud();
    checkNm(cpu);
    cpu.setReg(0, 2, cpu.x87.fsw); // FNSTSW AX
    return;
  }
  const x = enter(cpu);
  record(cpu, i, x);
  switch (reg) {
    case 0: // FFREEP (undocumented: free ST(i) and pop)
      free(x, r);
      pop(x);
      return;
    case 1: // FXCH7 alias
      return fxch(cpu, i, x, r);
    case 2:
    case 3: // FSTP8/FSTP9 aliases
      return fstReg(x, r, true);
    case 5:
      return comi(cpu, x, r, false, true);
    case 6:
      return comi(cpu, x, r, true, true);
    default:
      ud();
  }
}

/** WAIT/FWAIT (9B): #NM when CR0.TS and CR0.MP are both set; then reports pending exceptions. */
function execWait(cpu: Cpu): void {
  if ((cpu.cr0 & (CR0.TS | CR0.MP)) === (CR0.TS | CR0.MP)) nm();
  checkPending(cpu);
}

op(0xd8, "x87-d8", execArith, true);
op(0xd9, "x87-d9", execD9, true);
op(0xda, "x87-da", execArith, true);
op(0xdb, "x87-db", execDB, true);
op(0xdc, "x87-dc", execArith, true);
op(0xdd, "x87-dd", execDD, true);
op(0xde, "x87-de", execArith, true);
op(0xdf, "x87-df", execDF, true);
op(0x9b, "fwait", execWait, false);
