/**
 * Paravirtualized control-register pinning: the policy and its enforcement, per VM and per
 * vCPU, for the three public ABIs (see profiles.ts and docs/cr-pinning.md). The hypervisor
 * wires it into the vCPU hooks; nothing here touches the CPU.
 *
 * API (what src/hv/vcpu.ts and vm.ts call):
 *
 *   const vm = new VmPinning({ profile: "jun2020", allowedCr4: ..., pinsOnInit: "keep",
 *                              rsm: "rewrite", denialExit: ["cr4"] });
 *   vm.kvmCpuidLeaves()        -> CPUID 40000000H/40000001H to merge into the vCPU's CPUID
 *   vm.log                     -> the AuditLog (entries(), total, dropped, save/load)
 *   vm.save() / vm.load(s)     -> Heki per-VM pins + audit log, versioned and validated
 *   const p = vm.createVcpuPinning(vcpuId)
 *
 *   p.ownsMsr(i), p.msrIndexList()           -> which MSRs the rdmsr/wrmsr hooks route here
 *   p.readMsr(i, hostInitiated)              -> bigint | "gp"   (guest "gp" = inject #GP(0))
 *   p.writeMsr(i, value, hostInitiated)      -> "ok" | "gp"; a refused host write throws
 *                                               PinRuleError naming the rule (KVM_SET_MSRS)
 *   p.checkControlWrite(cr, old, new, { inSmm, rip, source })
 *                                            -> null (allow) | Violation (already logged):
 *                                               action "gp" = veto (the CPU raises #GP(0)),
 *                                               action "exit" = veto and return a violation
 *                                               exit from run(), inject #GP(0) on resume
 *   p.onRsm(cr0, cr4, { rip })               -> "continue" | { cr0, cr4 } (load these) |
 *                                               "exit" (internal-error exit, vCPU stops)
 *   p.reset("power-up" | "reset" | "init")   -> power-up/RESET clear, INIT per pinsOnInit
 *   p.save() / p.load(s), p.pins()
 *
 * Host-side register writes (setSregs) do not go through checkControlWrite: KVM_SET_SREGS
 * calls the vendor set_cr0/set_cr4 callbacks, not kvm_set_cr0/4 where the pin check sits,
 * because the VMM owns the vCPU and must be able to restore migrated or reset state.
 * Hypercalls (Heki) are decoded in hypercall.ts.
 */
import type { InitPolicy, PinProfile, RsmPolicy } from "./profiles.js";

export { VmPinning } from "./vm-pinning.js";
export { VcpuPinning } from "./vcpu-pinning.js";
export type { PinProfile, RsmPolicy, InitPolicy } from "./profiles.js";
export type { Violation, ViolationAction } from "./audit-log.js";

/** A pinnable control register. */
export type PinnedCr = "cr0" | "cr4";

/** Options of a VM's pinning, fixed at VM creation. */
export interface PinningOptions {
  /** ABI profile, or "off". */
  profile: PinProfile;
  /** CR0 bits the guest may pin (default WP). Must be CR0 bits that exist. */
  allowedCr0?: number;
  /** CR4 bits the guest may pin (default SMEP|SMAP|UMIP); any of bits 31:0. */
  allowedCr4?: number;
  /** INIT keeps or clears the per-vCPU pins (default: the profile's version). */
  pinsOnInit?: InitPolicy;
  /** RSM restoring a CR0/CR4 that violates the pins (default: the profile's version). */
  rsm?: RsmPolicy;
  /** Registers whose violations also make run() return (KVM_CAP_HEKI_DENIAL-like). */
  denialExit?: readonly PinnedCr[];
  /** heki2024: registers whose successful KVM_HC_LOCK_CR_UPDATE exits (KVM_CAP_HEKI_CONFIGURE). */
  configureExit?: readonly PinnedCr[];
  /** Audit log capacity (default 4096). */
  auditCapacity?: number;
}

/** Context of a control-register write. */
export interface ControlWriteContext {
  /** True while the vCPU is in SMM. */
  inSmm: boolean;
  /** RIP of the writing instruction. */
  rip: bigint;
  /** The writing path: "mov", "lmsw", "clts" or "task-switch" (the CPU's ControlWriteSource). */
  source: string;
}

/** What the VMM must do after KVM_HC_LOCK_CR_UPDATE when configureExit is set. */
export interface HekiConfigureEvent {
  /** Register pinned. */
  cr: PinnedCr;
  /** Mask OR-ed into the VM's pins. */
  mask: number;
}
