/**
 * The RDMSR/WRMSR rules of the paravirtual CR-pin MSRs, per profile, as pure functions over
 * a vCPU's pin state. Each rule that can refuse an access has a name (PinRule) so that a
 * refused host-initiated access (KVM_SET_MSRS) can tell the VMM which rule it broke, while
 * a refused guest access becomes #GP(0) (SDM Vol.2 WRMSR/RDMSR: #GP(0) for an MSR access
 * the implementation rejects; KVM turns `return 1` from kvm_set_msr_common into #GP).
 */
import { HvError } from "../errors.js";
import type { PinMsrRole, PinProfile } from "./profiles.js";

/** Bits pinned to 1 (high) and to 0 (low) of one control register. */
export interface PinPair {
  /** Bits that must be 1. */
  high: number;
  /** Bits that must be 0 (always 0 in rfc2019 and heki2024). */
  low: number;
}

/** Pins of one vCPU. */
export interface PinState {
  /** CR0 pins. */
  cr0: PinPair;
  /** CR4 pins. */
  cr4: PinPair;
}

/** Allowed (pinnable) masks of a VM. */
export interface AllowedMasks {
  /** CR0 bits that may be pinned. */
  cr0: number;
  /** CR4 bits that may be pinned. */
  cr4: number;
}

/** Name of the rule that refused an MSR access. */
export type PinRule =
  /** rfc2019: the ALLOWED MSRs have no WRMSR case, so a write is an unhandled MSR. */
  | "allowed-msr-read-only"
  /** jun2020: an ALLOWED MSR accepts only a write of exactly its current value. */
  | "allowed-msr-value"
  /** The value has bits outside the allowed mask (including any of bits 63:32). */
  | "bits-not-allowed"
  /** jun2020: a bit is already pinned to the opposite value (PINNED_LOW & PINNED_HIGH). */
  | "pin-conflict"
  /** jun2020: a guest write must keep every bit already pinned (superset rule). */
  | "guest-cannot-unpin"
  /** rfc2019: the guest may not read the PINNED MSRs. */
  | "guest-cannot-read-pinned";

/** A host-initiated MSR access broke a pinning rule (KVM_SET_MSRS would fail). */
export class PinRuleError extends HvError {
  /** The rule that refused the access. */
  readonly rule: PinRule;
  /** The MSR index. */
  readonly msr: number;
  /** Creates the error for `rule` at MSR `msr`. */
  constructor(rule: PinRule, msr: number, detail: string) {
    super("bad-value", `MSR 0x${msr.toString(16)}: ${rule}: ${detail}`);
    this.name = "PinRuleError";
    this.rule = rule;
    this.msr = msr;
  }
}

/** Result of a rule check: success, or the rule that refused and why. */
export type RuleResult = { ok: true } | { ok: false; rule: PinRule; detail: string };

const OK: RuleResult = { ok: true };

function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/** The register an MSR role is about. */
export function roleRegister(role: PinMsrRole): "cr0" | "cr4" {
  return role.startsWith("cr0") ? "cr0" : "cr4";
}

/**
 * RDMSR of a pin MSR. Host reads always succeed. Guest reads of the PINNED MSRs are refused
 * in rfc2019 ("The guest may never read pinned bits"); jun2020 lets the guest read all six.
 */
export function readPinMsr(
  profile: PinProfile,
  role: PinMsrRole,
  pins: PinState,
  allowed: AllowedMasks,
  hostInitiated: boolean,
): bigint | RuleResult {
  const pair = pins[roleRegister(role)];
  switch (role) {
    case "cr0-allowed":
    case "cr4-allowed":
      return BigInt(allowed[roleRegister(role)]);
    case "cr0-pinned":
    case "cr4-pinned":
      if (!hostInitiated && profile === "rfc2019") {
        return {
          ok: false,
          rule: "guest-cannot-read-pinned",
          detail: "the guest may never read pinned bits",
        };
      }
      return BigInt(pair.high);
    case "cr0-pinned-high":
    case "cr4-pinned-high":
      return BigInt(pair.high);
    case "cr0-pinned-low":
    case "cr4-pinned-low":
      return BigInt(pair.low);
  }
}

/**
 * WRMSR of a pin MSR; on success updates `pins` in place. The rules, in the order KVM
 * applies them (kvm_set_msr_common of each version):
 *  - rfc2019 ALLOWED: no write case -> unhandled MSR -> refused.
 *  - rfc2019 PINNED: `data & ~allowed` -> refused; host write replaces, guest write ORs.
 *  - jun2020 ALLOWED: `data != allowed` -> refused; the exact value is a no-op success.
 *  - jun2020 PINNED_LOW/HIGH: `data & ~allowed` or `data & other` (pinned the other way)
 *    -> refused; a guest write with `~data & current` (drops a pin) -> refused; else set.
 */
export function writePinMsr(
  profile: PinProfile,
  role: PinMsrRole,
  pins: PinState,
  allowed: AllowedMasks,
  value: bigint,
  hostInitiated: boolean,
): RuleResult {
  const cr = roleRegister(role);
  const mask = BigInt(allowed[cr]);
  const pair = pins[cr];
  switch (role) {
    case "cr0-allowed":
    case "cr4-allowed":
      if (profile === "rfc2019") {
        return { ok: false, rule: "allowed-msr-read-only", detail: "the ALLOWED MSRs are read-only" };
      }
      if (value !== mask) {
        return {
          ok: false,
          rule: "allowed-msr-value",
          detail: `${hex(value)} is not the allowed mask ${hex(mask)}`,
        };
      }
      return OK;
    case "cr0-pinned":
    case "cr4-pinned":
      if (value & ~mask) {
        return { ok: false, rule: "bits-not-allowed", detail: `${hex(value)} has bits outside ${hex(mask)}` };
      }
      pair.high = hostInitiated ? Number(value) : (pair.high | Number(value)) >>> 0;
      return OK;
    case "cr0-pinned-low":
    case "cr4-pinned-low":
    case "cr0-pinned-high":
    case "cr4-pinned-high": {
      const isHigh = role.endsWith("high");
      const current = isHigh ? pair.high : pair.low;
      const other = isHigh ? pair.low : pair.high;
      if (value & ~mask) {
        return { ok: false, rule: "bits-not-allowed", detail: `${hex(value)} has bits outside ${hex(mask)}` };
      }
      const bits = Number(value);
      if (bits & other) {
        return {
          ok: false,
          rule: "pin-conflict",
          detail: `bits ${hex(bits & other)} are already pinned to ${isHigh ? 0 : 1}`,
        };
      }
      if (!hostInitiated && ~bits & current) {
        return {
          ok: false,
          rule: "guest-cannot-unpin",
          detail: `would unpin ${hex((~bits & current) >>> 0)}`,
        };
      }
      if (isHigh) pair.high = bits;
      else pair.low = bits;
      return OK;
    }
  }
}
