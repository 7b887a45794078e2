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
import { CR0_DEFINED } from "../../x86/cr.js";
import { HvError } from "../errors.js";
import { AuditLog, DEFAULT_AUDIT_CAPACITY, type Violation, type ViolationAction } from "./audit-log.js";
import { hekiLockCrUpdate, hekiViolates, type HekiLockResult, type HekiPins } from "./heki.js";
import { kvmCpuidLeaves, type CpuidLeaf } from "./kvm-cpuid.js";
import {
  PinRuleError,
  readPinMsr,
  writePinMsr,
  type AllowedMasks,
  type PinPair,
  type PinState,
} from "./msr-rules.js";
import {
  PIN_PROFILES,
  PROFILES,
  RSM_POLICIES,
  type InitPolicy,
  type PinProfile,
  type ProfileSpec,
  type RsmPolicy,
} from "./profiles.js";
import { parseVcpuState, parseVmState, type VcpuPinningState, type VmPinningState } from "./saved-state.js";

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
  /** The writing path: "mov", "lmsw", "clts", ... */
  source: string;
}

/** What the VMM must do after KVM_HC_LOCK_CR_UPDATE when configureExit is set. */
export interface HekiConfigureEvent {
  /** Register pinned. */
  cr: PinnedCr;
  /** Mask OR-ed into the VM's pins. */
  mask: number;
}

function checkU32(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new HvError("bad-value", `${what}: expected an integer in 0..0xffffffff, got ${String(value)}`);
  }
  return value;
}

/**
 * A 32-bit register value as the CPU may hand it over: unsigned, or the same bits as a
 * signed int32 (the result of JavaScript bit operations). Returns the unsigned form.
 */
function register32(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < -0x8000_0000 || value > 0xffff_ffff) {
    throw new HvError("bad-value", `${what}: expected a 32-bit integer, got ${String(value)}`);
  }
  return value >>> 0;
}

function checkRegisters(what: string, list: unknown): Set<PinnedCr> {
  if (list === undefined) return new Set();
  if (!Array.isArray(list) || list.some((x) => x !== "cr0" && x !== "cr4")) {
    throw new HvError("bad-argument", `${what}: expected an array of "cr0" | "cr4"`);
  }
  return new Set(list as PinnedCr[]);
}

function checkRip(value: unknown): bigint {
  if (typeof value !== "bigint" || value < 0n || value >= 1n << 64n) {
    throw new HvError("bad-value", "pinning context rip: expected a bigint in 0..2^64-1");
  }
  return value;
}

function checkContext(ctx: ControlWriteContext): void {
  if (typeof ctx !== "object" || ctx === null)
    throw new HvError("bad-argument", "pinning context: expected an object");
  if (typeof ctx.inSmm !== "boolean")
    throw new HvError("bad-value", "pinning context inSmm: expected a boolean");
  checkRip(ctx.rip);
  if (typeof ctx.source !== "string")
    throw new HvError("bad-value", "pinning context source: expected a string");
}

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

/** Per-vCPU pinning: the pin MSRs and the checks. Create with VmPinning.createVcpuPinning. */
export class VcpuPinning {
  /** The VM this vCPU belongs to. */
  readonly vm: VmPinning;
  /** vCPU id. */
  readonly id: number;
  private state: PinState = { cr0: { high: 0, low: 0 }, cr4: { high: 0, low: 0 } };

  /** Use VmPinning.createVcpuPinning. */
  constructor(vm: VmPinning, id: number) {
    this.vm = vm;
    this.id = id;
  }

  /** True if MSR `index` is one of this profile's pin MSRs. */
  ownsMsr(index: number): boolean {
    return this.vm.spec.msrs.has(index);
  }

  /** The pin MSRs, ascending (KVM listed them in emulated_msrs_all / KVM_GET_MSR_INDEX_LIST). */
  msrIndexList(): number[] {
    return [...this.vm.spec.msrs.keys()].sort((a, b) => a - b);
  }

