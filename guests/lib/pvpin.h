/*
 * pvpin.h - the paravirtual control-register pinning ABIs, as a guest uses them.
 *
 * The three profiles of /work/shared/context/cr-pinning-spec.md:
 *   rfc2019  CPUID 0x40000001.EAX bit 14; MSRs 0x4b564d06 CR0_PIN_ALLOWED, 07 CR4_PIN_ALLOWED,
 *            08 CR0_PINNED, 09 CR4_PINNED.
 *   jun2020  CPUID 0x40000001.EAX bit 15; ALLOWED 0x4b564d08/09, CR0 PINNED_LOW/HIGH
 *            0x4b564d0a/0b, CR4 PINNED_LOW/HIGH 0x4b564d0c/0d.
 *   heki2024 no CPUID bit: hypercall KVM_HC_LOCK_CR_UPDATE (13) by VMCALL; absent when VMCALL
 *            faults or returns -KVM_ENOSYS.
 * The CR0/CR4 bit names (SDM Vol.3 2.5) come from guest.h. Definitions only: including this
 * header adds no code.
 */
#ifndef PINVM_PVPIN_H
#define PINVM_PVPIN_H

#include "guest.h"

/* CPUID leaf of the KVM feature bits, and the bits that announce a pinning profile. */
#define CPUID_KVM_FEATURES 0x40000001
#define KVM_FEATURE_CR_PIN_RFC2019 14
#define KVM_FEATURE_CR_PIN_JUN2020 15

/* rfc2019 MSRs: pin to 1 only. */
#define MSR_RFC2019_CR0_PIN_ALLOWED 0x4b564d06
#define MSR_RFC2019_CR4_PIN_ALLOWED 0x4b564d07
#define MSR_RFC2019_CR0_PINNED 0x4b564d08
#define MSR_RFC2019_CR4_PINNED 0x4b564d09

/* jun2020 MSRs: pin to 0 (LOW) or to 1 (HIGH). */
#define MSR_JUN2020_CR0_PIN_ALLOWED 0x4b564d08
#define MSR_JUN2020_CR4_PIN_ALLOWED 0x4b564d09
#define MSR_JUN2020_CR0_PINNED_LOW 0x4b564d0a
#define MSR_JUN2020_CR0_PINNED_HIGH 0x4b564d0b
#define MSR_JUN2020_CR4_PINNED_LOW 0x4b564d0c
#define MSR_JUN2020_CR4_PINNED_HIGH 0x4b564d0d

/* heki2024 hypercall: RBX = CR number, RCX = mask, RDX = flags (bit 0: return the ABI version). */
#define KVM_HC_LOCK_CR_UPDATE 13
#define KVM_LOCK_CR_UPDATE_VERSION (1UL << 0)
#define KVM_ENOSYS 1000

/* The ALLOWED masks every profile starts from (spec 1a, 1c, 5). */
#define DEFAULT_CR0_ALLOWED CR0_WP
#define DEFAULT_CR4_ALLOWED (CR4_SMEP | CR4_SMAP | CR4_UMIP)

/* The pinning profile a guest found offered. */
enum profile { PROFILE_NONE, PROFILE_RFC2019, PROFILE_JUN2020, PROFILE_HEKI2024 };

#endif
