/*
 * cr_pinning.c - conformance suite 2: paravirtual control-register pinning, as the guest sees it.
 *
 * Finds at run time which pinning ABI the hypervisor offers (the three profiles of
 * /work/shared/context/cr-pinning-spec.md) and checks that profile:
 *
 *   rfc2019  CPUID 0x40000001.EAX bit 14; MSRs 0x4b564d06 CR0_PIN_ALLOWED, 07 CR4_PIN_ALLOWED,
 *            08 CR0_PINNED, 09 CR4_PINNED. Pin to 1; guest writes are OR-ed in (sticky); the
 *            guest cannot read PINNED (#GP); writes to ALLOWED #GP.
 *   jun2020  CPUID 0x40000001.EAX bit 15; ALLOWED 0x4b564d08/09, CR0 PINNED_LOW/HIGH
 *            0x4b564d0a/0b, CR4 PINNED_LOW/HIGH 0x4b564d0c/0d. Pin to 0 or 1; a guest write must
 *            be a superset of the current pins; LOW and HIGH may not share a bit; guest may read.
 *   heki2024 no CPUID bit: hypercall KVM_HC_LOCK_CR_UPDATE (13) by VMCALL, RBX = CR number
 *            (0 or 4), RCX = mask, RDX = flags (bit 0: return the ABI version, 1). Pins per VM,
 *            pin to 1, no unpin. Absent when VMCALL faults or returns -KVM_ENOSYS (-1000).
 *
 * A MOV to CR0/CR4 that breaks a pin must raise #GP(0) and leave the register as it was (the
 * bits: SDM Vol.3 2.5; #GP: SDM Vol.2B MOV to/from control registers). Where no profile is
 * offered (QEMU TCG, bare metal) every pinning check prints a `skip` line.
 *
 * Sections, in order: discovery; ALLOWED masks; PINNED reads and writes; MOV CR4/CR0 violations;
 * unrelated CR4 bits; LMSW and CLTS (LMSW loads only PE/MP/EM/TS and CLTS clears only TS, so
 * neither can touch a pinned WP, and both must keep working); the Heki hypercall; the pins of an
 * application processor (per vCPU in rfc2019/jun2020, per VM in heki2024); the pins an AP keeps
 * across INIT-SIPI; SMM entry and RSM; and a 0xCF9 reset, after which a second boot (told apart
 * by the CMOS boot count) must find the pins cleared.
 *
 * Command line (multiboot `-append`, words):
 *   init=keep|clear    what pinvm's --pins-on-init was (default: the profile's version, rfc2019
 *                      keep, jun2020 clear); the observed behaviour is printed either way
 *   rsm=continue|exit  what RSM does with a pin-violating CR4 image, for smm-violate (default: the
 *                      profile's version, rfc2019 and heki2024 continue, jun2020 exit)
 *   allowed-cr4=<hex>  the CR4 ALLOWED mask to expect (default SMEP|SMAP|UMIP; --allowed-cr4)
 *   no-reset           do not reboot (the reset checks are skipped)
 *   smm-violate        run only the RSM check whose SMM handler clears a pinned bit in the saved
 *                      CR4 image: with `continue` the guest resumes with the image as it is; with
 *                      `exit` (jun2020) the VM must stop (internal error) and the guest prints
 *                      nothing more after `smm-violate: SMI ...`
 * Ends with `SUMMARY pass=N fail=M skip=K` (counted over both boots) and `done`.
 */
#include "guest.h"
#include "pvpin.h"

/* ---------------------------------------------------------------- the pinning ABIs (pvpin.h) */

static const char *const profile_names[] = {"none", "rfc2019", "jun2020", "heki2024"};

/* The result a check gets when an access faulted where a value was wanted: 0xfa000000 | vector. */
#define FAULTED(vector) (0xfa000000UL | (uint64_t)(vector))
/* What a fault check wants: 0 (completed) or the vector. */
#define NO_FAULT 0

/* ---------------------------------------------------------------- command line */

static const char *command_line(void) {
    const uint32_t *info = (const uint32_t *)(uint64_t)multiboot_info;
    if (!info || !(info[0] & (1u << 2)) || !info[4]) return "";
    return (const char *)(uint64_t)info[4];
}

/* Finds `word` (alone or as `word=...`) among the command line's words; returns what follows
 * it in that word ("" or "=..."), or 0. */
static const char *option(const char *word) {
    const char *s = command_line();
    size_t n = strlen(word);
    while (*s) {
        while (*s == ' ') s++;
        const char *start = s;
        while (*s && *s != ' ') s++;
        if ((size_t)(s - start) >= n && memcmp(start, word, n) == 0 &&
            (start[n] == ' ' || start[n] == 0 || start[n] == '='))
            return start + n;
    }
    return 0;
}

static int option_is(const char *word, const char *value) {
    const char *v = option(word);
    size_t n = strlen(value);
    return v && v[0] == '=' && memcmp(v + 1, value, n) == 0 && (v[n + 1] == ' ' || v[n + 1] == 0);
}

static uint64_t parse_hex(const char *s) {
    uint64_t v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    for (;; s++) {
        int d = *s >= '0' && *s <= '9'   ? *s - '0'
                : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
                                         : -1;
        if (d < 0) return v;
        v = v * 16 + (uint64_t)d;
    }
}

/* ---------------------------------------------------------------- checks on faulting accesses */

/* Reads an MSR for a check: its value, or FAULTED(vector). */
static uint64_t msr_or_fault(uint32_t msr) {
    uint64_t v = 0;
    int f = rdmsr_safe(msr, &v);
    return f ? FAULTED(f) : v;
}

static void expect_msr(const char *name, uint32_t msr, uint64_t want) {
    check_eq(name, msr_or_fault(msr), want);
}

/* A guest RDMSR that must raise #GP. */
static void expect_rdmsr_gp(const char *name, uint32_t msr) {
    uint64_t v;
    check_eq(name, (uint64_t)rdmsr_safe(msr, &v), VEC_GP);
}

/* A guest WRMSR that must complete (want NO_FAULT) or raise #GP (want VEC_GP). */
static void expect_wrmsr(const char *name, uint32_t msr, uint64_t value, uint64_t want) {
    check_eq(name, (uint64_t)wrmsr_safe(msr, value), want);
}

