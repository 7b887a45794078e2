/**
 * Per-vCPU CR-pinning: the pin MSRs, the check of guest CR0/CR4 writes, the RSM decision,
 * reset and the vCPU-level saved state. The API as a whole is described in cr-pinning.ts.
 */
import { HvError } from "../errors.js";
import type { Violation, ViolationAction } from "./audit-log.js";
import { checkContext, checkRip, register32 } from "./checks.js";
import type { ControlWriteContext, PinnedCr } from "./cr-pinning.js";
import { hekiViolates } from "./heki.js";
import { PinRuleError, readPinMsr, writePinMsr, type PinPair, type PinState } from "./msr-rules.js";
import { parseVcpuState, type VcpuPinningState } from "./saved-state.js";
import type { VmPinning } from "./vm-pinning.js";

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
  /**
   * Which bits of `cr` a write must change to need checking, given its current value
   * `current` (for the CPU's cr0/cr4WriteExitMask, VMX's guest/host mask): 0 when nothing is
   * pinned; the pinned bits when `current` satisfies the pins (a write that leaves them alone
   * cannot violate them, in every profile); -1 (check every write) when it does not, or in SMM.
   */
  writeExitMask(cr: PinnedCr, current: number, inSmm: boolean): number {
    const spec = this.vm.spec;
    if (spec.name === "off") return 0;
    if (inSmm) return -1;
    const high = spec.scope === "vm" ? this.vm.hekiPins()[cr] : this.state[cr].high;
    const low = spec.scope === "vm" ? 0 : this.state[cr].low;
    if ((high | low) === 0) return 0;
    if (((current ^ high) & high) !== 0 || ((~current ^ low) & low) !== 0) return -1;
    return high | low | 0;
  }

  /**
   * The hot-path test of a CR write: true when the write would violate the pins. No argument
   * checks, no allocation (a guest may write CR4 millions of times); the caller then calls
   * checkControlWrite, which validates, records and returns the Violation.
   */
  wouldViolate(cr: PinnedCr, oldValue: number, newValue: number, inSmm: boolean): boolean {
    const spec = this.vm.spec;
    if (spec.name === "off" || (spec.smmExempt && inSmm)) return false;
    if (spec.scope === "vm") return hekiViolates(this.vm.hekiPins()[cr], newValue >>> 0);
    const pair = this.state[cr];
    const high = pair.high;
    const low = pair.low;
    if ((high | low) === 0) return false;
    if (spec.name === "rfc2019") return ((oldValue ^ newValue) & high) !== 0;
    return ((newValue ^ high) & high) !== 0 || ((~newValue ^ low) & low) !== 0;
  }

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
