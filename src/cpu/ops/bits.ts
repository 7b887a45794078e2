/**
 * Bit instructions: BT/BTS/BTR/BTC with a register bit offset (0F A3/AB/B3/BB) and with an
 * immediate (group 8, 0F BA /4-/7), BSF/BSR (0F BC/BD), TZCNT/LZCNT (F3 0F BC/BD), POPCNT
 * (F3 0F B8) and BSWAP (0F C8+r) (SDM Vol.2 "BT", "BTS", "BTR", "BTC", "BSF", "BSR",
 * "TZCNT", "LZCNT", "POPCNT", "BSWAP"; flags per Vol.1 Appendix A).
 *
 * Bit strings: with a memory operand and a register offset, the offset is a signed integer
 * of the operand size and selects a bit anywhere relative to the operand's address (SDM
 * Vol.2 3.1.1.9 "Operation" of BT, Table 3-2 in Vol.1 "Bit offset"): we access the operand-
 * sized word at EA + (offset SAR log2(width)) * (width/8). The immediate form masks the
 * offset to the operand width and never leaves the operand.
 *
 * Undefined results and flags — our choices (our differential guests mask these):
 * - BT*: OF/SF/AF/PF undefined → left unchanged; ZF unaffected (per the SDM); CF = the bit.
 * - BSF/BSR: CF/OF/SF/AF/PF undefined → unchanged; with a zero source the destination is
 *   left entirely unchanged (also its upper half for 32-bit operands in 64-bit mode), as
 *   AMD documents and Intel processors do.
 * - TZCNT/LZCNT: OF/SF/AF/PF undefined → unchanged. (F3 selects them inside the BSF/BSR
 *   handlers: without BMI1/ABM the prefix would be ignored; our CPUID advertises both.)
 * - BSWAP with a 16-bit operand (undefined): the low word becomes 0, as on Intel processors.
 * POPCNT has no mandatory-prefix-less form: 0F B8 without F3 is #UD.
 */
import type { Cpu } from "../cpu.js";
import { Access } from "../cpu.js";
import type { Instr } from "../instr.js";
import { group, mandatory, op, Imm, Mandatory, OPF_LOCK } from "../optable.js";
import { FLAGS } from "../../x86/eflags.js";

const TWO32 = 4294967296;

/** BT-family operation: 0 BT, 1 BTS, 2 BTR, 3 BTC. */
export const enum BitOp {
  Bt = 0,
  Bts = 1,
  Btr = 2,
  Btc = 3,
}

/** Apply BitOp `kind` to bit `b` (0..31) of the 32-bit word `v`; returns the new word. */
function modify(kind: number, v: number, b: number): number {
  const m = 1 << b;
  if (kind === BitOp.Bts) return (v | m) >>> 0;
  if (kind === BitOp.Btr) return (v & ~m) >>> 0;
  return (v ^ m) >>> 0;
}

/** Set CF to the selected bit (other status flags unchanged). */
function setCF(cpu: Cpu, bit: number): void {
  cpu.setFlagBits(FLAGS.CF, bit);
}

/**
 * BT/BTS/BTR/BTC handler. `imm` selects the group-8 form (offset = imm8 masked to the width),
 * otherwise the offset is the ModRM.reg register.
 */
function bitTest(kind: number, imm: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = i.osize;
    const width = size * 8;
    let off: number;
    let disp = 0;
    if (imm) off = i.imm & (width - 1);
    else {
      const lo = cpu.lo[i.reg];
      off = lo & (width - 1);
      if (i.mod !== 3) {
        // Signed bit offset → signed byte displacement of the operand-sized word.
        if (size === 2) disp = (((lo << 16) >> 16) >> 4) * 2;
        else if (size === 4) disp = (lo >> 5) * 4;
        else {
          const hi = cpu.hi[i.reg];
          const dlo = (((lo >>> 3) | (hi << 29)) & ~7) >>> 0;
          disp = (hi >> 3) * TWO32 + dlo;
        }
      }
    }
    if (i.mod === 3) {
      const r = i.rm;
      if (size === 8 && off >= 32) {
        const h = cpu.hi[r] >>> 0;
        setCF(cpu, (h >>> (off - 32)) & 1);
        if (kind !== BitOp.Bt) cpu.hi[r] = modify(kind, h, off - 32);
        return;
      }
      const v = cpu.lo[r] >>> 0;
      setCF(cpu, (v >>> off) & 1);
      if (kind !== BitOp.Bt) {
        const nv = modify(kind, v, off);
        if (size === 8) cpu.lo[r] = nv;
        else cpu.setReg(r, size, nv);
      }
      return;
    }
    let addr = cpu.ea(i) + disp;
    if (i.asize === 4) addr >>>= 0;
    else if (i.asize === 2) addr &= 0xffff;
    if (kind === BitOp.Bt) {
      const v = cpu.read(i.seg, addr, size);
      const bit = size === 8 && off >= 32 ? (cpu.rhi >>> (off - 32)) & 1 : (v >>> off) & 1;
      setCF(cpu, bit);
      return;
    }
    const lin = cpu.linear(i.seg, addr, size, true);
    cpu.translate(lin, Access.Write);
    if ((lin & 0xfff) + size - 1 > 0xfff) cpu.translate(lin + size - 1, Access.Write);
    let v = cpu.linRead(lin, size);
    let vh = cpu.rhi;
    if (size === 8 && off >= 32) {
      setCF(cpu, (vh >>> (off - 32)) & 1);
      vh = modify(kind, vh, off - 32);
    } else {
      setCF(cpu, (v >>> off) & 1);
      v = modify(kind, v, off);
    }
    cpu.linWrite(lin, size, v, vh);
  };
}