/* A MOV CR4 that must fault: #GP and CR4 unchanged. */
static void expect_cr4_refused(const char *name, const char *name_unchanged, uint64_t value) {
    uint64_t before = read_cr4();
    check_eq(name, (uint64_t)load_cr4_safe(value), VEC_GP);
    check_eq(name_unchanged, read_cr4(), before);
}

static void expect_cr0_refused(const char *name, const char *name_unchanged, uint64_t value) {
    uint64_t before = read_cr0();
    check_eq(name, (uint64_t)load_cr0_safe(value), VEC_GP);
    check_eq(name_unchanged, read_cr0(), before);
}

/* A MOV CR4/CR0 that must complete and leave exactly `value`. */
static void expect_cr4_accepted(const char *name, uint64_t value) {
    int f = load_cr4_safe(value);
    check_eq(name, f ? FAULTED(f) : read_cr4(), value);
}

static void expect_cr0_accepted(const char *name, uint64_t value) {
    int f = load_cr0_safe(value);
    check_eq(name, f ? FAULTED(f) : read_cr0(), value);
}

static uint64_t __attribute__((noinline)) do_lmsw(uint64_t v) {
    uint16_t msw = (uint16_t)v;
    __asm__ volatile("lmsw %0" ::"r"(msw) : "memory");
    return 0;
}

static uint64_t __attribute__((noinline)) do_clts(uint64_t unused) {
    (void)unused;
    __asm__ volatile("clts" ::: "memory");
    return 0;
}

/* Runs fn(arg) at ring 0; 0 when it completed, else the vector. */
static int fault_of(guest_fn fn, uint64_t arg) {
    struct fault_info fi;
    return expect_fault(fn, arg, &fi) ? (int)fi.vector : 0;
}

/* ---------------------------------------------------------------- discovery */

static struct {
    int smep, smap, umip, pge;
} cpu;

static uint64_t expected_cr4_allowed = DEFAULT_CR4_ALLOWED;
/* The CR4 ALLOWED mask the profile reported (MSR profiles), for the AP checks. */
static uint64_t pinnable_cr4;

static int64_t heki(uint64_t cr, uint64_t mask, uint64_t flags, int *vector) {
    uint64_t ret = 0;
    *vector = kvm_hypercall(KVM_HC_LOCK_CR_UPDATE, cr, mask, flags, 0, &ret);
    return (int64_t)ret;
}

static enum profile discover_profile(void) {
    uint32_t r[4];
    cpu.smep = cpu_has_smep();
    cpu.smap = cpu_has_smap();
    cpu.umip = cpu_has_umip();
    cpuid_count(1, 0, r);
    cpu.pge = (r[3] >> 13) & 1;
    char sig[13] = {0};
    uint32_t max_leaf = cpuid_hypervisor(sig);
    uint32_t features = kvm_cpuid_features();
    serial_puts("cpuid hypervisor=");
    serial_print_dec((uint64_t)cpu_has_hypervisor());
    serial_puts(" signature=");
    for (int i = 0; i < 12; i++) serial_putc(sig[i] >= 0x20 && sig[i] < 0x7f ? sig[i] : '.');
    serial_puts(" max-leaf=");
    serial_print_hex(max_leaf);
    serial_puts(" kvm-features=");
    serial_print_hex(features);
    serial_puts(" smep=");
    serial_print_dec((uint64_t)cpu.smep);
    serial_puts(" smap=");
    serial_print_dec((uint64_t)cpu.smap);
    serial_puts(" umip=");
    serial_print_dec((uint64_t)cpu.umip);
    serial_putc('\n');

    enum profile p = PROFILE_NONE;
    if (features & (1u << KVM_FEATURE_CR_PIN_JUN2020))
        p = PROFILE_JUN2020;
    else if (features & (1u << KVM_FEATURE_CR_PIN_RFC2019))
        p = PROFILE_RFC2019;
    /* Heki has no CPUID bit: ask for the ABI version. Without VMX, VMCALL raises #UD; a KVM
     * without the call answers -KVM_ENOSYS. */
    int vector;
    int64_t version = heki(0, 0, KVM_LOCK_CR_UPDATE_VERSION, &vector);
    serial_puts("heki-probe ");
    if (vector) {
        serial_puts("fault vector=");
        serial_print_hex((uint64_t)vector);
    } else {
        serial_puts("ret=");
        if (version < 0) serial_putc('-');
        serial_print_dec((uint64_t)(version < 0 ? -version : version));
    }
    serial_putc('\n');
    if (p == PROFILE_NONE && !vector && version == 1) p = PROFILE_HEKI2024;
    serial_puts("profile ");
    serial_puts(profile_names[p]);
    serial_putc('\n');
    return p;
}

/*
 * Turns on the pinnable CR4 bits the CPU has. SMEP/SMAP need a kernel/user split first: the
 * runtime's identity map is user-accessible, and SMEP forbids supervisor fetches from user
 * pages (SDM Vol.3 4.6.1). Returns CR4.
 */
static uint64_t enable_protections(void) {
    paging_split_user();
    uint64_t cr4 = read_cr4();
    if (cpu.smep) cr4 |= CR4_SMEP;
    if (cpu.smap) cr4 |= CR4_SMAP;
    if (cpu.umip) cr4 |= CR4_UMIP;
    load_cr4(cr4);
    return read_cr4();
}

/* ---------------------------------------------------------------- checks shared by the profiles */

/* CR4 bits that have nothing to do with pinning still change: PGE and OSXMMEXCPT (SDM Vol.3 2.5). */
static void check_unrelated_cr4_bits(void) {
    uint64_t cr4 = read_cr4();
    if (cpu.pge) {
        expect_cr4_accepted("unrelated-cr4-set-pge", cr4 | CR4_PGE);
        expect_cr4_accepted("unrelated-cr4-clear-pge", cr4 & ~CR4_PGE);
    }
    expect_cr4_accepted("unrelated-cr4-set-osxmmexcpt", cr4 | CR4_OSXMMEXCPT);
    expect_cr4_accepted("unrelated-cr4-clear-osxmmexcpt", cr4 & ~CR4_OSXMMEXCPT);
    load_cr4(cr4);
}

/*
 * CR0 paths other than a MOV that clears WP, with WP pinned: MOV CR0 of an unpinned bit (TS),
 * CLTS (clears only TS; SDM Vol.2A CLTS), LMSW (loads only PE/MP/EM/TS and cannot clear PE; SDM
 * Vol.2A LMSW), so WP, bit 16, is out of its reach. All must complete and keep WP.
 */
