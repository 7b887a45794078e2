/**
 * Checked conversions between the hypervisor API's plain objects (bigints, named fields) and
 * the processor's internal encodings (signed canonical numbers, 32-bit halves, packed segment
 * attributes). Every function validates its input and throws HvError naming the field, so a
 * setter can check a whole argument before it changes anything.
 */
import type { Cpu } from "../cpu/cpu.js";
import { ATTR } from "../x86/segment.js";
import { HvError } from "./errors.js";
import { SEGMENT_KEYS, type DescriptorTable, type Segment } from "./state.js";

const U64_MAX = (1n << 64n) - 1n;
const CANONICAL_LIMIT = 1n << 47n;

/** Checks that `value` is a bigint in 0..2^64-1. */
export function u64(what: string, value: unknown): bigint {
  if (typeof value !== "bigint" || value < 0n || value > U64_MAX) {
    const shown = typeof value === "bigint" ? `0x${value.toString(16)}` : `a ${typeof value}`;
    throw new HvError("bad-value", `${what}: expected a bigint in 0..2^64-1, got ${shown}`);
  }
  return value;
}

/** Checks that `value` is an integer number in min..max. */
export function int(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new HvError("bad-value", `${what}: expected an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** A 64-bit value as the signed canonical number the CPU keeps addresses in. */
export function canonical(what: string, value: bigint): number {
  const signed = BigInt.asIntN(64, value);
  if (signed < -CANONICAL_LIMIT || signed >= CANONICAL_LIMIT) {
    throw new HvError("bad-value", `${what}: 0x${value.toString(16)} is not a canonical 48-bit address`);
  }
  return Number(signed);
}

/** A CPU address number (signed canonical or 32-bit) as an unsigned 64-bit bigint. */
export function fromAddress(value: number): bigint {
  return BigInt.asUintN(64, BigInt(value));
}

/** A 32-bit value held in the upper or lower half of a bigint: rejects bits above 31. */
export function low32(what: string, value: bigint): number {
  if (value > 0xffff_ffffn) {
    throw new HvError("bad-value", `${what}: 0x${value.toString(16)} sets reserved bits 63:32`);
  }
  return Number(value);
}

/** Rejects keys an object of this kind does not have (a typo must not be ignored). */
export function checkKeys(what: string, object: object, known: readonly string[]): void {
  if (typeof object !== "object" || object === null) {
    throw new HvError("bad-argument", `${what}: expected an object`);
  }
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new HvError("bad-register", `${what}: unknown register '${key}' (known: ${known.join(", ")})`);
    }
  }
}

/** Hidden segment state in the CPU's encoding. */
export interface CpuSegment {
  selector: number;
  base: number;
  limit: number;
  attr: number;
}

/** A Segment from the API as the CPU's hidden segment state (validated). */
export function segmentToCpu(what: string, s: Segment): CpuSegment {
  checkKeys(what, s, SEGMENT_KEYS);
  for (const key of SEGMENT_KEYS) {
    if (s[key] === undefined) throw new HvError("bad-argument", `${what}.${key}: missing`);
  }
  const selector = int(`${what}.selector`, s.selector, 0, 0xffff);
  const base = canonical(`${what}.base`, u64(`${what}.base`, s.base));
  const limit = int(`${what}.limit`, s.limit, 0, 0xffff_ffff);
  const type = int(`${what}.type`, s.type, 0, 15);
  const bit = (key: keyof Segment): number => int(`${what}.${key}`, s[key], 0, 1);
  const dpl = int(`${what}.dpl`, s.dpl, 0, 3);
  const attr =
    type |
    (bit("s") ? ATTR.S : 0) |
    (dpl << ATTR.DPL_SHIFT) |
    (bit("present") ? ATTR.P : 0) |
    (bit("avl") ? ATTR.AVL : 0) |
    (bit("l") ? ATTR.L : 0) |
    (bit("db") ? ATTR.DB : 0) |
    (bit("g") ? ATTR.G : 0);
  return { selector, base, limit, attr };
}

/** Segment register `n` of `cpu` as the API's Segment. */
export function segmentFromCpu(cpu: Cpu, n: number): Segment {
  const a = cpu.segAttr[n];
  return {
    selector: cpu.segSel[n] & 0xffff,
    base: fromAddress(cpu.segBase[n]),
    limit: cpu.segLimit[n] >>> 0,
    type: a & ATTR.TYPE_MASK,
    s: a & ATTR.S ? 1 : 0,
    dpl: (a >> ATTR.DPL_SHIFT) & 3,
    present: a & ATTR.P ? 1 : 0,
    avl: a & ATTR.AVL ? 1 : 0,
    l: a & ATTR.L ? 1 : 0,
    db: a & ATTR.DB ? 1 : 0,
    g: a & ATTR.G ? 1 : 0,
  };
}

/** A GDTR/IDTR value from the API in the CPU's encoding (validated). */
export function tableToCpu(what: string, t: DescriptorTable): { base: number; limit: number } {
  checkKeys(what, t, ["base", "limit"]);
  return {
    base: canonical(`${what}.base`, u64(`${what}.base`, t.base)),
    limit: int(`${what}.limit`, t.limit, 0, 0xffff),
  };
}

/** A 64-bit value from its unsigned 32-bit halves. */
export function joinU64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** The low and high 32-bit halves of a 64-bit value (as the CPU's signed Int32 storage). */
export function splitU64(value: bigint): [number, number] {
  return [Number(value & 0xffff_ffffn) | 0, Number((value >> 32n) & 0xffff_ffffn) | 0];
}
