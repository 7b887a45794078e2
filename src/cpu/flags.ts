/**
 * Lazy arithmetic flags: the last flag-setting operation is recorded (kind, size, operands,
 * result) and CF/PF/AF/ZF/SF/OF are computed only when read (SDM Vol.1 3.4.3.1 and
 * Appendix A "EFLAGS Cross-Reference").
 */
import type { Cpu } from "./cpu.js";

/** Kinds of lazily recorded operations. */
export const enum LazyOp {
  Add = 0,
  Adc = 1,
  Sub = 2,
  Sbb = 3,
  /** AND/OR/XOR/TEST: CF=OF=0, AF=0. */
  Logic = 4,
  /** INC: like ADD with B=1 (CF is never lazy for INC). */
  Inc = 5,
  /** DEC: like SUB with B=1. */
  Dec = 6,
}

/** Parity flag lookup: PF=1 when the low byte has an even number of set bits. */
export const PARITY = new Uint8Array(256);
for (let n = 0; n < 256; n++) {
  let b = n;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[n] = (b & 1) === 0 ? 4 : 0;
}

/**
 * Compute all six status flags from the lazy state. Operands and results may be recorded
 * either as unsigned numbers or in int32 form (the block compiler stores int32 values to
 * avoid heap numbers); both are normalized here.
 */
export function computeFlags(cpu: Cpu): number {
  const size = cpu.lfSize;
  const a = cpu.lfA >>> 0;
  const b = cpu.lfB >>> 0;
  const r = cpu.lfR >>> 0;
  let f = PARITY[r & 0xff];
  if (size === 8) {
    const ah = cpu.lfAh >>> 0;
    const bh = cpu.lfBh >>> 0;
    const rh = cpu.lfRh >>> 0;
    if (r === 0 && rh === 0) f |= 0x40;
    if (rh & 0x80000000) f |= 0x80;
    switch (cpu.lfOp) {
      case LazyOp.Add:
      case LazyOp.Adc:
      case LazyOp.Inc: {
        const cmp = rh !== ah ? rh < ah : r < a;
        if (
          cpu.lfOp !== LazyOp.Inc &&
          (cmp || (cpu.lfOp === LazyOp.Adc && cpu.lfCin && rh === ah && r === a))
        )
          f |= 1;
        if ((ah ^ rh) & (bh ^ rh) & 0x80000000) f |= 0x800;
        f |= (a ^ b ^ r) & 0x10;
        break;
      }
      case LazyOp.Sub:
      case LazyOp.Sbb:
      case LazyOp.Dec: {
        const lt = ah !== bh ? ah < bh : a < b;
        if (cpu.lfOp !== LazyOp.Dec && (lt || (cpu.lfOp === LazyOp.Sbb && cpu.lfCin && ah === bh && a === b)))
          f |= 1;
        if ((ah ^ bh) & (ah ^ rh) & 0x80000000) f |= 0x800;
        f |= (a ^ b ^ r) & 0x10;
        break;
      }
      default:
        break;
    }
    return f;
  }
  const sign = size === 4 ? 0x80000000 : size === 2 ? 0x8000 : 0x80;
  if (r === 0) f |= 0x40;
  if (r & sign) f |= 0x80;
  switch (cpu.lfOp) {
    case LazyOp.Add:
      if (r < a) f |= 1;
      if ((a ^ r) & (b ^ r) & sign) f |= 0x800;
      f |= (a ^ b ^ r) & 0x10;
      break;
    case LazyOp.Adc:
      if (r < a || (cpu.lfCin && r === a)) f |= 1;
      if ((a ^ r) & (b ^ r) & sign) f |= 0x800;
      f |= (a ^ b ^ r) & 0x10;
      break;
    case LazyOp.Inc:
      if ((a ^ r) & (b ^ r) & sign) f |= 0x800;
      f |= (a ^ b ^ r) & 0x10;
      break;
    case LazyOp.Sub:
      if (a < b) f |= 1;
      if ((a ^ b) & (a ^ r) & sign) f |= 0x800;
      f |= (a ^ b ^ r) & 0x10;
      break;
    case LazyOp.Sbb:
      if (a < b || (cpu.lfCin && a === b)) f |= 1;
      if ((a ^ b) & (a ^ r) & sign) f |= 0x800;
      f |= (a ^ b ^ r) & 0x10;
      break;
    case LazyOp.Dec:
      if ((a ^ b) & (a ^ r) & sign) f |= 0x800;
      f |= (a ^ b ^ r) & 0x10;
      break;
    default:
      break;
  }
  return f;
}

/** Evaluate condition code `cc` (0-15, the low nibble of Jcc/SETcc/CMOVcc; SDM Vol.1 Table B-1). */
export function testCondition(cpu: Cpu, cc: number): boolean {
  // Fast paths: ZF from the lazy result when all status flags are lazy.
  if (cpu.lazyMask === 0x8d5 && (cc === 4 || cc === 5)) {
    const z = cpu.lfSize === 8 ? cpu.lfR === 0 && cpu.lfRh === 0 : cpu.lfR === 0;
    return cc === 4 ? z : !z;
  }
  const f =
    cpu.lazyMask !== 0 ? (cpu.eflags & ~cpu.lazyMask) | (computeFlags(cpu) & cpu.lazyMask) : cpu.eflags;
  let r: boolean;
  switch (cc >> 1) {
    case 0:
      r = (f & 0x800) !== 0; // O
      break;
    case 1:
      r = (f & 1) !== 0; // B/C
      break;
    case 2:
      r = (f & 0x40) !== 0; // E/Z
      break;
    case 3:
      r = (f & 0x41) !== 0; // BE
      break;
    case 4:
      r = (f & 0x80) !== 0; // S
      break;
    case 5:
      r = (f & 4) !== 0; // P
      break;
    case 6:
      r = ((f >> 7) & 1) !== ((f >> 11) & 1); // L: SF != OF
      break;
    default:
      r = (f & 0x40) !== 0 || ((f >> 7) & 1) !== ((f >> 11) & 1); // LE
      break;
  }
  return (cc & 1) !== 0 ? !r : r;
}