static void check_cr0_other_paths(void) {
    uint64_t cr0 = read_cr0();
    expect_cr0_accepted("cr0-mov-set-ts-wp-pinned", cr0 | CR0_TS);
    check_eq("cr0-clts-wp-pinned", (uint64_t)fault_of(do_clts, 0), NO_FAULT);
    check_eq("cr0-clts-result", read_cr0(), cr0 & ~CR0_TS);
    check_eq("cr0-lmsw-set-mp-ts", (uint64_t)fault_of(do_lmsw, (cr0 & 0xffff) | CR0_TS | CR0_MP), NO_FAULT);
    check_eq("cr0-lmsw-set-result", read_cr0(), cr0 | CR0_TS | CR0_MP);
    check_eq("cr0-lmsw-pe-only", (uint64_t)fault_of(do_lmsw, CR0_PE), NO_FAULT);
    check_eq("cr0-lmsw-keeps-wp", read_cr0(), cr0 & ~(CR0_MP | CR0_EM | CR0_TS));
    load_cr0(cr0);
    check_eq("cr0-restored", read_cr0(), cr0);
}

/* ---------------------------------------------------------------- rfc2019 */

static void test_rfc2019(void) {
    expect_msr("rfc2019-cr0-allowed", MSR_RFC2019_CR0_PIN_ALLOWED, DEFAULT_CR0_ALLOWED);
    expect_msr("rfc2019-cr4-allowed", MSR_RFC2019_CR4_PIN_ALLOWED, expected_cr4_allowed);
    uint64_t cr4_allowed = msr_or_fault(MSR_RFC2019_CR4_PIN_ALLOWED);
    pinnable_cr4 = cr4_allowed;
    expect_wrmsr("rfc2019-write-cr0-allowed-gp", MSR_RFC2019_CR0_PIN_ALLOWED, CR0_WP, VEC_GP);
    expect_wrmsr("rfc2019-write-cr4-allowed-gp", MSR_RFC2019_CR4_PIN_ALLOWED, 0, VEC_GP);
    expect_rdmsr_gp("rfc2019-read-cr0-pinned-gp", MSR_RFC2019_CR0_PINNED);
    expect_rdmsr_gp("rfc2019-read-cr4-pinned-gp", MSR_RFC2019_CR4_PINNED);

    /* Bits outside ALLOWED: the whole write fails and pins nothing. */
    expect_wrmsr("rfc2019-pin-cr4-pge-gp", MSR_RFC2019_CR4_PINNED, CR4_PGE | CR4_SMEP, VEC_GP);
    expect_wrmsr("rfc2019-pin-cr0-pe-gp", MSR_RFC2019_CR0_PINNED, CR0_PE | CR0_WP, VEC_GP);
    uint64_t cr0 = read_cr0();
    expect_cr0_accepted("rfc2019-wp-free-after-refused-pin", cr0 & ~CR0_WP);
    load_cr0(cr0);

    uint64_t cr4 = enable_protections();
    if (!(cr4 & CR4_SMEP) || !(cr4_allowed & CR4_SMEP)) {
        report_skip("rfc2019-cr4-pins", "the CPU has no SMEP or SMEP is not pinnable");
    } else {
        expect_cr4_accepted("rfc2019-smep-free-after-refused-pin", cr4 & ~CR4_SMEP);
        load_cr4(cr4);
        expect_wrmsr("rfc2019-pin-cr4-smep", MSR_RFC2019_CR4_PINNED, CR4_SMEP, NO_FAULT);
        expect_cr4_refused("rfc2019-clear-smep-gp", "rfc2019-clear-smep-cr4-unchanged", cr4 & ~CR4_SMEP);
        /* A refused write changes nothing, not even an unrelated bit that came with it. */
        if (cpu.pge)
            expect_cr4_refused("rfc2019-clear-smep-set-pge-gp", "rfc2019-clear-smep-set-pge-unchanged",
                               (cr4 & ~CR4_SMEP) | CR4_PGE);
        if (cr4 & CR4_SMAP) {
            expect_cr4_accepted("rfc2019-clear-unpinned-smap", cr4 & ~CR4_SMAP);
            load_cr4(cr4);
        }
        check_unrelated_cr4_bits();
        /* Sticky: a guest write of 0 is OR-ed in and unpins nothing. */
        expect_wrmsr("rfc2019-write-cr4-pinned-zero", MSR_RFC2019_CR4_PINNED, 0, NO_FAULT);
        expect_cr4_refused("rfc2019-sticky-clear-smep-gp", "rfc2019-sticky-cr4-unchanged", cr4 & ~CR4_SMEP);
        if (cr4 & CR4_SMAP && cr4_allowed & CR4_SMAP) {
            expect_wrmsr("rfc2019-pin-cr4-smap-too", MSR_RFC2019_CR4_PINNED, CR4_SMAP, NO_FAULT);
            expect_cr4_refused("rfc2019-clear-smap-gp", "rfc2019-clear-smap-unchanged", cr4 & ~CR4_SMAP);
            expect_cr4_refused("rfc2019-smep-still-pinned-gp", "rfc2019-smep-still-pinned-unchanged",
                               cr4 & ~CR4_SMEP);
        }
    }

    expect_wrmsr("rfc2019-pin-cr0-wp", MSR_RFC2019_CR0_PINNED, CR0_WP, NO_FAULT);
    expect_cr0_refused("rfc2019-clear-wp-gp", "rfc2019-clear-wp-cr0-unchanged", read_cr0() & ~CR0_WP);
    check_cr0_other_paths();
    expect_rdmsr_gp("rfc2019-read-cr4-pinned-still-gp", MSR_RFC2019_CR4_PINNED);
}

/* ---------------------------------------------------------------- jun2020 */

