/*
 * bench_crpin.c - benchmark guest for CR pinning overhead (`npm run bench:crpin`, bench/crpin.ts).
 *
 * Pins CR0.WP and CR4.SMEP/SMAP/UMIP through whatever pinning ABI the hypervisor offers (CPUID
 * 0x40000001 bit 14 rfc2019 or 15 jun2020, or the KVM_HC_LOCK_CR_UPDATE hypercall of heki2024;
 * nothing when none is offered or the command line says `pin=0`), then times three loops of the
 * same shape, each between `BENCH START <loop>` and `BENCH END <loop>` lines:
 *   plain       a register move per iteration, no control-register write (pinning must not
 *               slow down code that never writes CR4);
 *   cr4-same    MOV CR4 with the value CR4 already holds (every write goes through the
 *               hypervisor's pin check, and nothing else changes: no TLB flush, SDM Vol.3
 *               4.10.4.1 lists the CR4 bits whose change flushes);
 *   cr4-toggle  MOV CR4 flipping OSXMMEXCPT, an unpinned bit that flushes nothing.
 * The loops run `rounds` times in turn (plain, cr4-same, cr4-toggle, plain, ...), so that warm-up
 * and machine noise fall on every loop alike.
 *
 * Command line: `iterations=N` (per loop and round; default 1000), `rounds=R` (default 1),
 * `pin=0`. With `iterations=` given, each loop also prints `bench-crpin <loop> round=<r>
 * iterations=<N> tsc=<cycles>` (RDTSC around the loop). Without it the output has no timing, so
 * that the differential harness can compare this guest's lines between pinvm and QEMU.
 */
#include "guest.h"
#include "pvpin.h"

/* ---------------------------------------------------------------- command line */

static const char *command_line(void) {
    const uint32_t *info = (const uint32_t *)(uint64_t)multiboot_info;
    if (!info || !(info[0] & (1u << 2)) || !info[4]) return "";
    return (const char *)(uint64_t)info[4];
}

/* The decimal value of `name=` on the command line, or fallback; *found says whether it was there. */
static uint64_t option_number(const char *name, uint64_t fallback, int *found) {
    const char *s = command_line();
    size_t n = strlen(name);
    *found = 0;
    for (; *s; s++) {
        if ((s == command_line() || s[-1] == ' ') && memcmp(s, name, n) == 0 && s[n] == '=') {
            uint64_t v = 0;
            for (s += n + 1; *s >= '0' && *s <= '9'; s++) v = v * 10 + (uint64_t)(*s - '0');
            *found = 1;
            return v;
        }
    }
    return fallback;
}

/* ---------------------------------------------------------------- pinning */

/* Pins what it can through the offered ABI; returns the profile's name. */
static const char *pin_everything(uint64_t cr4) {
    uint64_t mask = cr4 & (CR4_SMEP | CR4_SMAP | CR4_UMIP);
    uint32_t features = kvm_cpuid_features();
    if (features & (1u << KVM_FEATURE_CR_PIN_JUN2020)) {
        wrmsr_safe(MSR_JUN2020_CR0_PINNED_HIGH, CR0_WP);
        wrmsr_safe(MSR_JUN2020_CR4_PINNED_HIGH, mask);
        return "jun2020";
    }
    if (features & (1u << KVM_FEATURE_CR_PIN_RFC2019)) {
        wrmsr_safe(MSR_RFC2019_CR0_PINNED, CR0_WP);
        wrmsr_safe(MSR_RFC2019_CR4_PINNED, mask);
        return "rfc2019";
    }
    uint64_t ret = 0;
    if (kvm_hypercall(KVM_HC_LOCK_CR_UPDATE, 0, 0, KVM_LOCK_CR_UPDATE_VERSION, 0, &ret) == 0 && ret == 1) {
        kvm_hypercall(KVM_HC_LOCK_CR_UPDATE, 0, CR0_WP, 0, 0, &ret);
        kvm_hypercall(KVM_HC_LOCK_CR_UPDATE, 4, mask, 0, 0, &ret);
        return "heki2024";
    }
    return "none";
}

/* ---------------------------------------------------------------- the loops */

/* Each loop has the same shape: a counted loop around one instruction with a register operand. */
static void __attribute__((noinline)) loop_plain(uint64_t n, uint64_t value) {
    for (uint64_t i = 0; i < n; i++) __asm__ volatile("mov %0, %%rdx" ::"r"(value) : "rdx", "memory");
}

static void __attribute__((noinline)) loop_cr4_same(uint64_t n, uint64_t value) {
    for (uint64_t i = 0; i < n; i++) __asm__ volatile("mov %0, %%cr4" ::"r"(value) : "memory");
}

static void __attribute__((noinline)) loop_cr4_toggle(uint64_t n, uint64_t value) {
    for (uint64_t i = 0; i < n; i++) {
        value ^= CR4_OSXMMEXCPT;
        __asm__ volatile("mov %0, %%cr4" ::"r"(value) : "memory");
    }
}

struct bench_loop {
    const char *name;
    void (*run)(uint64_t n, uint64_t value);
};

static const struct bench_loop loops[] = {
    {"plain", loop_plain},
    {"cr4-same", loop_cr4_same},
    {"cr4-toggle", loop_cr4_toggle},
};

int test_main(void) {
    int timed, found;
    uint64_t iterations = option_number("iterations", 1000, &timed);
    uint64_t rounds = option_number("rounds", 1, &found);
    uint64_t pin = option_number("pin", 1, &found);

    /* SMEP/SMAP need supervisor-only kernel pages (SDM Vol.3 4.6.1). */
    paging_split_user();
    uint64_t cr4 = read_cr4();
    if (cpu_has_smep()) cr4 |= CR4_SMEP;
    if (cpu_has_smap()) cr4 |= CR4_SMAP;
    if (cpu_has_umip()) cr4 |= CR4_UMIP;
    load_cr4(cr4);
    const char *profile = pin ? pin_everything(cr4) : "none";

    serial_puts("bench-crpin profile=");
    serial_puts(profile);
    serial_puts(" cr4=");
    serial_print_hex(read_cr4());
    serial_puts(" iterations=");
    serial_print_dec(iterations);
    serial_puts(" rounds=");
    serial_print_dec(rounds);
    serial_putc('\n');

    for (uint64_t r = 0; r < rounds; r++) {
        for (unsigned l = 0; l < sizeof(loops) / sizeof(loops[0]); l++) {
            serial_puts("BENCH START ");
            serial_puts(loops[l].name);
            serial_putc('\n');
            uint64_t t0 = rdtsc64();
            loops[l].run(iterations, cr4);
            uint64_t t1 = rdtsc64();
            serial_puts("BENCH END ");
            serial_puts(loops[l].name);
            serial_putc('\n');
            load_cr4(cr4); /* cr4-toggle may end with OSXMMEXCPT flipped */
            if (timed) {
                serial_puts("bench-crpin ");
                serial_puts(loops[l].name);
                serial_puts(" round=");
                serial_print_dec(r);
                serial_puts(" iterations=");
                serial_print_dec(iterations);
                serial_puts(" tsc=");
                serial_print_dec(t1 - t0);
                serial_putc('\n');
            }
        }
    }
    check_eq("bench-crpin-cr4-intact", read_cr4(), cr4);
    return 0;
}
