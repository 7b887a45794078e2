/**
 * Which local APICs an interrupt message addresses (SDM Vol.3 10.6.2 "Determining IPI
 * Destination"; 10.12.10 for x2APIC), and routing of a message over a list of APICs,
 * lowest-priority arbitration included.
 */
import type { DestinationMode, DestinationShorthand, Ipi } from "./ipi.js";
import type { LocalApic } from "./local-apic.js";
import { DFR_BITS } from "./registers.js";

/** The x2APIC broadcast destination (SDM Vol.3 10.12.9). */
export const X2APIC_BROADCAST = 0xffffffff;

/** The xAPIC physical broadcast destination (SDM Vol.3 10.6.2.1). */
export const XAPIC_BROADCAST = 0xff;

/**
 * The logical x2APIC ID derived from an x2APIC ID (SDM Vol.3 10.12.10.2): cluster
 * (x2APIC ID[19:4]) in bits 31:16, and bit (x2APIC ID[3:0]) set in bits 15:0.
 */
export function logicalX2apicId(x2apicId: number): number {
  return ((((x2apicId >>> 4) & 0xffff) << 16) | (1 << (x2apicId & 0xf))) >>> 0;
}

/**
 * Whether `apic` accepts a message with this destination. `self` is the sending APIC, or a
 * boolean saying whether `apic` is the sender (false for I/O APIC and MSI messages). A hardware-disabled
 * APIC (IA32_APIC_BASE.EN = 0) accepts nothing. Shorthands ignore the destination field.
 * Physical mode compares with the APIC ID: 8 bits in xAPIC mode (FFH broadcasts), 32 bits in
 * x2APIC mode (FFFFFFFFH broadcasts). Logical mode in xAPIC: flat model (DFR 1111B) matches
 * when MDA AND LDR[31:24] is non-zero; cluster model (DFR 0000B) when MDA[7:4] equals
 * LDR[31:28] and MDA[3:0] AND LDR[27:24] is non-zero, with MDA FFH broadcasting (SDM Vol.3
 * 10.6.2.2). Logical mode in x2APIC: MDA[31:16] equals the cluster of the logical x2APIC ID
 * and MDA[15:0] AND its bit is non-zero, FFFFFFFFH broadcasting (SDM Vol.3 10.12.10.2).
 * A receiver in xAPIC mode also takes FFFFFFFFH as a broadcast (a message from an x2APIC
 * sender); other mixed-mode addressing is not modelled.
 */
export function matchesDestination(
  apic: LocalApic,
  destinationMode: DestinationMode,
  destination: number,
  shorthand: DestinationShorthand,
  self: LocalApic | boolean,
): boolean {
  if (!apic.hardwareEnabled) return false;
  const isSender = typeof self === "boolean" ? self : apic === self;
  switch (shorthand) {
    case "self":
      return isSender;
    case "all-including-self":
      return true;
    case "all-excluding-self":
      return !isSender;
    case "none":
      break;
  }
  const mda = destination >>> 0;
  if (apic.x2apicEnabled) {
    if (mda === X2APIC_BROADCAST) return true;
    if (destinationMode === "physical") return mda === apic.x2apicId;
    const ldr = logicalX2apicId(apic.x2apicId);
    return mda >>> 16 === ldr >>> 16 && (mda & ldr & 0xffff) !== 0;
  }
  if (mda === X2APIC_BROADCAST) return true;
  if (destinationMode === "physical") return mda === XAPIC_BROADCAST || mda === apic.xapicId;
  if (mda > 0xff) return false;
  const logicalId = apic.logicalDestination >>> 24;
  if ((apic.destinationFormat & DFR_BITS.MODEL) === DFR_BITS.FLAT) return (mda & logicalId) !== 0;
  if (mda === XAPIC_BROADCAST) return true;
  return mda >>> 4 === logicalId >>> 4 && (mda & logicalId & 0xf) !== 0;
}

/**
 * Delivers `ipi` from `from` to the APICs in `apics` it addresses, by calling each target's
 * acceptIpi. Lowest-priority delivery (SDM Vol.3 10.6.2.4) is simplified to: among the
 * matching APICs that are software-enabled, the first with the lowest TPR (no focus
 * processor, no APR tie-break). INIT level de-assert goes to every APIC (SDM Vol.3 10.6.1),
 * where it is a no-op. A Vm can implement ApicBus.sendIpi with this function.
 */
export function routeIpi(apics: readonly LocalApic[], from: LocalApic, ipi: Ipi): void {
  if (ipi.deliveryMode === "init-deassert") {
    for (const apic of apics) apic.acceptIpi(ipi);
    return;
  }
  const targets = apics.filter((apic) =>
    matchesDestination(apic, ipi.destinationMode, ipi.destination, ipi.shorthand, from),
  );
  if (ipi.deliveryMode === "lowest-priority") {
    let chosen: LocalApic | undefined;
    for (const apic of targets) {
      if (!apic.softwareEnabled) continue;
      if (chosen === undefined || apic.tpr < chosen.tpr) chosen = apic;
    }
    chosen?.acceptIpi(ipi);
    return;
  }
  for (const apic of targets) apic.acceptIpi(ipi);
}