static void test_jun2020(void) {
    expect_msr("jun2020-cr0-allowed", MSR_JUN2020_CR0_PIN_ALLOWED, DEFAULT_CR0_ALLOWED);
    expect_msr("jun2020-cr4-allowed", MSR_JUN2020_CR4_PIN_ALLOWED, expected_cr4_allowed);
    uint64_t cr4_allowed = msr_or_fault(MSR_JUN2020_CR4_PIN_ALLOWED);
    pinnable_cr4 = cr4_allowed;
    /* ALLOWED: writing the value it holds is a no-op, anything else fails. */
    expect_wrmsr("jun2020-write-cr0-allowed-same", MSR_JUN2020_CR0_PIN_ALLOWED, CR0_WP, NO_FAULT);
    expect_wrmsr("jun2020-write-cr0-allowed-other-gp", MSR_JUN2020_CR0_PIN_ALLOWED, CR0_WP | CR0_TS, VEC_GP);
    expect_wrmsr("jun2020-write-cr4-allowed-same", MSR_JUN2020_CR4_PIN_ALLOWED, cr4_allowed, NO_FAULT);
    expect_wrmsr("jun2020-write-cr4-allowed-other-gp", MSR_JUN2020_CR4_PIN_ALLOWED, 0, VEC_GP);
    expect_msr("jun2020-cr4-allowed-unchanged", MSR_JUN2020_CR4_PIN_ALLOWED, cr4_allowed);

    /* The guest may read the pins; nothing is pinned at power-up. */
    expect_msr("jun2020-cr0-low-initial", MSR_JUN2020_CR0_PINNED_LOW, 0);
    expect_msr("jun2020-cr0-high-initial", MSR_JUN2020_CR0_PINNED_HIGH, 0);
    expect_msr("jun2020-cr4-low-initial", MSR_JUN2020_CR4_PINNED_LOW, 0);
    expect_msr("jun2020-cr4-high-initial", MSR_JUN2020_CR4_PINNED_HIGH, 0);

    expect_wrmsr("jun2020-pin-cr4-high-pge-gp", MSR_JUN2020_CR4_PINNED_HIGH, CR4_PGE, VEC_GP);
    expect_wrmsr("jun2020-pin-cr4-low-pge-gp", MSR_JUN2020_CR4_PINNED_LOW, CR4_PGE, VEC_GP);
    expect_wrmsr("jun2020-pin-cr0-high-pe-gp", MSR_JUN2020_CR0_PINNED_HIGH, CR0_PE | CR0_WP, VEC_GP);
    expect_wrmsr("jun2020-pin-cr0-low-cd-gp", MSR_JUN2020_CR0_PINNED_LOW, CR0_CD, VEC_GP);
    expect_msr("jun2020-cr4-high-after-refused", MSR_JUN2020_CR4_PINNED_HIGH, 0);
    expect_msr("jun2020-cr0-high-after-refused", MSR_JUN2020_CR0_PINNED_HIGH, 0);

    uint64_t cr4 = enable_protections();
    if (!(cr4 & CR4_SMEP) || !(cr4_allowed & CR4_SMEP)) {
        report_skip("jun2020-cr4-pins", "the CPU has no SMEP or SMEP is not pinnable");
    } else {
        expect_wrmsr("jun2020-pin-cr4-high-smep", MSR_JUN2020_CR4_PINNED_HIGH, CR4_SMEP, NO_FAULT);
        expect_msr("jun2020-cr4-high-reads-smep", MSR_JUN2020_CR4_PINNED_HIGH, CR4_SMEP);
        expect_cr4_refused("jun2020-clear-smep-gp", "jun2020-clear-smep-cr4-unchanged", cr4 & ~CR4_SMEP);
        if (cpu.pge)
            expect_cr4_refused("jun2020-clear-smep-set-pge-gp", "jun2020-clear-smep-set-pge-unchanged",
                               (cr4 & ~CR4_SMEP) | CR4_PGE);
        if (cr4 & CR4_SMAP) {
            expect_cr4_accepted("jun2020-clear-unpinned-smap", cr4 & ~CR4_SMAP);
            load_cr4(cr4);
        }
        check_unrelated_cr4_bits();
        /* Superset rule: a guest write keeps every bit already pinned. */
        expect_wrmsr("jun2020-cr4-high-zero-gp", MSR_JUN2020_CR4_PINNED_HIGH, 0, VEC_GP);
        if (cr4 & CR4_SMAP && cr4_allowed & CR4_SMAP) {
            expect_wrmsr("jun2020-cr4-high-not-superset-gp", MSR_JUN2020_CR4_PINNED_HIGH, CR4_SMAP, VEC_GP);
            expect_msr("jun2020-cr4-high-still-smep", MSR_JUN2020_CR4_PINNED_HIGH, CR4_SMEP);
            expect_wrmsr("jun2020-cr4-high-superset", MSR_JUN2020_CR4_PINNED_HIGH, CR4_SMEP | CR4_SMAP,
                         NO_FAULT);
            expect_msr("jun2020-cr4-high-smep-smap", MSR_JUN2020_CR4_PINNED_HIGH, CR4_SMEP | CR4_SMAP);
            expect_cr4_refused("jun2020-clear-smap-gp", "jun2020-clear-smap-unchanged", cr4 & ~CR4_SMAP);
        }
        /* Pin to 0: UMIP held clear. */
        if (!cpu.umip || !(cr4_allowed & CR4_UMIP)) {
            report_skip("jun2020-cr4-low", "the CPU has no UMIP or UMIP is not pinnable");
        } else {
            load_cr4(read_cr4() & ~CR4_UMIP);
            expect_wrmsr("jun2020-pin-cr4-low-umip", MSR_JUN2020_CR4_PINNED_LOW, CR4_UMIP, NO_FAULT);
            expect_msr("jun2020-cr4-low-reads-umip", MSR_JUN2020_CR4_PINNED_LOW, CR4_UMIP);
            expect_cr4_refused("jun2020-set-umip-gp", "jun2020-set-umip-cr4-unchanged",
                               read_cr4() | CR4_UMIP);
            expect_wrmsr("jun2020-cr4-low-zero-gp", MSR_JUN2020_CR4_PINNED_LOW, 0, VEC_GP);
            /* LOW and HIGH may not name the same bit. */
            uint64_t high = msr_or_fault(MSR_JUN2020_CR4_PINNED_HIGH);
            expect_wrmsr("jun2020-cr4-high-conflict-gp", MSR_JUN2020_CR4_PINNED_HIGH, high | CR4_UMIP,
                         VEC_GP);
            expect_wrmsr("jun2020-cr4-low-conflict-gp", MSR_JUN2020_CR4_PINNED_LOW, CR4_UMIP | CR4_SMEP,
                         VEC_GP);
            expect_msr("jun2020-cr4-high-after-conflict", MSR_JUN2020_CR4_PINNED_HIGH, high);
            expect_msr("jun2020-cr4-low-after-conflict", MSR_JUN2020_CR4_PINNED_LOW, CR4_UMIP);
        }
    }

    expect_wrmsr("jun2020-pin-cr0-high-wp", MSR_JUN2020_CR0_PINNED_HIGH, CR0_WP, NO_FAULT);
    expect_msr("jun2020-cr0-high-reads-wp", MSR_JUN2020_CR0_PINNED_HIGH, CR0_WP);
    expect_wrmsr("jun2020-cr0-low-conflict-gp", MSR_JUN2020_CR0_PINNED_LOW, CR0_WP, VEC_GP);
    expect_wrmsr("jun2020-cr0-high-zero-gp", MSR_JUN2020_CR0_PINNED_HIGH, 0, VEC_GP);
    expect_cr0_refused("jun2020-clear-wp-gp", "jun2020-clear-wp-cr0-unchanged", read_cr0() & ~CR0_WP);
    check_cr0_other_paths();
}

