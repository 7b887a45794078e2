/**
 * IA32_APIC_BASE (MSR 1BH): its reserved bits and the legal mode transitions (SDM Vol.3
 * 10.4.4 Figure 10-5, 10.12.5.1 "x2APIC States" and Figure 10-27).
 */
import { APIC_BASE } from "./registers.js";

/** The APIC mode selected by EN and EXTD (SDM Vol.3 10.12.5.1). */
export type ApicMode = "disabled" | "xapic" | "x2apic" | "invalid";

/** The mode a value of IA32_APIC_BASE selects. */
export function apicModeOf(value: bigint): ApicMode {
  const en = (value & APIC_BASE.EN) !== 0n;
  const extd = (value & APIC_BASE.EXTD) !== 0n;
  if (en) return extd ? "x2apic" : "xapic";
  return extd ? "invalid" : "disabled";
}

/**
 * Reserved bits of IA32_APIC_BASE: 7:0, 9, EXTD (bit 10) when x2APIC is not supported, and
 * bits MAXPHYADDR..63 (SDM Vol.3 Figure 10-5).
 */
export function apicBaseReservedBits(maxPhysAddr: number, x2apicSupported: boolean): bigint {
  const all = (1n << 64n) - 1n;
  const aboveMaxPhys = all & ~((1n << BigInt(maxPhysAddr)) - 1n);
  return 0x2ffn | (x2apicSupported ? 0n : APIC_BASE.EXTD) | aboveMaxPhys;
}

/**
 * Whether software may go from mode `from` to mode `to` with WRMSR (SDM Vol.3 10.12.5.1,
 * Figure 10-27): the invalid state (EN=0, EXTD=1) is never allowed, x2APIC -> xAPIC must go
 * through disabled, and disabled -> x2APIC must go through xAPIC. Staying in a mode is legal.
 */
export function isLegalApicModeTransition(from: ApicMode, to: ApicMode): boolean {
  if (to === "invalid") return false;
  if (from === "x2apic" && to === "xapic") return false;
  if (from === "disabled" && to === "x2apic") return false;
  return true;
}