  private role(index: number) {
    const role = this.vm.spec.msrs.get(index);
    if (role === undefined) {
      const shown = typeof index === "number" ? `0x${index.toString(16)}` : String(index);
      throw new HvError("bad-msr", `MSR ${shown} is not a ${this.vm.profile} pin MSR`);
    }
    return role;
  }

  /** RDMSR (guest) or KVM_GET_MSRS (host). Guest refusals return "gp". */
  readMsr(index: number, hostInitiated: boolean): bigint | "gp" {
    const result = readPinMsr(this.vm.profile, this.role(index), this.state, this.vm.allowed, hostInitiated);
    return typeof result === "bigint" ? result : "gp";
  }

  /**
   * WRMSR (guest) or KVM_SET_MSRS (host). A refused guest write returns "gp" (inject #GP(0));
   * a refused host write throws PinRuleError naming the rule. Nothing changes on refusal.
   */
  writeMsr(index: number, value: bigint, hostInitiated: boolean): "ok" | "gp" {
    const role = this.role(index);
    if (typeof value !== "bigint" || value < 0n || value >= 1n << 64n) {
      throw new HvError("bad-value", `MSR 0x${index.toString(16)}: expected a bigint in 0..2^64-1`);
    }
    const result = writePinMsr(this.vm.profile, role, this.state, this.vm.allowed, value, hostInitiated);
    if (result.ok) return "ok";
    if (hostInitiated) throw new PinRuleError(result.rule, index, result.detail);
    return "gp";
  }

  /** The pins of `cr` in force now (per-VM pins for heki2024). */
  private pinsOf(cr: PinnedCr): PinPair {
    if (this.vm.spec.scope === "vm") return { high: this.vm.hekiPins()[cr], low: 0 };
    return { ...this.state[cr] };
  }

  /**
   * True if `value` breaks the pins `pair` as a state (not as a change): a bit pinned to 1 is
   * 0 or a bit pinned to 0 is 1. This is jun2020's check and Heki's `(v & pinned) != pinned`.
   */
  private static breaks(pair: PinPair, value: number): boolean {
    return ((value ^ pair.high) & pair.high) !== 0 || ((~value ^ pair.low) & pair.low) !== 0;
  }

  /**
   * Checks a guest write of CR0/CR4 (after the CPU's architectural checks). Returns null to
   * allow it, or the Violation, already appended to the audit log. Per profile:
   *  - rfc2019: `(new ^ old) & pinned` (a pinned bit may not change), not in SMM;
   *  - jun2020: `((new ^ high) & high) || ((~new ^ low) & low)`, not in SMM;
   *  - heki2024: `(new & pinned) != pinned` with the per-VM pins, also in SMM.
   */
  checkControlWrite(
    cr: PinnedCr,
    oldValue: number,
    newValue: number,
    ctx: ControlWriteContext,
  ): Violation | null {
    if (cr !== "cr0" && cr !== "cr4") throw new HvError("bad-register", `pinning: cannot pin ${String(cr)}`);
    oldValue = register32(`${cr} old value`, oldValue);
    newValue = register32(`${cr} new value`, newValue);
    checkContext(ctx);
    const spec = this.vm.spec;
    if (spec.name === "off") return null;
    if (spec.smmExempt && ctx.inSmm) return null;
    const pair = this.pinsOf(cr);
    const violates =
      spec.name === "rfc2019"
        ? ((oldValue ^ newValue) & pair.high) !== 0
        : spec.name === "heki2024"
          ? hekiViolates(pair.high, newValue)
          : VcpuPinning.breaks(pair, newValue);
    if (!violates) return null;
    const action: ViolationAction = this.vm.denialExitFor(cr) ? "exit" : "gp";
    return this.record(cr, oldValue, newValue, pair, ctx.rip, ctx.source, action);
  }

  private record(
    cr: PinnedCr,
    old: number,
    attempted: number,
    pair: PinPair,
    rip: bigint,
    source: string,
    action: ViolationAction,
  ): Violation {
    return this.vm.log.append({
      vcpu: this.id,
      rip,
      cr,
      old,
      attempted,
      pinnedHigh: pair.high >>> 0,
      pinnedLow: pair.low >>> 0,
      source,
      profile: this.vm.profile,
      action,
    });
  }

