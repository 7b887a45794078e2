/*
 * cpu32.c - CPUID feature bits and fault-catching MOV to CR0/CR4 for 32-bit guests
 * (guests/lib32), on top of expect_fault32.
 */
#include "guest32.h"

void cpuid_count(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
}

/* Bit `bit` of register `reg` (0 EAX .. 3 EDX) of CPUID.7.0, 0 when leaf 7 is absent. */
static int leaf7_bit(int reg, int bit) {
    uint32_t r[4];
    cpuid_count(0, 0, r);
    if (r[0] < 7) return 0;
    cpuid_count(7, 0, r);
    return (int)((r[reg] >> bit) & 1);
}

int cpu_has_smep(void) { return leaf7_bit(1, 7); }
int cpu_has_smap(void) { return leaf7_bit(1, 20); }
int cpu_has_umip(void) { return leaf7_bit(2, 2); }

int cpu_has_pcid(void) {
    uint32_t r[4];
    cpuid_count(1, 0, r);
    return (int)((r[2] >> 17) & 1);
}

static uint32_t mov_cr0(uint32_t v) {
    load_cr0(v);
    return 0;
}

static uint32_t mov_cr4(uint32_t v) {
    load_cr4(v);
    return 0;
}

/* Runs fn(value) under expect_fault32; the vector (0 when none) and the error code. */
static int load_safe(guest32_fn fn, uint32_t value, uint32_t *error_code) {
    struct fault_info32 info;
    int trapped = expect_fault32(fn, value, &info);
    if (error_code) *error_code = trapped ? info.error_code : 0;
    return trapped ? (int)info.vector : 0;
}

int load_cr0_safe(uint32_t value, uint32_t *error_code) { return load_safe(mov_cr0, value, error_code); }
int load_cr4_safe(uint32_t value, uint32_t *error_code) { return load_safe(mov_cr4, value, error_code); }
