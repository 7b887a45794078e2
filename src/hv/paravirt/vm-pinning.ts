/**
 * Per-VM CR-pinning state: the profile and allowed masks chosen at VM creation, the Heki
 * per-VM pins, the audit log shared by all vCPUs, and the VM-level saved state. The API as a
 * whole is described in cr-pinning.ts.
 */
import { CR0_DEFINED } from "../../x86/cr.js";
import { HvError } from "../errors.js";
import { AuditLog, DEFAULT_AUDIT_CAPACITY } from "./audit-log.js";
import { checkRegisters, checkU32 } from "./checks.js";
import type { HekiConfigureEvent, PinnedCr, PinningOptions } from "./cr-pinning.js";
import { hekiLockCrUpdate, type HekiLockResult, type HekiPins } from "./heki.js";
import { kvmCpuidLeaves, type CpuidLeaf } from "./kvm-cpuid.js";
import type { AllowedMasks } from "./msr-rules.js";
import {
  PIN_PROFILES,
  PROFILES,
  RSM_POLICIES,
  type InitPolicy,
  type PinProfile,
  type ProfileSpec,
  type RsmPolicy,
} from "./profiles.js";
import { parseVmState, type VmPinningState } from "./saved-state.js";
import { VcpuPinning } from "./vcpu-pinning.js";

/** Per-VM pinning: profile, masks, Heki per-VM pins and the audit log. */
export class VmPinning {
  /** The profile's facts. */
  readonly spec: ProfileSpec;
  /** Allowed masks (defaults or the VMM's). */
  readonly allowed: Readonly<AllowedMasks>;
  /** INIT policy in force. */
  readonly pinsOnInit: InitPolicy;
  /** RSM policy in force. */
  readonly rsm: RsmPolicy;
  /** The audit log of violations, shared by all vCPUs. */
  readonly log: AuditLog;
  private readonly denial: Set<PinnedCr>;
  private readonly configure: Set<PinnedCr>;
  private readonly heki: HekiPins = { cr0: 0, cr4: 0 };
  private readonly vcpus = new Map<number, VcpuPinning>();

  /** Validates `options` (HvError on misuse) and creates the VM's pinning state. */
  constructor(options: PinningOptions) {
    if (typeof options !== "object" || options === null) {
      throw new HvError("bad-argument", "pinning options: expected an object");
    }
    const known = [
      "profile",
      "allowedCr0",
      "allowedCr4",
      "pinsOnInit",
      "rsm",
      "denialExit",
      "configureExit",
      "auditCapacity",
    ];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) {
        throw new HvError("bad-argument", `pinning options: unknown option '${key}'`);
      }
    }
    if (!PIN_PROFILES.includes(options.profile)) {
      throw new HvError("bad-argument", `pinning profile: expected one of ${PIN_PROFILES.join(", ")}`);
    }
    this.spec = PROFILES[options.profile];
    const cr0 = checkU32("allowedCr0", options.allowedCr0 ?? this.spec.defaultAllowedCr0);
    const cr4 = checkU32("allowedCr4", options.allowedCr4 ?? this.spec.defaultAllowedCr4);
    if (cr0 & ~CR0_DEFINED) {
      throw new HvError("bad-value", `allowedCr0: 0x${cr0.toString(16)} names CR0 bits that do not exist`);
    }
    this.allowed = Object.freeze({ cr0, cr4 });
    const init = options.pinsOnInit ?? this.spec.defaultPinsOnInit;
    if (init !== "keep" && init !== "clear") {
      throw new HvError("bad-argument", `pinsOnInit: expected "keep" or "clear"`);
    }
    if (this.spec.scope === "vm" && init === "clear") {
      throw new HvError("bad-argument", "pinsOnInit: heki2024 pins are per VM; INIT cannot clear them");
    }
    this.pinsOnInit = init;
    const rsm = options.rsm ?? this.spec.defaultRsm;
    if (!RSM_POLICIES.includes(rsm)) {
      throw new HvError("bad-argument", `rsm: expected one of ${RSM_POLICIES.join(", ")}`);
    }
    this.rsm = rsm;
    this.denial = checkRegisters("denialExit", options.denialExit);
    this.configure = checkRegisters("configureExit", options.configureExit);
    if (this.configure.size > 0 && this.spec.name !== "heki2024") {
      throw new HvError("bad-argument", "configureExit: only the heki2024 profile has a configure exit");
    }
    this.log = new AuditLog(options.auditCapacity ?? DEFAULT_AUDIT_CAPACITY);
  }

  /** The profile name. */
  get profile(): PinProfile {
    return this.spec.name;
  }

  /** Creates the pinning state of vCPU `vcpuId` (one per id). */
  createVcpuPinning(vcpuId: number): VcpuPinning {
    if (!Number.isInteger(vcpuId) || vcpuId < 0 || vcpuId > 0xffff_ffff) {
      throw new HvError("bad-vcpu", `vcpu id: expected a non-negative integer, got ${String(vcpuId)}`);
    }
    if (this.vcpus.has(vcpuId)) throw new HvError("bad-vcpu", `vcpu ${vcpuId} already has pinning state`);
    const vcpu = new VcpuPinning(this, vcpuId);
    this.vcpus.set(vcpuId, vcpu);
    return vcpu;
  }

  /** CPUID leaves 40000000H and 40000001H for this VM (see kvm-cpuid.ts). */
  kvmCpuidLeaves(): CpuidLeaf[] {
    return kvmCpuidLeaves(this.spec);
  }

  /** True if a violation of `cr` must also exit to the VMM. */
  denialExitFor(cr: PinnedCr): boolean {
    return this.denial.has(cr);
  }

  /** Heki per-VM pins (copy). */
  hekiPins(): HekiPins {
    return { ...this.heki };
  }

  /**
   * KVM_HC_LOCK_CR_UPDATE on this VM (heki2024 only; callers check the profile). Returns the
   * hypercall result and, when configureExit asks for it, the event for the VMM.
   */
  lockCrUpdate(a0: bigint, a1: bigint, a2: bigint): HekiLockResult & { event?: HekiConfigureEvent } {
    const result = hekiLockCrUpdate(this.heki, this.allowed, a0, a1, a2);
    if (result.pinned && this.configure.has(result.pinned.cr)) {
      return { ...result, event: { cr: result.pinned.cr, mask: result.pinned.mask } };
    }
    return result;
  }

  /**
   * Clears the Heki per-VM pins: a pinvm extension for a VMM-driven system reset. Heki RFC
   * v3 has no such path ("doesn't handle VM reboot"); whether to call it is the VMM's choice.
   */
  systemReset(): void {
    this.heki.cr0 = 0;
    this.heki.cr4 = 0;
  }

  /** Saved per-VM state: configuration (checked on load), Heki pins and the audit log. */
  save(): VmPinningState {
    return {
      format: "pinvm.cr-pinning.vm",
      version: 1,
      profile: this.profile,
      allowedCr0: this.allowed.cr0,
      allowedCr4: this.allowed.cr4,
      pinsOnInit: this.pinsOnInit,
      rsm: this.rsm,
      heki: { ...this.heki },
      log: this.log.save(),
    };
  }

  /** Restores save() output; validates all of it first (HvError "bad-state"), atomic. */
  load(state: unknown): void {
    const config = {
      profile: this.profile,
      allowed: this.allowed,
      pinsOnInit: this.pinsOnInit,
      rsm: this.rsm,
    };
    const parsed = parseVmState(state, config);
    this.log.load(parsed.log); // validates before changing anything
    this.heki.cr0 = parsed.heki.cr0;
    this.heki.cr4 = parsed.heki.cr4;
  }
}