/* ---------------------------------------------------------------- heki2024 */

static uint64_t heki_result(uint64_t cr, uint64_t mask) {
    int vector;
    int64_t ret = heki(cr, mask, 0, &vector);
    return vector ? FAULTED(vector) : (uint64_t)ret;
}

/* A refused lock returns a negative error and raises nothing. */
static void expect_heki_error(const char *name, uint64_t cr, uint64_t mask) {
    int vector;
    int64_t ret = heki(cr, mask, 0, &vector);
    report(name, !vector && ret < 0);
}

static void test_heki2024(void) {
    int vector;
    int64_t version = heki(0, 0, KVM_LOCK_CR_UPDATE_VERSION, &vector);
    check_eq("heki-version", vector ? FAULTED(vector) : (uint64_t)version, 1);
    uint64_t cr4 = enable_protections();
    expect_heki_error("heki-bad-cr-number-3", 3, CR4_SMEP);
    expect_heki_error("heki-bad-cr-number-8", 8, CR4_SMEP);
    expect_heki_error("heki-bad-cr4-mask-pge", 4, CR4_PGE);
    expect_heki_error("heki-cr0-mask-without-wp", 0, CR0_TS);
    expect_heki_error("heki-empty-mask", 4, 0);
    {
        int vector;
        int64_t ret = heki(4, CR4_SMEP, 2, &vector); /* an unknown flag */
        report("heki-unknown-flag", !vector && ret < 0);
    }
    /* The refused calls locked nothing. */
    uint64_t cr0 = read_cr0();
    expect_cr0_accepted("heki-wp-free-after-errors", cr0 & ~CR0_WP);
    load_cr0(cr0);
    if (!(cr4 & CR4_SMEP) || !(expected_cr4_allowed & CR4_SMEP)) {
        report_skip("heki-lock-cr4-smep", "the CPU has no SMEP, or allowed-cr4 leaves it out");
    } else {
        expect_cr4_accepted("heki-smep-free-after-errors", cr4 & ~CR4_SMEP);
        load_cr4(cr4);
        check_eq("heki-lock-cr4-smep", heki_result(4, CR4_SMEP), 0);
        expect_cr4_refused("heki-clear-smep-gp", "heki-clear-smep-cr4-unchanged", cr4 & ~CR4_SMEP);
        if (cpu.pge)
            expect_cr4_refused("heki-clear-smep-set-pge-gp", "heki-clear-smep-set-pge-unchanged",
                               (cr4 & ~CR4_SMEP) | CR4_PGE);
        if (cr4 & CR4_SMAP) {
            expect_cr4_accepted("heki-clear-unlocked-smap", cr4 & ~CR4_SMAP);
            load_cr4(cr4);
        }
        check_unrelated_cr4_bits();
    }
    check_eq("heki-lock-cr0-wp", heki_result(0, CR0_WP), 0);
    expect_cr0_refused("heki-clear-wp-gp", "heki-clear-wp-cr0-unchanged", read_cr0() & ~CR0_WP);
    check_cr0_other_paths();
}

/* ---------------------------------------------------------------- the application processor */

#define AP_APIC_ID 1
#define AP_SLOT 1

/* The AP's observations, written by the AP and printed by the BSP. */
static volatile struct {
    uint64_t cr4_at_entry;
    uint64_t low_before, low_after; /* jun2020 CR4 PINNED_LOW, as the AP reads it */
    int set_bit, clear_bit, pin, set_pinned, clear_pinned, clear_wp;
} ap;

/* Lets the heki AP wait, already started, until the BSP has locked its bits. */
static volatile int ap_go;

/*
 * Per vCPU (rfc2019/jun2020): the AP is not bound by the BSP's pins (it sets and clears SMEP,
 * which the BSP has pinned), and then pins a bit of its own, one its trampoline never sets, so
 * that the AP can still be restarted through INIT-SIPI whatever INIT does to the pins:
 *  - rfc2019 SMEP (to its current value 1): after INIT, CR4 = 0 and the trampoline leaves SMEP
 *    clear, which `(new ^ old) & pinned` allows;
 *  - jun2020 UMIP to 0 (PINNED_LOW): the trampoline never sets UMIP.
 */
static void ap_own_pins(uint32_t slot, uint64_t profile) {
    (void)slot;
    uint64_t cr4 = read_cr4();
    ap.cr4_at_entry = cr4;
    ap.set_bit = load_cr4_safe(cr4 | CR4_SMEP);
    ap.clear_bit = load_cr4_safe(cr4 & ~CR4_SMEP);
    if (profile == PROFILE_JUN2020) {
        ap.low_before = msr_or_fault(MSR_JUN2020_CR4_PINNED_LOW);
        ap.pin = wrmsr_safe(MSR_JUN2020_CR4_PINNED_LOW, CR4_UMIP);
        ap.low_after = msr_or_fault(MSR_JUN2020_CR4_PINNED_LOW);
        ap.set_pinned = load_cr4_safe(read_cr4() | CR4_UMIP);
    } else {
        load_cr4(cr4 | CR4_SMEP);
        ap.pin = wrmsr_safe(MSR_RFC2019_CR4_PINNED, CR4_SMEP);
        ap.clear_pinned = load_cr4_safe(cr4 & ~CR4_SMEP);
    }
}

