/**
 * The CR-pinning ABI profiles as data: one record per public version of the paravirtual
 * interface, with its CPUID bit, MSR numbers, default allowed masks and the per-version
 * choices (who may read what, what INIT and RSM do). Behaviour lives in cr-pinning.ts and
 * msr-rules.ts; this file only states the facts, each with its source (see
 * docs/cr-pinning.md and /work/shared/context/cr-pinning-spec.md for the full references).
 *
 * None of these ABIs is architectural: they are KVM paravirtual extensions (CPUID leaves
 * 0x4000000x and MSRs 4b564dxxH, "KVM" in ASCII), never merged upstream.
 */
import { CR0, CR4 } from "../../x86/cr.js";

/** Which ABI a VM speaks; chosen once, when the VM is created. */
export type PinProfile = "off" | "rfc2019" | "jun2020" | "heki2024";

/** Every profile name, for validation. */
export const PIN_PROFILES: readonly PinProfile[] = ["off", "rfc2019", "jun2020", "heki2024"];

/** What RSM does when the CR0/CR4 it restores from SMRAM violate the pins. */
export type RsmPolicy = "continue" | "rewrite" | "exit";

/** Every RSM policy name, for validation. */
export const RSM_POLICIES: readonly RsmPolicy[] = ["continue", "rewrite", "exit"];

/** What INIT does to the pins (power-up and RESET always clear them). */
export type InitPolicy = "keep" | "clear";

/** Which pinned state an MSR holds, or that it reports the allowed mask. */
export type PinMsrRole =
  | "cr0-allowed"
  | "cr4-allowed"
  | "cr0-pinned" // rfc2019: one pin-to-1 mask per register
  | "cr4-pinned"
  | "cr0-pinned-low" // jun2020: bits pinned to 0
  | "cr0-pinned-high" // jun2020: bits pinned to 1
  | "cr4-pinned-low"
  | "cr4-pinned-high";

/** Facts about one profile. */
export interface ProfileSpec {
  /** Profile name. */
  readonly name: PinProfile;
  /** Bit of CPUID 40000001H.EAX that advertises the feature (KVM_FEATURE_CR_PIN), or null. */
  readonly cpuidFeatureBit: number | null;
  /** The paravirtual MSRs of the profile: index -> role. Empty for off/heki2024. */
  readonly msrs: ReadonlyMap<number, PinMsrRole>;
  /** Default mask of CR0 bits that may be pinned (KVM_CR0_PIN_ALLOWED). */
  readonly defaultAllowedCr0: number;
  /** Default mask of CR4 bits that may be pinned (KVM_CR4_PIN_ALLOWED). */
  readonly defaultAllowedCr4: number;
  /** INIT behaviour of the version (kvm_vcpu_reset runs for INIT too). */
  readonly defaultPinsOnInit: InitPolicy;
  /** RSM behaviour of the version. */
  readonly defaultRsm: RsmPolicy;
  /** False if the guest may not RDMSR the pinned MSRs (#GP). */
  readonly guestReadsPinned: boolean;
  /** True if CR writes in SMM are exempt from the pins (`!is_smm(vcpu)` in the check). */
  readonly smmExempt: boolean;
  /** Where the pins live: per vCPU (MSR ABIs) or per VM (Heki, `struct kvm`). */
  readonly scope: "vcpu" | "vm";
}

/** Default allowed CR0 mask of every version: WP only. */
const CR0_DEFAULT = CR0.WP;
/** Default allowed CR4 mask of the public versions: SMEP | SMAP | UMIP. */
const CR4_DEFAULT = CR4.SMEP | CR4.SMAP | CR4.UMIP;

/**
 * The KVM paravirtual MSR base: "KV" in ASCII in bits 31:16 (4B56H), then 4DxxH.
 * MSR_KVM_* indices are 4b564d00H + n.
 */
const KVM_MSR_BASE = 0x4b564d00;

