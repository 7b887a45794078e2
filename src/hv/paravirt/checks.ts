/**
 * Argument checks shared by VmPinning and VcpuPinning: each returns the checked value or
 * throws HvError naming the argument (the VMM's mistake, never the guest's).
 */
import { HvError } from "../errors.js";
import type { ControlWriteContext, PinnedCr } from "./cr-pinning.js";

/** An unsigned 32-bit integer. */
export function checkU32(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new HvError("bad-value", `${what}: expected an integer in 0..0xffffffff, got ${String(value)}`);
  }
  return value;
}

/**
 * A 32-bit register value as the CPU may hand it over: unsigned, or the same bits as a
 * signed int32 (the result of JavaScript bit operations). Returns the unsigned form.
 */
export function register32(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < -0x8000_0000 || value > 0xffff_ffff) {
    throw new HvError("bad-value", `${what}: expected a 32-bit integer, got ${String(value)}`);
  }
  return value >>> 0;
}

/** A list of pinnable registers ("cr0" | "cr4") as a set. */
export function checkRegisters(what: string, list: unknown): Set<PinnedCr> {
  if (list === undefined) return new Set();
  if (!Array.isArray(list) || list.some((x) => x !== "cr0" && x !== "cr4")) {
    throw new HvError("bad-argument", `${what}: expected an array of "cr0" | "cr4"`);
  }
  return new Set(list as PinnedCr[]);
}

/** A guest RIP: a bigint in 0..2^64-1. */
export function checkRip(value: unknown): bigint {
  if (typeof value !== "bigint" || value < 0n || value >= 1n << 64n) {
    throw new HvError("bad-value", "pinning context rip: expected a bigint in 0..2^64-1");
  }
  return value;
}

/** The context of a control-register write. */
export function checkContext(ctx: ControlWriteContext): void {
  if (typeof ctx !== "object" || ctx === null)
    throw new HvError("bad-argument", "pinning context: expected an object");
  if (typeof ctx.inSmm !== "boolean")
    throw new HvError("bad-value", "pinning context inSmm: expected a boolean");
  checkRip(ctx.rip);
  if (typeof ctx.source !== "string")
    throw new HvError("bad-value", "pinning context source: expected a string");
}