/** Number of trailing zero bits of a non-zero 32-bit value. */
function tz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Number of set bits in a 32-bit value. */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Set ZF (and CF when `withCF`), leaving the other status flags unchanged. */
function setZC(cpu: Cpu, zf: boolean, cf: boolean, withCF: boolean): void {
  cpu.setFlagBits(withCF ? FLAGS.ZF | FLAGS.CF : FLAGS.ZF, (zf ? FLAGS.ZF : 0) | (cf ? FLAGS.CF : 0));
}

/** BSF (0F BC) or, with F3, TZCNT. */
function bsf(cpu: Cpu, i: Instr): void {
  const size = i.osize;
  const lo = cpu.readRM(i, size);
  const hi = size === 8 ? cpu.rhi : 0;
  const zero = lo === 0 && hi === 0;
  let n: number;
  if (zero) n = size * 8;
  else n = lo !== 0 ? tz32(lo) : 32 + tz32(hi);
  if (i.rep === 1) {
    // TZCNT: CF = (source == 0), ZF = (result == 0).
    cpu.setReg(i.reg, size, n);
    setZC(cpu, n === 0, zero, true);
    return;
  }
  setZC(cpu, zero, false, false);
  if (!zero) cpu.setReg(i.reg, size, n);
}

/** BSR (0F BD) or, with F3, LZCNT. */
function bsr(cpu: Cpu, i: Instr): void {
  const size = i.osize;
  const lo = cpu.readRM(i, size);
  const hi = size === 8 ? cpu.rhi : 0;
  const zero = lo === 0 && hi === 0;
  // Index of the most significant set bit (-1 for zero).
  const top = hi !== 0 ? 63 - Math.clz32(hi) : lo !== 0 ? 31 - Math.clz32(lo) : -1;
  if (i.rep === 1) {
    const n = size * 8 - 1 - top;
    cpu.setReg(i.reg, size, n);
    setZC(cpu, n === 0, zero, true);
    return;
  }
  setZC(cpu, zero, false, false);
  if (!zero) cpu.setReg(i.reg, size, top);
}

/** POPCNT r, r/m (F3 0F B8): ZF = (source == 0), CF/OF/SF/AF/PF cleared. */
function popcnt(cpu: Cpu, i: Instr): void {
  const size = i.osize;
  const lo = cpu.readRM(i, size);
  const n = popcount32(lo) + (size === 8 ? popcount32(cpu.rhi) : 0);
  cpu.setReg(i.reg, size, n);
  cpu.setFlagBits(0x8d5, n === 0 ? FLAGS.ZF : 0);
}

/** Reverse the bytes of a 32-bit value. */
function swap32(x: number): number {
  return ((x >>> 24) | ((x >>> 8) & 0xff00) | ((x & 0xff00) << 8) | (x << 24)) >>> 0;
}

/** BSWAP r (0F C8+r); 64-bit operands swap all eight bytes. */
function bswap(cpu: Cpu, i: Instr): void {
  const r = (i.opcode & 7) | ((i.rex & 1) << 3);
  if (i.osize === 8) {
    const lo = cpu.lo[r];
    cpu.lo[r] = swap32(cpu.hi[r]);
    cpu.hi[r] = swap32(lo);
  } else if (i.osize === 4) cpu.setReg(r, 4, swap32(cpu.lo[r]));
  else cpu.setReg(r, 2, 0);
}

const NAMES = ["bt", "bts", "btr", "btc"];
const REG_OPCODES = [0x1a3, 0x1ab, 0x1b3, 0x1bb];
for (let k = 0; k < 4; k++) {
  const lock = k === BitOp.Bt ? 0 : OPF_LOCK;
  op(REG_OPCODES[k], NAMES[k], bitTest(k, false), true, Imm.None, lock);
  group(0x1ba, 4 + k, NAMES[k], bitTest(k, true), Imm.Ib, lock);
}
op(0x1bc, "bsf", bsf, true);
op(0x1bd, "bsr", bsr, true);
mandatory(0x1b8, Mandatory.PF3, "popcnt", popcnt);
for (let r = 0; r < 8; r++) op(0x1c8 + r, "bswap", bswap, false);