/* Per VM (heki2024): the AP, started before the lock, is bound by it afterwards. */
static void ap_heki(uint32_t slot, uint64_t unused) {
    (void)slot;
    (void)unused;
    uint64_t cr4 = read_cr4();
    ap.cr4_at_entry = cr4;
    /* Nothing is locked yet, so this write cannot fault. */
    load_cr4(cr4 | CR4_SMEP);
    ap.set_bit = (read_cr4() & CR4_SMEP) ? 0 : -1;
    for (uint64_t n = 0; !ap_go && n < 4000000000UL; n++) __asm__ volatile("pause");
    ap.clear_pinned = load_cr4_safe(read_cr4() & ~CR4_SMEP);
    ap.clear_wp = load_cr0_safe(read_cr0() & ~CR0_WP);
}

/* After INIT-SIPI: are the pins ap_own_pins set still there? */
static void ap_after_init(uint32_t slot, uint64_t profile) {
    (void)slot;
    uint64_t cr4 = read_cr4();
    ap.cr4_at_entry = cr4;
    if (profile == PROFILE_JUN2020) {
        ap.low_after = msr_or_fault(MSR_JUN2020_CR4_PINNED_LOW);
        ap.set_pinned = load_cr4_safe(cr4 | CR4_UMIP);
    } else {
        /* A kept SMEP pin shows as a refused set (rfc2019 pins the bit's value, which INIT made 0). */
        ap.set_pinned = load_cr4_safe(cr4 | CR4_SMEP);
        ap.clear_pinned = load_cr4_safe(cr4 & ~CR4_SMEP);
    }
    load_cr4_safe(cr4);
}

static int run_ap(ap_function fn, uint64_t arg) {
    memset((void *)&ap, 0, sizeof(ap));
    return smp_start_ap(AP_APIC_ID, AP_SLOT, fn, arg) == 0 && smp_wait_ap(AP_SLOT) == 0;
}

/* Set when ap_own_pins ran, so that the INIT test has pins to look for. */
static int ap_pinned;

/* Per-vCPU pins on the AP (rfc2019, jun2020), while the BSP's pins are set. */
static void test_ap_msr_profile(enum profile p) {
    uint64_t own = p == PROFILE_JUN2020 ? CR4_UMIP : CR4_SMEP; /* the bit the AP pins */
    if (!cpu.smep || (p == PROFILE_JUN2020 && !cpu.umip) || !(pinnable_cr4 & own)) {
        report_skip("ap-pins", "the CPU has no SMEP or UMIP, or the AP's bit is not pinnable");
        return;
    }
    uint64_t bsp_cr4 = read_cr4();
    uint64_t bsp_low = p == PROFILE_JUN2020 ? msr_or_fault(MSR_JUN2020_CR4_PINNED_LOW) : 0;
    uint64_t bsp_high = p == PROFILE_JUN2020 ? msr_or_fault(MSR_JUN2020_CR4_PINNED_HIGH) : 0;
    if (!run_ap(ap_own_pins, p)) {
        report_skip("ap-pins", "no AP started (run with -smp 2)");
        return;
    }
    ap_pinned = 1;
    check_eq("ap-set-smep", (uint64_t)ap.set_bit, NO_FAULT);
    check_eq("ap-clear-smep-pinned-on-bsp-only", (uint64_t)ap.clear_bit, NO_FAULT);
    check_eq("ap-pin-own-bit", (uint64_t)ap.pin, NO_FAULT);
    if (p == PROFILE_JUN2020) {
        check_eq("ap-cr4-low-initial", ap.low_before, 0);
        check_eq("ap-cr4-low-after-pin", ap.low_after, CR4_UMIP);
        check_eq("ap-set-umip-pinned-low-gp", (uint64_t)ap.set_pinned, VEC_GP);
    } else {
        check_eq("ap-clear-smep-pinned-gp", (uint64_t)ap.clear_pinned, VEC_GP);
    }
    /* The AP's pins are its own: the BSP's are as they were. */
    check_eq("bsp-cr4-unchanged-by-ap", read_cr4(), bsp_cr4);
    if (p == PROFILE_JUN2020) {
        expect_msr("bsp-cr4-low-unchanged-by-ap", MSR_JUN2020_CR4_PINNED_LOW, bsp_low);
        expect_msr("bsp-cr4-high-unchanged-by-ap", MSR_JUN2020_CR4_PINNED_HIGH, bsp_high);
    }
}

/* What INIT did to the AP's pins, compared with init=keep|clear from the command line (default:
 * the profile's own version, rfc2019 keep, jun2020 clear). */
static void test_ap_init(enum profile p) {
    if (!ap_pinned) {
        report_skip("init-pins", "the AP has no pins (see ap-pins)");
        return;
    }
    int started = run_ap(ap_after_init, p);
    check_eq("init-ap-restarted", (uint64_t)started, 1);
    if (!started) return;
    check_eq("init-ap-entry-cr4-zero", smp_ap_entry.cr4, 0);
    uint64_t kept;
    if (p == PROFILE_JUN2020) {
        kept = ap.low_after == CR4_UMIP;
        uint64_t v[2] = {ap.low_after, (uint64_t)ap.set_pinned};
        report_values("init-ap-cr4-low-and-set-umip", v, 2);
        check_eq("init-ap-low-pin-enforced-as-read", (uint64_t)ap.set_pinned, kept ? VEC_GP : NO_FAULT);
    } else {
        kept = ap.set_pinned != 0 || ap.clear_pinned != 0;
        uint64_t v[2] = {(uint64_t)ap.set_pinned, (uint64_t)ap.clear_pinned};
        report_values("init-ap-set-smep-and-clear-smep", v, 2);
    }
    serial_puts("init-pins-observed ");
    serial_puts(kept ? "keep" : "clear");
    serial_putc('\n');
    int want_keep = option_is("init", "keep") ? 1 : option_is("init", "clear") ? 0 : p == PROFILE_RFC2019;
    check_eq(want_keep ? "init-pins-kept" : "init-pins-cleared", kept, (uint64_t)want_keep);
}

/* ---------------------------------------------------------------- SMM */

/*
 * A handler of our own that executes MOV to CR4 inside SMM (16-bit code at SMBASE + 8000H, CS
 * base = SMBASE): it records CR4 as SMM entry left it (SDM Vol.3 "Processor Register
 * Initialization in SMM": CR4 = 0), ORs in smm_mov_cr4_set with a MOV, records the result,
 * counts itself and executes RSM. For rfc2019 and jun2020 the value set is OSXMMEXCPT alone:
 * it lacks the pinned bits, which they exempt in SMM (`!is_smm(vcpu)` in their checks). heki2024
 * checks CR writes in SMM too (`(new & pinned) != pinned`), so there the value also carries the
 * locked CR4 bits (a #GP inside SMM would have no handler). RSM then reloads the saved CR4.
 */
