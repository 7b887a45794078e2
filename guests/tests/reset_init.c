/*
 * reset_init.c - conformance suite 3: the processor state after power-up, RESET and INIT, as
 * far as a guest can observe it (SDM Vol.3 "IA-32 and Intel 64 Processor States Following
 * Power-up, Reset, or INIT", Table 9-1 in older editions; cited below as "the state table").
 *
 * Boot 1 (CMOS boot count 0):
 *   bsp.entry.*  what the BSP held at _start (recorded by boot.S): the rows firmware and the
 *                Multiboot loader leave alone (IA32_APIC_BASE, PAT, DR6, DR7, EFER) are
 *                checked, CR0/CR4 are printed as value lines (the loader sets them).
 *   ap.sipi1.*   an AP started with INIT-SIPI-SIPI records its registers at the SIPI entry,
 *                before changing anything: CS = vector << 8, IP = 0, EDX = CPUID.1.EAX, other
 *                GPRs 0, EFLAGS 2, data segments 0, CR0 = ET (CD/NW as they were), CR2-4 0,
 *                DR6 FFFF0FF0H, DR7 400H, EFER 0, GDTR/IDTR base 0 limit FFFFH, x87 and MXCSR;
 *                DS/FS/GS base 0 and DS/ES/FS/GS/SS limit FFFFH, by the trampoline's probes.
 *   The AP then changes what INIT must keep (STAR, LSTAR, PAT, MTRRphysBase0, x87 control word
 *   and ST0, XMM0, MXCSR, XCR0) and what INIT must reset (CR2, DR6, DR7, APIC TPR/SVR/LVT timer),
 *   reads its TSC and halts; the BSP sends INIT-SIPI-SIPI again:
 *   ap.init.*    the second SIPI entry: INIT-reset rows reset, CR0.CD/NW kept (0), MSRs,
 *                x87/SSE state, APIC ID kept, TSC not reset (larger than before the INIT).
 *   The AP then sets CR0.CD (NW stays 0) and halts; the BSP sends INIT and a SIPI with another
 *   vector (20H):
 *   ap.init2.*   the third SIPI entry: CS = 2000H (the start address follows the vector), and
 *                CR0 = 40000010H: CD kept as 1, NW kept as 0, the rest INIT's (a value that
 *                tells "kept" from both the power-up value 60000010H and "cleared" 10H).
 *   The BSP changes STAR/LSTAR/PAT/DR7, saves its counts and TSC at 64 MiB (RAM survives a
 *   reset under QEMU and pinvm; the loader rewrites only the image) and resets the machine
 *   through 0xCF9 (write 06H).
 * Boot 2 (boot count 1):
 *   bsp.reset.*  the BSP at _start after RESET: PAT 0007040600070406H, DR6, DR7, EFER 0,
 *                IA32_APIC_BASE FEE00900H, TSC reset (smaller than before the reset).
 *                STAR/LSTAR are "undefined" after RESET in the SDM: value lines only.
 *   ap.reset.*   the AP after RESET: PAT back to the power-up value.
 *
 * Under QEMU, SeaBIOS runs between RESET and the kernel (and on the APs), so only rows firmware
 * does not touch are asserted; each other row is a `skip` line naming the reason. Where QEMU
 * TCG deviates from the SDM the check prints `skip <name> deviation=<id>` (check_sdm), with
 * the ids of docs/tcg-deviations.md:
 *   tcg-init-cr0        QEMU's INIT sets CR0 = 60000010H; the SDM keeps CD and NW on INIT.
 *   tcg-reset-fcw       QEMU's RESET loads the FINIT x87 state (FCW 037FH, tags empty); the
 *   tcg-reset-ftw       state table gives FCW 0040H, FTW 5555H.
 *   tcg-init-mtrr       QEMU's INIT zeroes the variable MTRRs; the state table keeps MTRRs.
 *   tcg-reset-tsc       QEMU TCG's TSC keeps counting across RESET; the state table gives 0.
 *   tcg-segment-limit   QEMU TCG checks no segment limits: a real-mode read at offset 10000H
 *                       completes; with the state table's limit FFFFH it is #GP(0) (#SS(0)
 *                       for SS), SDM Vol.2 MOV "Real-Address Mode Exceptions", Vol.3 20.1.1
 *                       ("pseudo-protection faults (interrupt 12 or 13)" beyond FFFFH).
 * Output: one line per check, `SUMMARY pass=N fail=M skip=K` (both boots) and `done`.
 */
