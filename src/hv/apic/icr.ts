/**
 * Decoding the Interrupt Command Register into an Ipi message (SDM Vol.3 10.6.1, Figure
 * 10-12 for xAPIC; 10.12.9, Figure 10-28 for the 64-bit x2APIC ICR).
 */
import { DELIVERY_MODE_CODE, ICR_BITS } from "./registers.js";
import type { DeliveryMode, DestinationShorthand, Ipi } from "./ipi.js";

const SHORTHANDS: readonly DestinationShorthand[] = [
  "none",
  "self",
  "all-including-self",
  "all-excluding-self",
];

/**
 * The message an ICR write sends, or undefined for the reserved delivery modes 011B and
 * 111B (the ICR cannot send ExtINT), which pinvm drops. `destination` is ICR[63:56] in
 * xAPIC mode and ICR[63:32] in x2APIC mode. Delivery mode 101B with level 0 and trigger 1
 * is "INIT level de-assert" (SDM Vol.3 10.6.1).
 */
export function decodeIcr(low: number, high: number, x2apic: boolean): Ipi | undefined {
  const code = (low & ICR_BITS.DELIVERY_MODE) >>> ICR_BITS.DELIVERY_MODE_SHIFT;
  const level = (low & ICR_BITS.LEVEL_ASSERT) !== 0;
  const trigger = (low & ICR_BITS.TRIGGER_LEVEL) !== 0 ? "level" : "edge";
  let deliveryMode: DeliveryMode;
  switch (code) {
    case DELIVERY_MODE_CODE.FIXED:
      deliveryMode = "fixed";
      break;
    case DELIVERY_MODE_CODE.LOWEST_PRIORITY:
      deliveryMode = "lowest-priority";
      break;
    case DELIVERY_MODE_CODE.SMI:
      deliveryMode = "smi";
      break;
    case DELIVERY_MODE_CODE.NMI:
      deliveryMode = "nmi";
      break;
    case DELIVERY_MODE_CODE.INIT:
      deliveryMode = !level && trigger === "level" ? "init-deassert" : "init";
      break;
    case DELIVERY_MODE_CODE.STARTUP:
      deliveryMode = "sipi";
      break;
    default:
      return undefined;
  }
  return {
    vector: low & ICR_BITS.VECTOR,
    deliveryMode,
    destinationMode: (low & ICR_BITS.DESTINATION_LOGICAL) !== 0 ? "logical" : "physical",
    level,
    trigger,
    shorthand: SHORTHANDS[(low & ICR_BITS.SHORTHAND) >>> ICR_BITS.SHORTHAND_SHIFT],
    destination: x2apic ? high >>> 0 : high >>> 24,
  };
}

/** True for the delivery modes whose vector must be 16..255 (fixed, lowest priority). */
export function carriesInterruptVector(mode: DeliveryMode): boolean {
  return mode === "fixed" || mode === "lowest-priority";
}