  /**
   * RSM is about to load `cr0`/`cr4` from SMRAM. If they break the pins (as a state: a bit
   * pinned to 1 is 0, or pinned to 0 is 1), the VM's RSM policy decides: "continue" (load
   * as is; rfc2019 v1 and Heki v3 never looked), "rewrite" (load the corrected values, as RFC
   * v2 rewrote SMRAM), "exit" (jun2020: KVM_EXIT_INTERNAL_ERROR). Each broken register is
   * logged with source "rsm". `ctx.oldCr0/oldCr4` are the SMM-time values, for the log.
   */
  onRsm(
    cr0: number,
    cr4: number,
    ctx: { rip?: bigint; oldCr0?: number; oldCr4?: number } = {},
  ): "continue" | { cr0: number; cr4: number } | "exit" {
    cr0 = register32("rsm cr0", cr0);
    cr4 = register32("rsm cr4", cr4);
    if (this.vm.profile === "off") return "continue";
    const policy = this.vm.rsm;
    const action: ViolationAction =
      policy === "continue" ? "allowed" : policy === "rewrite" ? "rewrite" : "internal-error";
    const values = { cr0, cr4 };
    const old = { cr0: ctx.oldCr0 ?? 0, cr4: ctx.oldCr4 ?? 0 };
    let broken = false;
    for (const cr of ["cr0", "cr4"] as const) {
      const pair = this.pinsOf(cr);
      if (!VcpuPinning.breaks(pair, values[cr])) continue;
      broken = true;
      const rip = checkRip(ctx.rip ?? 0n);
      this.record(cr, register32(`rsm old ${cr}`, old[cr]), values[cr], pair, rip, "rsm", action);
    }
    if (!broken || policy === "continue") return "continue";
    if (policy === "exit") return "exit";
    const fix = (cr: PinnedCr): number => {
      const pair = this.pinsOf(cr);
      return ((values[cr] | pair.high) & ~pair.low) >>> 0;
    };
    return { cr0: fix("cr0"), cr4: fix("cr4") };
  }

  /**
   * vCPU reset. "power-up" and "reset" (RESET#) clear the per-vCPU pins, as the VMM had to
   * do by writing 0 to the pin MSRs ("Host userspace must clear pinned bits on reboot").
   * "init" keeps them (SDM Vol.3 9.1: INIT leaves MSRs unchanged; rfc2019) or clears them
   * (kvm_vcpu_reset in RFC v2 / jun2020), per the VM's pinsOnInit. Heki per-VM pins are not
   * touched by any vCPU reset.
   */
  reset(kind: "power-up" | "reset" | "init"): void {
    if (kind !== "power-up" && kind !== "reset" && kind !== "init") {
      throw new HvError("bad-argument", `reset kind: expected "power-up", "reset" or "init"`);
    }
    if (kind === "init" && this.vm.pinsOnInit === "keep") return;
    this.state = { cr0: { high: 0, low: 0 }, cr4: { high: 0, low: 0 } };
  }

  /** Saved per-vCPU pins. */
  save(): VcpuPinningState {
    return {
      format: "pinvm.cr-pinning.vcpu",
      version: 1,
      profile: this.vm.profile,
      vcpu: this.id,
      cr0: { ...this.state.cr0 },
      cr4: { ...this.state.cr4 },
    };
  }

  /** Restores save() output; validates all of it first (HvError "bad-state"), atomic. */
  load(state: unknown): void {
    this.state = parseVcpuState(state, this.vm.profile, this.id, this.vm.allowed);
  }

  /** Pins in force, for display (per-VM pins for heki2024). */
  pins(): { cr0: PinPair; cr4: PinPair } {
    return { cr0: this.pinsOf("cr0"), cr4: this.pinsOf("cr4") };
  }
}