#include "guest.h"

#define AP_APIC_ID 1
#define AP_SLOT 1
/* A second SIPI vector: start-up code at 20000H (free RAM under QEMU and pinvm). */
#define AP_SIPI_VECTOR2 0x20
#define CARRY_ADDR 0x4000000UL /* 64 MiB */
#define CARRY_MAGIC 0x52535449u /* "ITSR" */

/* Values boot 1 writes before the INIT / the reset; valid memory types for PAT (SDM Vol.3
 * 11.12.2) and MTRRs (WB = 6), canonical LSTAR. */
#define AP_STAR 0x0023001000000000UL
#define AP_LSTAR 0xFFFFFFFF81234560UL
#define AP_PAT 0x0007010600070106UL
#define AP_MTRR_BASE 0x0000000008000006UL /* 128 MiB, WB; its mask stays invalid (V=0) */
#define AP_FCW 0x027F
#define AP_MXCSR 0x3F80 /* RC = round down, all masked */
#define AP_CR2 0x1234000UL
#define AP_DR6 0xFFFF0FF1UL
#define AP_DR7 0x600UL /* GE (bit 9) and the reserved 1 (bit 10) */
#define AP_TPR 0x20
#define AP_LVT_TIMER 0xEF /* unmasked, one-shot, vector EFH, count 0: never fires */
#define BSP_STAR 0x001B000800000000UL
#define BSP_LSTAR 0xFFFFFFFF80001230UL
#define BSP_PAT 0x0007050600070506UL
#define DR6_INIT 0xFFFF0FF0UL
#define DR7_INIT 0x400UL
#define APIC_BASE_BSP 0xFEE00900UL /* base FEE00000H, BSP (bit 8), EN (bit 11) */
#define APIC_BASE_AP 0xFEE00800UL
/* FLDPI with round-to-nearest (SDM Vol.1 8.3.8): significand C90FDAA22168C235H, exponent 4000H. */
#define PI_SIGNIFICAND 0xC90FDAA22168C235UL
#define PI_EXPONENT 0x4000
#define XMM_PATTERN_LO 0xFEDCBA9876543210UL
#define XMM_PATTERN_HI 0x0123456789ABCDEFUL

/* What the AP measured in long mode (written by the AP, read by the BSP). */
struct ap_report {
    uint64_t mxcsr;
    uint64_t star, lstar, pat, mtrr_base;
    uint64_t mtrr_written; /* MTRRphysBase0 read back after the write */
    uint64_t xcr0;         /* XGETBV(0) with CR4.OSXSAVE set, when CPUID has XSAVE */
    uint64_t apic_base;
    uint64_t apic_id, tpr, svr, lvt_timer;
    uint64_t cr0;
    uint64_t tsc;
    uint64_t st0_significand, st0_exponent;
    uint64_t fcw, fsw, ftw;
    uint64_t xmm0_lo, xmm0_hi;
    int mtrr_ok;
};

/* Survives the reset at CARRY_ADDR. */
struct carry {
    uint32_t magic;
    int passes, failures, skips;
    uint64_t tsc_before_reset;
};

static volatile struct ap_report ap_first, ap_second, ap_after_reset;
static struct ap_entry_state sipi1, sipi2, sipi3, sipi4;

/* ---------------------------------------------------------------- AP side */

static void enable_sse(void) { load_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT); }

