/*
 * cpu.c - CPUID feature and hypervisor-leaf queries (SDM Vol.2 CPUID), RDMSR/WRMSR and MOV to
 * CR0/CR4 that report a fault's vector instead of dying, and the KVM hypercall (VMCALL; the
 * KVM ABI: nr in RAX, arguments in RBX, RCX, RDX, RSI, result in RAX).
 */
#include "guest.h"

void cpuid_count(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
}

static uint32_t max_basic_leaf(void) {
    uint32_t r[4];
    cpuid_count(0, 0, r);
    return r[0];
}

/* CPUID.7.0 register `reg` bit `bit`, 0 when leaf 7 is absent. */
static int leaf7_bit(int reg, int bit) {
    if (max_basic_leaf() < 7) return 0;
    uint32_t r[4];
    cpuid_count(7, 0, r);
    return (r[reg] >> bit) & 1;
}

int cpu_has_smep(void) { return leaf7_bit(1, 7); }
int cpu_has_smap(void) { return leaf7_bit(1, 20); }
int cpu_has_umip(void) { return leaf7_bit(2, 2); }

int cpu_has_nx(void) {
    uint32_t r[4];
    cpuid_count(0x80000000u, 0, r);
    if (r[0] < 0x80000001u) return 0;
    cpuid_count(0x80000001u, 0, r);
    return (r[3] >> 20) & 1;
}

int cpu_has_hypervisor(void) {
    uint32_t r[4];
    cpuid_count(1, 0, r);
    return (r[2] >> 31) & 1;
}

uint32_t cpuid_hypervisor(char sig[13]) {
    sig[0] = 0;
    if (!cpu_has_hypervisor()) return 0;
    uint32_t r[4];
    cpuid_count(0x40000000u, 0, r);
    memcpy(sig, &r[1], 4); /* EBX, ECX, EDX */
    memcpy(sig + 4, &r[2], 4);
    memcpy(sig + 8, &r[3], 4);
    sig[12] = 0;
    return r[0];
}

int hypervisor_is_kvm(void) {
    char sig[13];
    cpuid_hypervisor(sig);
    return memcmp(sig, "KVMKVMKVM\0\0\0", 12) == 0;
}

uint32_t kvm_cpuid_features(void) {
    char sig[13];
    uint32_t max = cpuid_hypervisor(sig);
    if (memcmp(sig, "KVMKVMKVM\0\0\0", 12) != 0 || (max != 0 && max < 0x40000001u)) return 0;
    uint32_t r[4];
    cpuid_count(0x40000001u, 0, r);
    return r[0];
}

/* ---------------------------------------------------------------- fault-catching accesses */

struct msr_access {
    uint32_t msr;
    uint64_t value;
};

static uint64_t do_rdmsr(uint64_t arg) {
    struct msr_access *a = (struct msr_access *)arg;
    a->value = rdmsr(a->msr);
    return 0;
}

static uint64_t do_wrmsr(uint64_t arg) {
    const struct msr_access *a = (const struct msr_access *)arg;
    wrmsr(a->msr, a->value);
    return 0;
}

int rdmsr_safe(uint32_t msr, uint64_t *value) {
    struct msr_access a = {msr, 0};
    struct fault_info info;
    if (expect_fault(do_rdmsr, (uint64_t)&a, &info)) return (int)info.vector;
    *value = a.value;
    return 0;
}

int wrmsr_safe(uint32_t msr, uint64_t value) {
    struct msr_access a = {msr, value};
    struct fault_info info;
    return expect_fault(do_wrmsr, (uint64_t)&a, &info) ? (int)info.vector : 0;
}

static uint64_t do_load_cr0(uint64_t v) {
    load_cr0(v);
    return 0;
}

static uint64_t do_load_cr4(uint64_t v) {
    load_cr4(v);
    return 0;
}

int load_cr0_safe(uint64_t value) {
    struct fault_info info;
    return expect_fault(do_load_cr0, value, &info) ? (int)info.vector : 0;
}

int load_cr4_safe(uint64_t value) {
    struct fault_info info;
    return expect_fault(do_load_cr4, value, &info) ? (int)info.vector : 0;
}

struct hypercall {
    uint64_t nr, a0, a1, a2, a3, ret;
};

static uint64_t do_vmcall(uint64_t arg) {
    struct hypercall *h = (struct hypercall *)arg;
    uint64_t ret;
    __asm__ volatile("vmcall"
                     : "=a"(ret)
                     : "a"(h->nr), "b"(h->a0), "c"(h->a1), "d"(h->a2), "S"(h->a3)
                     : "memory");
    h->ret = ret;
    return 0;
}

int kvm_hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t *ret) {
    struct hypercall h = {nr, a0, a1, a2, a3, 0};
    struct fault_info info;
    if (expect_fault(do_vmcall, (uint64_t)&h, &info)) return (int)info.vector;
    *ret = h.ret;
    return 0;
}
