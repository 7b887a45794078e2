/**
 * The local APIC of pinvm's hypervisor layer (SDM Vol.3 chapter 10): LocalApic, IPI routing
 * and the register map. The Vm implements ApicBus (for example with routeIpi) and gives each
 * Vcpu one LocalApic.
 */
export {
  LocalApic,
  type LocalApicOptions,
  type ApicResetKind,
  type LocalInterruptSource,
} from "./local-apic.js";
export {
  matchesDestination,
  routeIpi,
  logicalX2apicId,
  X2APIC_BROADCAST,
  XAPIC_BROADCAST,
} from "./destination.js";
export type {
  ApicBus,
  Ipi,
  DeliveryMode,
  DestinationMode,
  DestinationShorthand,
  TriggerMode,
} from "./ipi.js";
export { decodeIcr } from "./icr.js";
export { apicModeOf, isLegalApicModeTransition, type ApicMode } from "./apic-base.js";
export { LOCAL_APIC_STATE_VERSION, type LocalApicState } from "./state.js";
export { APIC_OFFSET, X2APIC_MSR, IA32_TSC_DEADLINE, APIC_BASE, APIC_VERSION } from "./registers.js";