static uint64_t read_mxcsr(void) {
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

/* FNSTENV in 64-bit mode (28-byte format): FCW at 0, FSW at 4, FTW at 8 (SDM Vol.1 8.1.10). */
static void read_x87_env(volatile struct ap_report *r) {
    uint32_t env[7];
    __asm__ volatile("fnstenv %0; fldenv %0" : "+m"(env));
    r->fcw = env[0] & 0xFFFF;
    r->fsw = env[1] & 0xFFFF;
    r->ftw = env[2] & 0xFFFF;
}

/* CPUID.1:ECX.XSAVE[26]. */
static int has_xsave(void) {
    uint32_t r[4];
    cpuid_count(1, 0, r);
    return (r[2] >> 26) & 1;
}

/* The XCR0 value the first run writes: x87, plus SSE when XCR0 supports it (CPUID.0DH.0:EAX). */
static uint64_t xcr0_test_value(void) {
    uint32_t r[4];
    cpuid_count(0xD, 0, r);
    return 1 | (r[0] & 2);
}

static void read_ap_state(volatile struct ap_report *r) {
    enable_sse();
    if (has_xsave()) {
        uint32_t lo, hi;
        load_cr4(read_cr4() | CR4_OSXSAVE);
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        r->xcr0 = ((uint64_t)hi << 32) | lo;
    }
    r->mxcsr = read_mxcsr();
    read_x87_env(r);
    r->star = rdmsr(MSR_IA32_STAR);
    r->lstar = rdmsr(MSR_IA32_LSTAR);
    r->pat = rdmsr(MSR_IA32_PAT);
    r->mtrr_ok = rdmsr_safe(MSR_IA32_MTRR_PHYSBASE0, (uint64_t *)&r->mtrr_base) == 0;
    r->apic_base = rdmsr(MSR_IA32_APIC_BASE);
    r->apic_id = apic_id();
    r->tpr = apic_read(APIC_TPR);
    r->svr = apic_read(APIC_SVR);
    r->lvt_timer = apic_read(APIC_LVT_TIMER);
    r->cr0 = read_cr0();
    r->tsc = rdtsc64();
}

static void ap_first_run(uint32_t cpu, uint64_t arg) {
    (void)cpu;
    (void)arg;
    read_ap_state(&ap_first);
    static const uint64_t pattern[2] = {XMM_PATTERN_LO, XMM_PATTERN_HI};
    uint32_t mxcsr = AP_MXCSR;
    uint16_t fcw = AP_FCW;
    __asm__ volatile("movdqu %0, %%xmm0; ldmxcsr %1" ::"m"(pattern), "m"(mxcsr) : "memory");
    __asm__ volatile("fninit; fldpi; fldcw %0" ::"m"(fcw));
    wrmsr(MSR_IA32_STAR, AP_STAR);
    wrmsr(MSR_IA32_LSTAR, AP_LSTAR);
    wrmsr(MSR_IA32_PAT, AP_PAT);
    if (ap_first.mtrr_ok) {
        wrmsr_safe(MSR_IA32_MTRR_PHYSBASE0, AP_MTRR_BASE);
        ap_first.mtrr_written = rdmsr(MSR_IA32_MTRR_PHYSBASE0);
    }
    if (has_xsave()) {
        uint64_t x = xcr0_test_value();
        __asm__ volatile("xsetbv" ::"c"(0), "a"((uint32_t)x), "d"((uint32_t)(x >> 32)));
    }
    load_cr2(AP_CR2);
    __asm__ volatile("mov %0, %%dr6; mov %1, %%dr7" ::"r"(AP_DR6), "r"(AP_DR7));
    apic_write(APIC_TPR, AP_TPR);
    apic_write(APIC_SVR, 0x1FF);
    apic_write(APIC_LVT_TIMER, AP_LVT_TIMER);
    ap_first.tsc = rdtsc64(); /* the last thing before the INIT */
}

static void ap_second_run(uint32_t cpu, uint64_t arg) {
    (void)cpu;
    (void)arg;
    read_ap_state(&ap_second);
    uint8_t st0[10];
    uint64_t xmm[2];
    __asm__ volatile("fld %%st(0); fstpt %0" : "=m"(st0));
    __asm__ volatile("movdqu %%xmm0, %0" : "=m"(xmm));
    memcpy((void *)&ap_second.st0_significand, st0, 8);
    ap_second.st0_exponent = (uint64_t)st0[8] | ((uint64_t)st0[9] << 8);
    ap_second.xmm0_lo = xmm[0];
    ap_second.xmm0_hi = xmm[1];
    /* For ap.init2: CD=1 with NW=0 (a valid combination, SDM Vol.3 Table 11-5), kept by INIT. */
    load_cr0(read_cr0() | CR0_CD);
}

static void ap_third_run(uint32_t cpu, uint64_t arg) {
    (void)cpu;
    (void)arg;
}

static void ap_after_reset_run(uint32_t cpu, uint64_t arg) {
    (void)cpu;
    (void)arg;
    read_ap_state(&ap_after_reset);
}

/* ---------------------------------------------------------------- BSP side: checks */

static char name_buffer[96];

static const char *nm(const char *prefix, const char *suffix) {
    size_t a = strlen(prefix), b = strlen(suffix);
    memcpy(name_buffer, prefix, a);
    name_buffer[a] = '.';
    memcpy(name_buffer + a + 1, suffix, b + 1);
    return name_buffer;
}

static void value_line(const char *name, uint64_t v) { report_values(name, &v, 1); }

static uint32_t cpuid1_eax(void) {
    uint32_t r[4];
    cpuid_count(1, 0, r);
    return r[0];
}

static void copy_entry(struct ap_entry_state *dst) {
    memcpy(dst, (const void *)&smp_ap_entry, sizeof(*dst));
}

/* The INIT rows every SIPI entry must show (state table, INIT column; SIPI: SDM Vol.3
 * "MP Initialization", CS = vector << 8 with base vector << 12, IP 0). */
static void check_sipi_entry(const char *p, const struct ap_entry_state *e, uint32_t vector) {
    check_eq(nm(p, "cs"), e->cs, vector << 8);
    check_eq(nm(p, "ip"), e->ip, 0);
    check_eq(nm(p, "edx-signature"), e->edx, cpuid1_eax());
    check_eq(nm(p, "eax"), e->eax, 0);
    check_eq(nm(p, "ebx"), e->ebx, 0);
    check_eq(nm(p, "ecx"), e->ecx, 0);
    check_eq(nm(p, "esi"), e->esi, 0);
    check_eq(nm(p, "edi"), e->edi, 0);
    check_eq(nm(p, "ebp"), e->ebp, 0);
    check_eq(nm(p, "esp"), e->esp, 0);
    check_eq(nm(p, "eflags"), e->eflags, 2);
    check_eq(nm(p, "ds"), e->ds, 0);
    check_eq(nm(p, "es"), e->es, 0);
    check_eq(nm(p, "fs"), e->fs, 0);
    check_eq(nm(p, "gs"), e->gs, 0);
    check_eq(nm(p, "ss"), e->ss, 0);
    check_eq(nm(p, "cr0-without-cd-nw"), e->cr0 & ~(CR0_CD | CR0_NW), CR0_ET);
    check_eq(nm(p, "cr2"), e->cr2, 0);
    check_eq(nm(p, "cr3"), e->cr3, 0);
    check_eq(nm(p, "cr4"), e->cr4, 0);
    check_eq(nm(p, "dr6"), e->dr6, DR6_INIT);
    check_eq(nm(p, "dr7"), e->dr7, DR7_INIT);
    check_eq(nm(p, "efer"), ((uint64_t)e->efer_hi << 32) | e->efer_lo, 0);
    check_eq(nm(p, "gdtr-base"), e->gdtr_base, 0);
    check_eq(nm(p, "gdtr-limit"), e->gdtr_limit, 0xFFFF);
    check_eq(nm(p, "idtr-base"), e->idtr_base, 0);
    check_eq(nm(p, "idtr-limit"), e->idtr_limit, 0xFFFF);
    /* Data segments after INIT: selector 0 (above), base 0, limit FFFFH (state table), seen by
     * the trampoline's probes: DS/FS/GS:34H read the IVT entry it wrote at physical 34H, and a
     * read at offset 10000H is beyond the limit: #GP(0), #SS(0) for SS (SDM Vol.2 MOV,
     * "Real-Address Mode Exceptions"); one at FFFFH is inside it. CS base: the entry itself. */
    static const char *const base_names[] = {"ds-base", "fs-base", "gs-base"};
    for (int i = 0; i < 3; i++) check_eq(nm(p, base_names[i]), e->base_probe[i], e->ivt_marker);
    static const char *const segs[] = {"ds", "es", "fs", "gs", "ss"};
    for (int i = 0; i < 5; i++) {
        char within[24], beyond[24];
        size_t n = strlen(segs[i]);
        memcpy(within, segs[i], n);
        memcpy(within + n, "-limit-ffff", 12);
        memcpy(beyond, segs[i], n);
        memcpy(beyond + n, "-limit-10000", 13);
        check_eq(nm(p, within), e->limit_fault[2 * i], 0);
        /* QEMU 7.2 TCG checks no segment limits: the read completes (docs/tcg-deviations.md #18). */
        check_sdm(nm(p, beyond), e->limit_fault[2 * i + 1], i == 4 ? 12 : VEC_GP, 0, "tcg-segment-limit");
    }
    report_skip(nm(p, "segment-ar"), "access rights are not readable in real mode (LAR is #UD)");
    report_skip(nm(p, "ldtr-tr"), "SLDT/STR are #UD in real mode");
    report_skip(nm(p, "r8-r15"), "not readable in real mode");
}

/* INIT resets the local APIC except its ID (SDM Vol.3 "Local APIC State After an INIT Reset"). */
static void check_apic_after_init(const char *p, const volatile struct ap_report *r) {
    check_eq(nm(p, "apic-id"), r->apic_id, AP_APIC_ID);
    check_eq(nm(p, "apic-base"), r->apic_base, APIC_BASE_AP);
    check_eq(nm(p, "apic-tpr"), r->tpr, 0);
    check_eq(nm(p, "apic-svr"), r->svr, 0xFF);
    check_eq(nm(p, "apic-lvt-timer"), r->lvt_timer, 0x10000);
}

static void first_ap_checks(void) {
    static const char *const names[] = {"ap.sipi1", "ap.init"};
    if (smp_start_ap(AP_APIC_ID, AP_SLOT, ap_first_run, 0) != 0) {
        for (int i = 0; i < 2; i++) report_skip(names[i], "no AP answered INIT-SIPI-SIPI (one CPU?)");
        return;
    }
    copy_entry(&sipi1);
    if (smp_wait_ap(AP_SLOT) != 0) {
        report("ap.first-run-returned", 0);
        return;
    }
    check_sipi_entry("ap.sipi1", &sipi1, SMP_SIPI_VECTOR);
    /* First SIPI after power-up: x87 and MXCSR as power-up left them (INIT keeps them). Under
     * QEMU, SeaBIOS ran on the AP first: it does not use the x87. */
    check_sdm("ap.sipi1.fcw", sipi1.fcw, 0x0040, 0x037F, "tcg-reset-fcw");
    check_eq("ap.sipi1.fsw", sipi1.fsw, 0);
    check_sdm("ap.sipi1.ftw", sipi1.ftw, 0x5555, 0xFFFF, "tcg-reset-ftw");
    check_eq("ap.sipi1.mxcsr", ap_first.mxcsr, 0x1F80);
    if (has_xsave()) check_eq("ap.sipi1.xcr0", ap_first.xcr0, 1); /* x87 only after power-up */
    else report_skip("ap.sipi1.xcr0", "CPUID.1:ECX.XSAVE[26]=0");
    check_eq("ap.sipi1.apic-id", ap_first.apic_id, AP_APIC_ID);
    check_eq("ap.sipi1.apic-base", ap_first.apic_base, APIC_BASE_AP);
    value_line("ap.sipi1.cr0", sipi1.cr0);

    /* INIT-SIPI-SIPI again: the AP halted in 64-bit mode with CD=NW=0. */
    uint64_t tsc_before_init = ap_first.tsc;
    if (smp_start_ap(AP_APIC_ID, AP_SLOT, ap_second_run, 0) != 0) {
        report("ap.init.restarted", 0);
        return;
    }
    copy_entry(&sipi2);
    if (smp_wait_ap(AP_SLOT) != 0) {
        report("ap.second-run-returned", 0);
        return;
    }
    check_sipi_entry("ap.init", &sipi2, SMP_SIPI_VECTOR);
    check_sdm("ap.init.cr0", sipi2.cr0, CR0_ET, 0x60000010, "tcg-init-cr0");
    check_eq("ap.init.star-kept", ap_second.star, AP_STAR);
    check_eq("ap.init.lstar-kept", ap_second.lstar, AP_LSTAR);
    check_eq("ap.init.pat-kept", ap_second.pat, AP_PAT);
    /* MTRRs are unchanged by INIT (state table); QEMU TCG's INIT zeroes them. */
    if (ap_first.mtrr_ok && ap_first.mtrr_written == AP_MTRR_BASE)
        check_sdm("ap.init.mtrr-physbase0-kept", ap_second.mtrr_base, AP_MTRR_BASE, 0, "tcg-init-mtrr");
    else report_skip("ap.init.mtrr-physbase0-kept", "MTRRphysBase0 cannot be read or written");
    check_eq("ap.init.fcw-kept", sipi2.fcw, AP_FCW);
    check_eq("ap.init.fsw-top-kept", (sipi2.fsw >> 11) & 7, 7);
    check_eq("ap.init.ftw-kept", ap_second.ftw, 0x3FFF); /* R7 valid, the rest empty */
    check_eq("ap.init.st0-significand-kept", ap_second.st0_significand, PI_SIGNIFICAND);
    check_eq("ap.init.st0-exponent-kept", ap_second.st0_exponent, PI_EXPONENT);
    check_eq("ap.init.mxcsr-kept", ap_second.mxcsr, AP_MXCSR);
    if (has_xsave()) check_eq("ap.init.xcr0-kept", ap_second.xcr0, xcr0_test_value());
    else report_skip("ap.init.xcr0-kept", "CPUID.1:ECX.XSAVE[26]=0");
    check_eq("ap.init.xmm0-lo-kept", ap_second.xmm0_lo, XMM_PATTERN_LO);
    check_eq("ap.init.xmm0-hi-kept", ap_second.xmm0_hi, XMM_PATTERN_HI);
    check("ap.init.tsc-not-reset", sipi2.tsc > tsc_before_init);
    check_apic_after_init("ap.init", &ap_second);

    /* INIT again, the AP having set CR0.CD, and a SIPI with vector 20H. */
    if (smp_start_ap_vector(AP_APIC_ID, AP_SLOT, ap_third_run, 0, AP_SIPI_VECTOR2) != 0) {
        report("ap.init2.restarted", 0);
        return;
    }
    copy_entry(&sipi4);
    if (smp_wait_ap(AP_SLOT) != 0) {
        report("ap.third-run-returned", 0);
        return;
    }
    check_sipi_entry("ap.init2", &sipi4, AP_SIPI_VECTOR2);
    /* State table, INIT column, note: CD and NW are unchanged by INIT: 40000010H here. QEMU 7.2
     * TCG's INIT loads 60000010H (docs/tcg-deviations.md #13). */
    check_sdm("ap.init2.cr0-cd-kept", sipi4.cr0, CR0_CD | CR0_ET, 0x60000010, "tcg-init-cr0");
}

static void check_bsp_entry(const char *p, int after_reset) {
    const struct entry_state *e = &boot_entry_state;
    check_eq(nm(p, "eax-multiboot-magic"), e->eax, 0x2BADB002);
    check_eq(nm(p, "apic-base"), ((uint64_t)e->apic_base_hi << 32) | e->apic_base_lo, APIC_BASE_BSP);
    check_eq(nm(p, "pat"), ((uint64_t)e->pat_hi << 32) | e->pat_lo, PAT_POWER_UP_VALUE);
    check_eq(nm(p, "dr6"), e->dr6, DR6_INIT);
    check_eq(nm(p, "dr7"), e->dr7, DR7_INIT);
    check_eq(nm(p, "efer"), ((uint64_t)e->efer_hi << 32) | e->efer_lo, 0);
    /* Multiboot v1 (3.2 "Machine state"): CR0.PE=1, PG=0; EFLAGS.VM=0, IF=0. */
    check_eq(nm(p, "cr0-pe-pg"), e->cr0 & (CR0_PE | CR0_PG), CR0_PE);
    check_eq(nm(p, "eflags-vm-if"), e->eflags & ((1u << 17) | (1u << 9)), 0);
    value_line(nm(p, "cr0"), e->cr0);
    value_line(nm(p, "cr4"), e->cr4);
    report_skip(nm(p, "cr0-cd-nw"), "the loader/firmware sets CR0 before the Multiboot entry");
    report_skip(nm(p, "mtrrs"), "firmware (SeaBIOS under QEMU) programs the MTRRs before the kernel");
    report_skip(nm(p, "gprs-segments"), "the Multiboot loader sets them (EAX, EBX, flat segments)");
    if (after_reset) {
        value_line(nm(p, "star"), rdmsr(MSR_IA32_STAR));
        value_line(nm(p, "lstar"), rdmsr(MSR_IA32_LSTAR));
    }
}

/* ---------------------------------------------------------------- boots */

static int first_boot(void) {
    struct carry *carry = (struct carry *)CARRY_ADDR;
    carry->magic = 0;
    serial_puts("reset_init: boot 1\n");
    check_bsp_entry("bsp.entry", 0);
    apic_init();
    first_ap_checks();

    /* Make RESET's work visible, then reset (RST_CNT 06H: SYS_RST | RST_CPU). */
    uint8_t probe = cmos_read(CMOS_BOOT_COUNT_INDEX);
    if (probe != 1) {
        report_skip("bsp.reset", "CMOS NVRAM does not keep the boot count: not resetting");
        boot_count_clear();
        return report_summary();
    }
    wrmsr(MSR_IA32_STAR, BSP_STAR);
    wrmsr(MSR_IA32_LSTAR, BSP_LSTAR);
    wrmsr(MSR_IA32_PAT, BSP_PAT);
    __asm__ volatile("mov %0, %%dr6; mov %1, %%dr7" ::"r"(AP_DR6), "r"(AP_DR7));
    carry->passes = check_passes;
    carry->failures = check_failures;
    carry->skips = check_skips;
    serial_puts("reset_init: resetting through port 0xcf9\n");
    carry->tsc_before_reset = rdtsc64();
    carry->magic = CARRY_MAGIC;
    system_reset_cf9();
}

static int second_boot(void) {
    struct carry *carry = (struct carry *)CARRY_ADDR;
    serial_puts("reset_init: boot 2\n");
    int carried = carry->magic == CARRY_MAGIC;
    if (!carried) {
        report_skip("bsp.reset.carry", "RAM at 64 MiB did not survive the reset: boot-1 counts lost");
    } else {
        check_passes += carry->passes;
        check_failures += carry->failures;
        check_skips += carry->skips;
        carry->magic = 0;
    }
    check_bsp_entry("bsp.reset", 1);
    uint64_t tsc_at_entry = ((uint64_t)boot_entry_state.tsc_hi << 32) | boot_entry_state.tsc_lo;
    /* RESET loads TSC = 0 (state table); QEMU TCG's TSC keeps counting from VM start. */
    if (carried)
        check_sdm("bsp.reset.tsc-reset", tsc_at_entry < carry->tsc_before_reset, 1, 0, "tcg-reset-tsc");
    apic_init();
    if (smp_start_ap(AP_APIC_ID, AP_SLOT, ap_after_reset_run, 0) == 0 && smp_wait_ap(AP_SLOT) == 0) {
        copy_entry(&sipi3);
        check_sipi_entry("ap.reset", &sipi3, SMP_SIPI_VECTOR);
        check_eq("ap.reset.pat", ap_after_reset.pat, PAT_POWER_UP_VALUE);
        value_line("ap.reset.star", ap_after_reset.star);
        value_line("ap.reset.lstar", ap_after_reset.lstar);
    } else {
        report_skip("ap.reset", "no AP answered INIT-SIPI-SIPI after the reset");
    }
    boot_count_clear();
    return report_summary();
}

int test_main(void) {
    uint32_t boot = boot_count_next();
    if (boot == 0) return first_boot();
    if (boot == 1) return second_boot();
    boot_count_clear();
    report("boot-count", 0);
    return report_summary();
}
