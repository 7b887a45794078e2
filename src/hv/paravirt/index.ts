/**
 * Paravirtual interface of pinvm's hypervisor: CR pinning (three ABI profiles), the KVM
 * CPUID leaves and the KVM hypercall ABI. See cr-pinning.ts for the API and
 * docs/cr-pinning.md for the behaviour of each profile.
 */
export { VmPinning, VcpuPinning } from "./cr-pinning.js";
export type { PinningOptions, ControlWriteContext, HekiConfigureEvent, PinnedCr } from "./cr-pinning.js";
export { AuditLog, DEFAULT_AUDIT_CAPACITY } from "./audit-log.js";
export type { Violation, ViolationAction, AuditLogState } from "./audit-log.js";
export { PinRuleError } from "./msr-rules.js";
export type { PinRule, PinPair } from "./msr-rules.js";
export { handleHypercall } from "./hypercall.js";
export type { HypercallRegs, HypercallContext, HypercallResult, HypercallExit } from "./hypercall.js";
export { kvmCpuidLeaves, KVM_CPUID_SIGNATURE, KVM_CPUID_FEATURES } from "./kvm-cpuid.js";
export type { CpuidLeaf } from "./kvm-cpuid.js";
export {
  PROFILES,
  PIN_PROFILES,
  KVM_HC,
  KVM_ERRNO,
  KVM_LOCK_CR_UPDATE_VERSION,
  HEKI_ABI_VERSION,
} from "./profiles.js";
export type { PinProfile, RsmPolicy, InitPolicy, ProfileSpec } from "./profiles.js";
export type { VcpuPinningState, VmPinningState } from "./saved-state.js";