extern char smm_mov_cr4_start[], smm_mov_cr4_end[], smm_mov_cr4_count[], smm_mov_cr4_seen[],
    smm_mov_cr4_after[], smm_mov_cr4_set[];
__asm__(".pushsection .rodata\n"
        ".code16\n"
        "smm_mov_cr4_start:\n"
        "    movl %cr4, %eax\n"
        "    movl %eax, %cs:0x8000 + (smm_mov_cr4_seen - smm_mov_cr4_start)\n"
        "    orl %cs:0x8000 + (smm_mov_cr4_set - smm_mov_cr4_start), %eax\n"
        "    movl %eax, %cr4\n"
        "    movl %cr4, %eax\n"
        "    movl %eax, %cs:0x8000 + (smm_mov_cr4_after - smm_mov_cr4_start)\n"
        "    incl %cs:0x8000 + (smm_mov_cr4_count - smm_mov_cr4_start)\n"
        "    rsm\n"
        "    .balign 4\n"
        "smm_mov_cr4_count: .long 0\n"
        "smm_mov_cr4_seen: .long 0\n"
        "smm_mov_cr4_after: .long 0\n"
        "smm_mov_cr4_set: .long 0x400\n"
        "smm_mov_cr4_end:\n"
        ".code64\n"
        ".popsection\n");

static volatile uint32_t *smm_mov_cr4_field(char *symbol) {
    return (volatile uint32_t *)(SMM_HANDLER_ADDR + (uint64_t)(symbol - smm_mov_cr4_start));
}

static void test_smm_mov_cr4(uint32_t set) {
    uint64_t cr4 = read_cr4();
    memcpy((void *)SMM_HANDLER_ADDR, smm_mov_cr4_start, (size_t)(smm_mov_cr4_end - smm_mov_cr4_start));
    *smm_mov_cr4_field(smm_mov_cr4_count) = 0;
    *smm_mov_cr4_field(smm_mov_cr4_set) = set;
    apic_send_self_smi();
    for (int n = 0; n < 1000000 && !*smm_mov_cr4_field(smm_mov_cr4_count); n++) __asm__ volatile("pause");
    check_eq("smm-mov-cr4-handler-ran", *smm_mov_cr4_field(smm_mov_cr4_count), 1);
    check_eq("smm-mov-cr4-entry-cr4-zero", *smm_mov_cr4_field(smm_mov_cr4_seen), 0);
    check_eq("smm-mov-cr4-allowed-in-smm", *smm_mov_cr4_field(smm_mov_cr4_after),
             *smm_mov_cr4_field(smm_mov_cr4_seen) | set);
    check_eq("smm-mov-cr4-rsm-restores-cr4", read_cr4(), cr4);
    smm_install_handler(0);
}

/*
 * SMM with the pins set: an SMI whose handler only records must come back with CR0/CR4 as they
 * were, and the saved images must hold the pinned bits. A handler that changes an unpinned bit
 * (OSXMMEXCPT) in the image is allowed: RSM loads it.
 */
static void test_smm(enum profile p) {
    uint64_t cr0 = read_cr0(), cr4 = read_cr4();
    smm_install_handler(0);
    if (!smm_trigger_self_ipi()) {
        report_skip("smm", "no SMI reached the handler at SMBASE 0x30000 (no SMM, or firmware moved SMBASE)");
        return;
    }
    volatile struct smm_handler_record *rec = smm_record();
    check_eq("smm-entered", rec->count, 1);
    check_eq("smm-image-cr4", rec->cr4, (uint32_t)cr4);
    check_eq("smm-image-cr0", rec->cr0, (uint32_t)cr0);
    check_eq("smm-rsm-cr4", read_cr4(), cr4);
    check_eq("smm-rsm-cr0", read_cr0(), cr0);
    struct smm_handler_config cfg = {0, 0, (uint32_t)CR4_OSXMMEXCPT, 0};
    smm_install_handler(&cfg);
    check_eq("smm-unpinned-change-entered", (uint64_t)smm_trigger_self_ipi(), 1);
    check_eq("smm-unpinned-change-loaded", read_cr4(), cr4 | CR4_OSXMMEXCPT);
    load_cr4(cr4);
    /* heki2024: the value written in SMM keeps the locked CR4 bits (SMEP, locked by then when the
     * CPU has it). */
    test_smm_mov_cr4((uint32_t)CR4_OSXMMEXCPT | (p == PROFILE_HEKI2024 ? (uint32_t)(cr4 & CR4_SMEP) : 0));
}

/* The handler clears SMEP in the saved CR4 (run alone, by `smm-violate`). */
static void test_smm_violation(enum profile p) {
    uint64_t cr4 = enable_protections();
    if (!(cr4 & CR4_SMEP) || !(expected_cr4_allowed & CR4_SMEP)) {
        report_skip("smm-violate", "the CPU has no SMEP, or allowed-cr4 leaves it out");
        return;
    }
    int pinned = p == PROFILE_RFC2019   ? wrmsr_safe(MSR_RFC2019_CR4_PINNED, CR4_SMEP)
                 : p == PROFILE_JUN2020 ? wrmsr_safe(MSR_JUN2020_CR4_PINNED_HIGH, CR4_SMEP)
                                        : (int)heki_result(4, CR4_SMEP);
    check_eq("smm-violate-pin-smep", (uint64_t)pinned, 0);
    struct smm_handler_config cfg = {0, 0, 0, (uint32_t)CR4_SMEP};
    smm_install_handler(&cfg);
    serial_puts("smm-violate: SMI with a handler that clears CR4.SMEP in SMRAM\n");
    if (!smm_trigger_self_ipi()) {
        report_skip("smm-violate", "no SMI reached the handler at SMBASE 0x30000");
        return;
    }
    uint64_t after = read_cr4();
    report_values("smm-violate-cr4-after-rsm", &after, 1);
    int want_exit = option_is("rsm", "exit") ? 1 : option_is("rsm", "continue") ? 0 : p == PROFILE_JUN2020;
    if (want_exit)
        report("smm-violate-vm-should-have-stopped", 0);
    else
        check_eq("smm-violate-restored-as-is", after, cr4 & ~CR4_SMEP);
}

