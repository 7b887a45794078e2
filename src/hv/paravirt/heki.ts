/**
 * Heki RFC v3 (3 May 2024) CR pinning: the KVM_HC_LOCK_CR_UPDATE hypercall (13) and its
 * check, written from the public patches [PATCH v3 2/5] "KVM: x86: Add new hypercall to
 * lock control registers" (lore 20240503131910.307630-3-mic@digikod.net) and [PATCH v3 3/5]
 * "KVM: x86: Add notifications for Heki policy configuration and violation" (-4-).
 *
 * Argument rules (heki_lock_cr), every refusal returning -KVM_EINVAL:
 *  - a0 > U32_MAX (checked in kvm_emulate_hypercall before heki_lock_cr);
 *  - a2 (flags) != 0, unless a2 == KVM_LOCK_CR_UPDATE_VERSION with a0 == 0 and a1 == 0,
 *    which returns HEKI_ABI_VERSION (1) instead of pinning;
 *  - a1 (the mask) == 0;
 *  - a0 == 0 and a1 lacks CR0.WP, or a1 has bits the host's CR0 lacks;
 *  - a0 == 4 and a1 has bits outside cr4_pinned_mask;
 *  - a0 neither 0 nor 4.
 * Accepted masks are OR-ed into per-VM pins (atomic_long_or on struct kvm): pin-to-1 only,
 * no unpin, shared by every vCPU. The check (heki_check_cr) refuses any CR0/CR4 value
 * with `(value & pinned) != pinned`, regardless of the old value and of SMM.
 *
 * pinvm has no host CR0/CR4 to compare with: the VM's allowed masks stand in for both the
 * host-CR0 test and cr4_pinned_mask, and Heki's final `pin &= host CR4` is dropped.
 */
import { CR0 } from "../../x86/cr.js";
import type { AllowedMasks } from "./msr-rules.js";
import { HEKI_ABI_VERSION, KVM_ERRNO, KVM_LOCK_CR_UPDATE_VERSION } from "./profiles.js";

/** Per-VM Heki pins (bits pinned to 1). */
export interface HekiPins {
  /** CR0 bits pinned to 1. */
  cr0: number;
  /** CR4 bits pinned to 1. */
  cr4: number;
}

/** Outcome of KVM_HC_LOCK_CR_UPDATE. */
export interface HekiLockResult {
  /** Signed return value for RAX: 0, the ABI version, or -KVM_EINVAL. */
  ret: number;
  /** On a successful pin: which register and the mask that was OR-ed in. */
  pinned?: { cr: "cr0" | "cr4"; mask: number };
}

const U32_MAX = 0xffff_ffffn;
const EINVAL: HekiLockResult = { ret: -KVM_ERRNO.EINVAL };

/** Applies KVM_HC_LOCK_CR_UPDATE(a0 = CR number, a1 = mask, a2 = flags) to `pins`. */
export function hekiLockCrUpdate(
  pins: HekiPins,
  allowed: AllowedMasks,
  a0: bigint,
  a1: bigint,
  a2: bigint,
): HekiLockResult {
  if (a0 > U32_MAX) return EINVAL;
  if (a2 !== 0n) {
    if (a2 === BigInt(KVM_LOCK_CR_UPDATE_VERSION) && a0 === 0n && a1 === 0n) return { ret: HEKI_ABI_VERSION };
    return EINVAL;
  }
  if (a1 === 0n) return EINVAL;
  if (a0 === 0n) {
    if (!(a1 & BigInt(CR0.WP))) return EINVAL;
    if ((a1 & BigInt(allowed.cr0)) !== a1) return EINVAL;
    const mask = Number(a1);
    pins.cr0 = (pins.cr0 | mask) >>> 0;
    return { ret: 0, pinned: { cr: "cr0", mask } };
  }
  if (a0 === 4n) {
    if ((a1 & BigInt(allowed.cr4)) !== a1) return EINVAL;
    const mask = Number(a1);
    pins.cr4 = (pins.cr4 | mask) >>> 0;
    return { ret: 0, pinned: { cr: "cr4", mask } };
  }
  return EINVAL;
}

/** heki_check_cr: true if loading `value` would clear a bit pinned in `pinned`. */
export function hekiViolates(pinned: number, value: number): boolean {
  return (value & pinned) >>> 0 !== pinned;
}
