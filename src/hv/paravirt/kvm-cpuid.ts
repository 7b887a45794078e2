/**
 * The KVM paravirtual CPUID leaves (Linux Documentation/virt/kvm/x86/cpuid.rst):
 *  - 40000000H: EAX = the highest paravirtual leaf (40000001H here);
 *    EBX, ECX, EDX = the signature "KVMKVMKVM\0\0\0" as little-endian ASCII.
 *  - 40000001H: EAX = KVM_FEATURE_* bits, EDX = KVM_HINTS_* bits, EBX = ECX = 0.
 * The leaves exist for every profile (a guest may probe for KVM before looking for CR
 * pinning); only the profile's CR-pin bit is set in 40000001H.EAX (rfc2019: bit 14,
 * jun2020: bit 15; heki2024 has no CPUID bit, the guest probes with the version hypercall).
 * pinvm implements no other KVM feature (no kvmclock, async PF, PV EOI, ...), so every
 * other feature bit is 0, and no hint is set (KVM_HINTS_REALTIME, EDX bit 0, stays 0).
 * On hardware, CPUID.1:ECX bit 31 ("hypervisor present") tells the guest to look here; that
 * bit belongs to the vCPU's CPUID table, not to this module.
 */
import type { ProfileSpec } from "./profiles.js";

/** One CPUID leaf (subleaf 0) as four unsigned 32-bit registers. */
export interface CpuidLeaf {
  /** CPUID function (EAX input). */
  leaf: number;
  /** Output EAX. */
  eax: number;
  /** Output EBX. */
  ebx: number;
  /** Output ECX. */
  ecx: number;
  /** Output EDX. */
  edx: number;
}

/** KVM_CPUID_SIGNATURE leaf. */
export const KVM_CPUID_SIGNATURE = 0x40000000;
/** KVM_CPUID_FEATURES leaf. */
export const KVM_CPUID_FEATURES = 0x40000001;

/** Four ASCII bytes as a little-endian register value (the first byte is bits 7:0). */
function asciiRegister(text: string): number {
  let value = 0;
  for (let i = 0; i < 4; i++) value |= (i < text.length ? text.charCodeAt(i) : 0) << (8 * i);
  return value >>> 0;
}

/** The two leaves for a profile. */
export function kvmCpuidLeaves(spec: ProfileSpec): CpuidLeaf[] {
  const features = spec.cpuidFeatureBit === null ? 0 : (1 << spec.cpuidFeatureBit) >>> 0;
  return [
    {
      leaf: KVM_CPUID_SIGNATURE,
      eax: KVM_CPUID_FEATURES,
      ebx: asciiRegister("KVMK"),
      ecx: asciiRegister("VMKV"),
      edx: asciiRegister("M"),
    },
    { leaf: KVM_CPUID_FEATURES, eax: features, ebx: 0, ecx: 0, edx: 0 },
  ];
}
