/**
 * Saved-state formats of the CR-pinning module and their validators. Each loader validates
 * the whole object before the caller changes anything (atomic load), and reports the first
 * problem as HvError("bad-state") naming the field.
 */
import { HvError } from "../errors.js";
import type { AllowedMasks, PinState } from "./msr-rules.js";
import type { HekiPins } from "./heki.js";
import type { InitPolicy, PinProfile, RsmPolicy } from "./profiles.js";

/** Saved per-vCPU pins (KVM: the pin MSRs, which "userspace is responsible for migrating"). */
export interface VcpuPinningState {
  /** Format tag. */
  format: "pinvm.cr-pinning.vcpu";
  /** Format version. */
  version: 1;
  /** Profile of the VM that saved it. */
  profile: PinProfile;
  /** vCPU id. */
  vcpu: number;
  /** CR0 pins. */
  cr0: { high: number; low: number };
  /** CR4 pins. */
  cr4: { high: number; low: number };
}

/** Saved per-VM state: creation-time configuration (checked, not restored), Heki pins, log. */
export interface VmPinningState {
  /** Format tag. */
  format: "pinvm.cr-pinning.vm";
  /** Format version. */
  version: 1;
  /** Profile. */
  profile: PinProfile;
  /** Allowed CR0 mask. */
  allowedCr0: number;
  /** Allowed CR4 mask. */
  allowedCr4: number;
  /** INIT policy. */
  pinsOnInit: InitPolicy;
  /** RSM policy. */
  rsm: RsmPolicy;
  /** Heki per-VM pins (zero for other profiles). */
  heki: HekiPins;
  /** The audit log (AuditLogState; validated by AuditLog.load). */
  log: unknown;
}

function bad(what: string, message: string): never {
  throw new HvError("bad-state", `${what}: ${message}`);
}

function isU32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

function object(what: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad(what, "expected an object");
  return value as Record<string, unknown>;
}

function header(what: string, s: Record<string, unknown>, format: string, profile: PinProfile): void {
  if (s.format !== format) bad(what, `format ${JSON.stringify(s.format)} is not "${format}"`);
  if (s.version !== 1) bad(what, `unsupported version ${String(s.version)} (expected 1)`);
  if (s.profile !== profile) bad(what, `saved with profile ${String(s.profile)}, this VM uses ${profile}`);
}

/** Validates a saved vCPU state for vCPU `vcpu` of a VM with `profile` and `allowed`. */
export function parseVcpuState(
  state: unknown,
  profile: PinProfile,
  vcpu: number,
  allowed: AllowedMasks,
): PinState {
  const what = `vcpu ${vcpu} pinning state`;
  const s = object(what, state);
  header(what, s, "pinvm.cr-pinning.vcpu", profile);
  if (s.vcpu !== vcpu) bad(what, `saved from vcpu ${String(s.vcpu)}`);
  const out: PinState = { cr0: { high: 0, low: 0 }, cr4: { high: 0, low: 0 } };
  for (const cr of ["cr0", "cr4"] as const) {
    const pair = object(`${what}.${cr}`, s[cr]);
    for (const half of ["high", "low"] as const) {
      const value = pair[half];
      if (!isU32(value)) bad(`${what}.${cr}.${half}`, "expected a u32 number");
      if (value & ~allowed[cr]) bad(`${what}.${cr}.${half}`, `pins bits outside the allowed mask`);
      out[cr][half] = value;
    }
    if (out[cr].high & out[cr].low) bad(`${what}.${cr}`, "a bit is pinned both high and low");
    if (profile !== "jun2020" && out[cr].low !== 0) bad(`${what}.${cr}.low`, `${profile} cannot pin to 0`);
    if (profile === "heki2024" || profile === "off") {
      if (out[cr].high !== 0) bad(`${what}.${cr}.high`, `${profile} has no per-vCPU pins`);
    }
  }
  return out;
}

/** The creation-time configuration a saved VM state must match. */
export interface VmConfig {
  /** Profile. */
  profile: PinProfile;
  /** Allowed masks. */
  allowed: AllowedMasks;
  /** INIT policy. */
  pinsOnInit: InitPolicy;
  /** RSM policy. */
  rsm: RsmPolicy;
}

/** Validates a saved VM state against this VM's configuration; returns the Heki pins and log. */
export function parseVmState(state: unknown, config: VmConfig): { heki: HekiPins; log: unknown } {
  const what = "vm pinning state";
  const s = object(what, state);
  header(what, s, "pinvm.cr-pinning.vm", config.profile);
  const same: [string, unknown, unknown][] = [
    ["allowedCr0", s.allowedCr0, config.allowed.cr0],
    ["allowedCr4", s.allowedCr4, config.allowed.cr4],
    ["pinsOnInit", s.pinsOnInit, config.pinsOnInit],
    ["rsm", s.rsm, config.rsm],
  ];
  for (const [key, saved, mine] of same) {
    if (saved !== mine)
      bad(`${what}.${key}`, `saved ${String(saved)}, this VM was created with ${String(mine)}`);
  }
  const heki = object(`${what}.heki`, s.heki);
  const out: HekiPins = { cr0: 0, cr4: 0 };
  for (const cr of ["cr0", "cr4"] as const) {
    const value = heki[cr];
    if (!isU32(value)) bad(`${what}.heki.${cr}`, "expected a u32 number");
    if (value & ~config.allowed[cr]) bad(`${what}.heki.${cr}`, "pins bits outside the allowed mask");
    if (value !== 0 && config.profile !== "heki2024") bad(`${what}.heki.${cr}`, "only heki2024 has VM pins");
    out[cr] = value;
  }
  if (!("log" in s)) bad(`${what}.log`, "missing");
  return { heki: out, log: s.log };
}