/** The four profiles. */
export const PROFILES: Readonly<Record<PinProfile, ProfileSpec>> = {
  off: {
    name: "off",
    cpuidFeatureBit: null,
    msrs: new Map(),
    defaultAllowedCr0: CR0_DEFAULT,
    defaultAllowedCr4: CR4_DEFAULT,
    defaultPinsOnInit: "keep",
    defaultRsm: "continue",
    guestReadsPinned: false,
    smmExempt: true,
    scope: "vcpu",
  },
  // RFC / RESEND RFC, 19-20 Dec 2019, "KVM: X86: Add CR pin MSRs"
  // (L:20191220192701.23415-2-john.s.andersen@intel.com): KVM_FEATURE_CR_PIN = 14,
  // MSR_KVM_CR0_PIN_ALLOWED 4b564d06H, CR4_PIN_ALLOWED 07H, CR0_PINNED 08H, CR4_PINNED 09H.
  // kvm_vcpu_reset untouched (pins survive INIT); no RSM handling.
  rfc2019: {
    name: "rfc2019",
    cpuidFeatureBit: 14,
    msrs: new Map<number, PinMsrRole>([
      [KVM_MSR_BASE + 0x06, "cr0-allowed"],
      [KVM_MSR_BASE + 0x07, "cr4-allowed"],
      [KVM_MSR_BASE + 0x08, "cr0-pinned"],
      [KVM_MSR_BASE + 0x09, "cr4-pinned"],
    ]),
    defaultAllowedCr0: CR0_DEFAULT,
    defaultAllowedCr4: CR4_DEFAULT,
    defaultPinsOnInit: "keep",
    defaultRsm: "continue",
    guestReadsPinned: false, // "The guest may never read pinned bits"
    smmExempt: true,
    scope: "vcpu",
  },
  // PATCH 2/4, 17 Jun 2020, "KVM: x86: Introduce paravirt feature CR0/CR4 pinning"
  // (L:20200617190757.27081-3-john.s.andersen@intel.com): renumbered after async-PF-int took
  // bit 14 and 4b564d06H/07H. kvm_vcpu_reset zeroes the pins (INIT included);
  // emulator_post_leave_smm fails -> X86EMUL_UNHANDLEABLE -> KVM_EXIT_INTERNAL_ERROR.
  jun2020: {
    name: "jun2020",
    cpuidFeatureBit: 15,
    msrs: new Map<number, PinMsrRole>([
      [KVM_MSR_BASE + 0x08, "cr0-allowed"],
      [KVM_MSR_BASE + 0x09, "cr4-allowed"],
      [KVM_MSR_BASE + 0x0a, "cr0-pinned-low"],
      [KVM_MSR_BASE + 0x0b, "cr0-pinned-high"],
      [KVM_MSR_BASE + 0x0c, "cr4-pinned-low"],
      [KVM_MSR_BASE + 0x0d, "cr4-pinned-high"],
    ]),
    defaultAllowedCr0: CR0_DEFAULT,
    defaultAllowedCr4: CR4_DEFAULT,
    defaultPinsOnInit: "clear",
    defaultRsm: "exit",
    guestReadsPinned: true, // kvm_get_msr_common has no host_initiated check
    smmExempt: true,
    scope: "vcpu",
  },
  // Heki RFC v3, 3 May 2024 (L:20240503131910.307630-3-mic@digikod.net and -4-): hypercall
  // KVM_HC_LOCK_CR_UPDATE = 13, pins in struct kvm (per VM), no CPUID bit (the guest probes
  // with the KVM_LOCK_CR_UPDATE_VERSION flag). heki_check_cr has no is_smm() test, and RSM
  // (smm.c since 1d0da94cdafe) calls kvm_set_cr0/4 directly, which Heki does not check.
  heki2024: {
    name: "heki2024",
    cpuidFeatureBit: null,
    msrs: new Map(),
    defaultAllowedCr0: CR0_DEFAULT,
    defaultAllowedCr4: CR4_DEFAULT,
    defaultPinsOnInit: "keep",
    defaultRsm: "continue",
    guestReadsPinned: false,
    smmExempt: false,
    scope: "vm",
  },
};

/** KVM hypercall numbers and return codes (include/uapi/linux/kvm_para.h). */
export const KVM_HC = {
  /** KVM_HC_VAPIC_POLL_IRQ: returns 0; the exit itself lets the host check interrupts. */
  VAPIC_POLL_IRQ: 1,
  /** KVM_HC_LOCK_CR_UPDATE in Heki RFC v2/v3 (14 in RFC v1). */
  LOCK_CR_UPDATE: 13,
} as const;

/** KVM hypercall error numbers; the hypercall returns their negation in RAX. */
export const KVM_ERRNO = {
  /** KVM_EPERM = EPERM: hypercall from CPL > 0. */
  EPERM: 1,
  /** KVM_EINVAL = EINVAL. */
  EINVAL: 22,
  /** KVM_ENOSYS: unknown hypercall number. */
  ENOSYS: 1000,
} as const;

/** KVM_LOCK_CR_UPDATE_VERSION flag (a2 bit 0): ask for the ABI version instead of pinning. */
export const KVM_LOCK_CR_UPDATE_VERSION = 1 << 0;

/** The Heki ABI version this implementation reports (HEKI_ABI_VERSION in RFC v3). */
export const HEKI_ABI_VERSION = 1;
