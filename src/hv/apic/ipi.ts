/**
 * The interrupt message that travels between local APICs, and the bus the VM provides to
 * carry it (SDM Vol.3 10.6 "Issuing Interprocessor Interrupts"). The same shape serves
 * messages from I/O APICs and MSIs, which is why `extint` is a delivery mode here even
 * though the ICR cannot send it.
 */
import type { LocalApic } from "./local-apic.js";

/** Delivery modes of an interrupt message (SDM Vol.3 10.6.1, ICR bits 10:8). */
export type DeliveryMode =
  "fixed" | "lowest-priority" | "smi" | "nmi" | "init" | "init-deassert" | "sipi" | "extint";

/** Destination mode (ICR bit 11). */
export type DestinationMode = "physical" | "logical";

/** Destination shorthand (ICR bits 19:18). */
export type DestinationShorthand = "none" | "self" | "all-including-self" | "all-excluding-self";

/** Trigger mode (ICR bit 15). */
export type TriggerMode = "edge" | "level";

/** One interrupt message (SDM Vol.3 10.6.1, Figure 10-12). */
export interface Ipi {
  /** Vector number (ICR bits 7:0); for SIPI the start page, for NMI/SMI/INIT ignored. */
  vector: number;
  /** Delivery mode. */
  deliveryMode: DeliveryMode;
  /** Destination mode; ignored when `shorthand` is not "none". */
  destinationMode: DestinationMode;
  /** Level (ICR bit 14): true = assert. Only INIT level de-assert uses false. */
  level: boolean;
  /** Trigger mode. */
  trigger: TriggerMode;
  /** Destination shorthand. */
  shorthand: DestinationShorthand;
  /**
   * Destination: the 8-bit xAPIC destination (ICR[63:56]) or the 32-bit x2APIC destination
   * (ICR[63:32]), as a non-negative number.
   */
  destination: number;
}

/**
 * Implemented by the VM: carries an IPI from the sending APIC to every APIC it addresses
 * (the sender included for "self" and "all-including-self"). `routeIpi` in destination.ts
 * does the routing over a list of APICs.
 */
export interface ApicBus {
  /** Delivers `ipi`, sent by `from`, to the APICs it addresses. */
  sendIpi(from: LocalApic, ipi: Ipi): void;
}