/* ---------------------------------------------------------------- reset (0xCF9) */

/* CMOS bytes carrying the first boot's results to the second (after the library's boot count
 * at 0x6E/0x6F): profile, then pass/fail/skip counts, 16 bits each. */
#define CMOS_PROFILE_INDEX 0x70
#define CMOS_COUNTS_INDEX 0x71

static void cmos_write16(uint8_t index, int value) {
    cmos_write(index, (uint8_t)value);
    cmos_write(index + 1, (uint8_t)(value >> 8));
}

static int cmos_read16(uint8_t index) { return cmos_read(index) | (cmos_read(index + 1) << 8); }

/* After a system reset the pins are gone, whatever the profile (spec 1a-1c: userspace zeroes
 * them on reboot; heki's per-VM pins go with the VM's reset). */
static void check_after_reset(enum profile p) {
    uint64_t cr4 = enable_protections();
    if (p == PROFILE_JUN2020) {
        expect_msr("reset-cr0-high-cleared", MSR_JUN2020_CR0_PINNED_HIGH, 0);
        expect_msr("reset-cr4-high-cleared", MSR_JUN2020_CR4_PINNED_HIGH, 0);
        expect_msr("reset-cr4-low-cleared", MSR_JUN2020_CR4_PINNED_LOW, 0);
    }
    uint64_t cr0 = read_cr0();
    expect_cr0_accepted("reset-wp-clearable", cr0 & ~CR0_WP);
    load_cr0(cr0);
    if (cr4 & CR4_SMEP) {
        expect_cr4_accepted("reset-smep-clearable", cr4 & ~CR4_SMEP);
        load_cr4(cr4);
    } else {
        report_skip("reset-smep-clearable", "the CPU has no SMEP");
    }
}

/* True when CMOS RAM kept the boot count boot_count_next() stored (a machine without CMOS would
 * otherwise reboot forever, each boot looking like the first). */
static int boot_count_kept(uint32_t boot) {
    return cmos_read(CMOS_BOOT_COUNT_INDEX) == (uint8_t)(boot + 1) &&
           cmos_read(CMOS_BOOT_CHECK_INDEX) == (uint8_t)((boot + 1) ^ 0xA5);
}

static void reset_to_second_boot(enum profile p) {
    cmos_write(CMOS_PROFILE_INDEX, (uint8_t)p);
    cmos_write16(CMOS_COUNTS_INDEX, check_passes);
    cmos_write16(CMOS_COUNTS_INDEX + 2, check_failures);
    cmos_write16(CMOS_COUNTS_INDEX + 4, check_skips);
    serial_puts("reset: writing 0x06 to port 0xcf9\n");
    system_reset_cf9();
}

/* ---------------------------------------------------------------- main */

int test_main(void) {
    uint32_t boot = boot_count_next();
    const char *allowed = option("allowed-cr4");
    if (allowed && *allowed == '=') expected_cr4_allowed = parse_hex(allowed + 1);
    serial_puts("cr_pinning: boot ");
    serial_print_dec(boot + 1);
    serial_putc('\n');
    enum profile p = discover_profile();

    if (boot > 0) {
        boot_count_clear();
        check_passes = cmos_read16(CMOS_COUNTS_INDEX);
        check_failures = cmos_read16(CMOS_COUNTS_INDEX + 2);
        check_skips = cmos_read16(CMOS_COUNTS_INDEX + 4);
        check_eq("reset-same-profile", (uint64_t)p, cmos_read(CMOS_PROFILE_INDEX));
        check_after_reset(p);
        return report_summary();
    }

    if (option("smm-violate")) {
        boot_count_clear();
        if (p == PROFILE_NONE)
            report_skip("smm-violate", "no pinning profile offered");
        else
            test_smm_violation(p);
        return report_summary();
    }

    switch (p) {
    case PROFILE_RFC2019:
        test_rfc2019();
        break;
    case PROFILE_JUN2020:
        test_jun2020();
        break;
    case PROFILE_HEKI2024:
        break; /* after the AP has started, below */
    case PROFILE_NONE:
        report_skip("pinning",
                    "no pinning profile offered (CPUID 0x40000001 bits 14/15, KVM_HC_LOCK_CR_UPDATE)");
        break;
    }

    if (p == PROFILE_NONE) {
        report_skip("ap-pins", "no pinning profile offered");
        report_skip("init-pins", "no pinning profile offered");
    } else if (p == PROFILE_HEKI2024) {
        apic_init();
        paging_split_user(); /* before the AP starts: it shares these tables */
        ap_go = 0;
        memset((void *)&ap, 0, sizeof(ap));
        int lockable = cpu.smep && (expected_cr4_allowed & CR4_SMEP);
        int started = lockable && smp_start_ap(AP_APIC_ID, AP_SLOT, ap_heki, 0) == 0;
        test_heki2024();
        if (!started) {
            report_skip("ap-heki-per-vm",
                        lockable ? "no AP started (run with -smp 2)" : "SMEP missing or not pinnable");
        } else {
            ap_go = 1;
            check_eq("ap-heki-wait", (uint64_t)smp_wait_ap(AP_SLOT), 0);
            check_eq("ap-heki-set-smep", (uint64_t)ap.set_bit, NO_FAULT);
            check_eq("ap-heki-clear-smep-gp", (uint64_t)ap.clear_pinned, VEC_GP);
            check_eq("ap-heki-clear-wp-gp", (uint64_t)ap.clear_wp, VEC_GP);
        }
        report_skip("init-pins", "heki2024 pins are per VM, not vCPU state");
    } else {
        apic_init();
        test_ap_msr_profile(p);
    }

    if (p == PROFILE_NONE)
        report_skip("smm", "no pinning profile offered");
    else
        test_smm(p);

    if (p == PROFILE_RFC2019 || p == PROFILE_JUN2020) test_ap_init(p);

    if (p == PROFILE_NONE) {
        report_skip("reset-pins-cleared", "no pinning profile offered");
    } else if (option("no-reset")) {
        report_skip("reset-pins-cleared", "no-reset on the command line");
    } else if (!boot_count_kept(boot)) {
        report_skip("reset-pins-cleared", "no CMOS RAM to carry the boot count across a reset");
    } else {
        reset_to_second_boot(p);
    }
    boot_count_clear();
    return report_summary();
}
