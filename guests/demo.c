/*
 * demo.c - the built-in demo guest of the `pinvm` command (run when no -kernel is given;
 * embedded in src/vmm/demo-image.ts by guests/embed-demo.mjs).
 *
 * A story in plain lines on COM1:
 *  1. hello from 64-bit long mode (EFER, CR0, CR4, memory, CPU vendor);
 *  2. which CR-pinning ABI the hypervisor offers (CPUID 0x40000001 bit 14 = rfc2019, bit 15 =
 *     jun2020, the KVM_HC_LOCK_CR_UPDATE hypercall = heki2024), and pinning CR0.WP and
 *     CR4.SMEP/SMAP/UMIP through it (SDM Vol.3 2.5 for the bits);
 *  3. an attacker with a `mov cr4, rax` gadget turns SMEP off and calls shellcode in a user page
 *     at ring 0 (ret2usr). With pinning the MOV raises #GP and CR4 keeps SMEP, so the jump then
 *     faults (#PF, instruction fetch from a user page, SDM Vol.3 4.6.1); without pinning the
 *     shellcode runs and prints its "pwned" line;
 *  4. an application processor pins a bit of its own, and is restarted with INIT-SIPI-SIPI: what
 *     INIT kept (its IA32_STAR, which INIT leaves alone per SDM Vol.3 "Processor States Following
 *     Power-up, Reset, or INIT", and its pins, which depend on pinvm's --pins-on-init);
 *  5. with pinning, a reboot through port 0xCF9: the second boot (CMOS boot count) reads the pins
 *     and finds them cleared.
 * Ends with `ok long-mode-active` and the runtime's `done`, and exits through isa-debug-exit.
 */
#include "guest.h"
#include "pvpin.h"

/* What the first boot leaves for the second, in CMOS next to the library's boot count. */
#define CMOS_DEMO_PROFILE 0x70

/* The AP the demo restarts (APIC ID 1 under -smp 2) and the value it leaves in IA32_STAR. */
#define AP_APIC_ID 1
#define AP_SLOT 1
#define STAR_MARK 0x0023001000000000UL

static void put(const char *s) { serial_puts(s); }

static void put_hex(const char *name, uint64_t value) {
    serial_puts(name);
    serial_puts("=0x");
    serial_print_hex(value);
}

static void put_cr4_bits(uint64_t cr4) {
    put(cr4 & CR4_SMEP ? " SMEP" : "");
    put(cr4 & CR4_SMAP ? " SMAP" : "");
    put(cr4 & CR4_UMIP ? " UMIP" : "");
}

/* ---------------------------------------------------------------- 1. hello */

static void hello(void) {
    const uint32_t *info = (const uint32_t *)(uint64_t)multiboot_info;
    put("pinvm demo guest: hello from 64-bit long mode\n  ");
    put_hex("EFER", rdmsr(MSR_IA32_EFER));
    put(" ");
    put_hex("CR0", read_cr0());
    put(" ");
    put_hex("CR4", read_cr4());
    put("\n  memory: ");
    serial_print_dec(info[1]);
    put(" KiB low, ");
    serial_print_dec(info[2]);
    put(" KiB above 1 MiB\n");
    uint32_t r[4];
    char vendor[13];
    cpuid_count(0, 0, r);
    memcpy(vendor + 0, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = 0;
    put("  cpu vendor: ");
    put(vendor);
    put("\n");
}

/* ---------------------------------------------------------------- 2. discovery and pinning */

static enum profile discover(void) {
    uint32_t features = kvm_cpuid_features();
    if (features & (1u << KVM_FEATURE_CR_PIN_JUN2020)) return PROFILE_JUN2020;
    if (features & (1u << KVM_FEATURE_CR_PIN_RFC2019)) return PROFILE_RFC2019;
    uint64_t version = 0;
    int vector = kvm_hypercall(KVM_HC_LOCK_CR_UPDATE, 0, 0, KVM_LOCK_CR_UPDATE_VERSION, 0, &version);
    if (vector == 0 && version == 1) return PROFILE_HEKI2024;
    return PROFILE_NONE;
}

static void describe(enum profile p) {
    put("\nCR pinning: ");
    switch (p) {
    case PROFILE_RFC2019:
        put("rfc2019 offered (CPUID 0x40000001.EAX bit 14; MSRs 0x4b564d06-09)\n");
        break;
    case PROFILE_JUN2020:
        put("jun2020 offered (CPUID 0x40000001.EAX bit 15; MSRs 0x4b564d08-0d)\n");
        break;
    case PROFILE_HEKI2024:
        put("heki2024 offered (hypercall KVM_HC_LOCK_CR_UPDATE, ABI version 1)\n");
        break;
    case PROFILE_NONE:
        put("not offered (no KVM CPUID bit 14/15, no KVM_HC_LOCK_CR_UPDATE)\n");
        break;
    }
}

/* Turns SMEP/SMAP/UMIP on (as far as the CPU has them) over a kernel/user split of the page
 * tables; returns CR4. */
static uint64_t protect(void) {
    paging_split_user();
    uint64_t cr4 = read_cr4();
    if (cpu_has_smep()) cr4 |= CR4_SMEP;
    if (cpu_has_smap()) cr4 |= CR4_SMAP;
    if (cpu_has_umip()) cr4 |= CR4_UMIP;
    load_cr4(cr4);
    return read_cr4();
}

/* Pins CR0.WP and the protection bits of CR4 that the hypervisor allows; returns the CR4 mask. */
static uint64_t pin(enum profile p, uint64_t cr4) {
    uint64_t want = cr4 & (CR4_SMEP | CR4_SMAP | CR4_UMIP), allowed = want;
    int f0 = 0, f4 = 0;
    if (p == PROFILE_RFC2019 || p == PROFILE_JUN2020) {
        uint32_t allowed_msr = p == PROFILE_RFC2019 ? MSR_RFC2019_CR4_PIN_ALLOWED
                                                    : MSR_JUN2020_CR4_PIN_ALLOWED;
        if (rdmsr_safe(allowed_msr, &allowed) != 0) allowed = 0;
        want &= allowed;
        f0 = wrmsr_safe(p == PROFILE_RFC2019 ? MSR_RFC2019_CR0_PINNED : MSR_JUN2020_CR0_PINNED_HIGH, CR0_WP);
        f4 = wrmsr_safe(p == PROFILE_RFC2019 ? MSR_RFC2019_CR4_PINNED : MSR_JUN2020_CR4_PINNED_HIGH, want);
    } else {
        uint64_t r0 = 0, r4 = 0;
        f0 = kvm_hypercall(KVM_HC_LOCK_CR_UPDATE, 0, CR0_WP, 0, 0, &r0) || r0;
        f4 = kvm_hypercall(KVM_HC_LOCK_CR_UPDATE, 4, want, 0, 0, &r4) || r4;
    }
    put("  pinned: CR0.WP");
    put(f0 ? " (refused!)" : "");
    put(", CR4:");
    put_cr4_bits(want);
    put(want ? "" : " nothing allowed");
    put(f4 ? " (refused!)" : "");
    put("\n");
    return f4 ? 0 : want;
}

/* ---------------------------------------------------------------- 3. the attack */

/* The gadget: the instruction an attacker finds in kernel code and reaches with a controlled RAX
 * (here: the argument). */
static uint64_t __attribute__((noinline)) gadget_mov_cr4(uint64_t rax) {
    __asm__ volatile("mov %0, %%cr4" ::"r"(rax) : "memory");
    return 0;
}

static const char shellcode_text[] = "  [shellcode] pwned: user-page code running in ring 0\n";

/* Writes the shellcode into the user page: for each character, wait for COM1's LSR.THRE
 * (`mov dx, 0x3fd; 1: in al, dx; test al, 0x20; jz 1b`; without it a busy transmitter drops
 * bytes under QEMU), then `mov dx, 0x3f8; mov al, c; out dx, al`; then `mov eax, 0x1337; ret`.
 * It needs no data, so it runs with SMAP on. */
static void plant_shellcode(void) {
    uint8_t *p = user_page;
    for (const char *c = shellcode_text; *c; c++) {
        *p++ = 0x66, *p++ = 0xba, *p++ = 0xfd, *p++ = 0x03;
        *p++ = 0xec, *p++ = 0xa8, *p++ = 0x20, *p++ = 0x74, *p++ = 0xfb;
        *p++ = 0x66, *p++ = 0xba, *p++ = 0xf8, *p++ = 0x03;
        *p++ = 0xb0, *p++ = (uint8_t)*c, *p++ = 0xee;
    }
    *p++ = 0xb8, *p++ = 0x37, *p++ = 0x13, *p++ = 0x00, *p++ = 0x00;
    *p++ = 0xc3;
}

static volatile uint64_t shellcode_result;

static uint64_t __attribute__((noinline)) jump_to_user_page(uint64_t unused) {
    (void)unused;
    shellcode_result = ((uint64_t (*)(void))(uint64_t)user_page)();
    return 0;
}

static void attack(void) {
    uint64_t cr4 = read_cr4();
    put("\nattacker: shellcode planted in a user page at 0x");
    serial_print_hex((uint64_t)user_page);
    put("\nattacker: calling a `mov cr4, rax` gadget with SMEP cleared (RAX=0x");
    serial_print_hex(cr4 & ~CR4_SMEP);
    put(")\n");
    struct fault_info fi;
    if (expect_fault(gadget_mov_cr4, cr4 & ~CR4_SMEP, &fi)) {
        put("  the gadget faulted: vector ");
        serial_print_dec(fi.vector);
        put(fi.vector == VEC_GP ? " (#GP)" : "");
        put(", CR4 still 0x");
        serial_print_hex(read_cr4());
        put(read_cr4() & CR4_SMEP ? " (SMEP on)\n" : "\n");
        put("attacker: jumping to the user page anyway\n");
        if (expect_fault(jump_to_user_page, 0, &fi)) {
            put("  the jump faulted: vector ");
            serial_print_dec(fi.vector);
            put(fi.vector == VEC_PF ? " (#PF)" : "");
            put(", error code 0x");
            serial_print_hex(fi.error_code);
            put(fi.error_code & PF_ID ? " (instruction fetch)" : "");
            put("\nattack stopped: the shellcode never ran\n");
        } else {
            put("attack SUCCEEDED anyway: the shellcode ran\n");
        }
        return;
    }
    put("  the gadget worked: CR4=0x");
    serial_print_hex(read_cr4());
    put(" (SMEP off)\n");
    put("attacker: jumping to the user page at ring 0\n");
    if (expect_fault(jump_to_user_page, 0, &fi)) {
        put("  the jump faulted: vector ");
        serial_print_dec(fi.vector);
        put("\n");
    } else if (shellcode_result == 0x1337) {
        put("attack succeeded: nothing pinned CR4.SMEP, so the gadget could turn it off\n");
    }
    load_cr4(cr4);
}

/* ---------------------------------------------------------------- 4. INIT-SIPI of an AP */

static int acpi_checksum_ok(const uint8_t *p, uint32_t n) {
    uint8_t sum = 0;
    for (uint32_t i = 0; i < n; i++) sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

/* A pointer to identity-mapped physical memory (opaque to the compiler's bounds checks). */
static const uint8_t *physical(uint64_t address) {
    __asm__("" : "+r"(address));
    return (const uint8_t *)address;
}

/* The RSDP: "RSD PTR " on a 16-byte boundary in the first KiB of the EBDA or in E0000H-FFFFFH,
 * with a zero checksum over its first 20 bytes (ACPI 6.5 5.2.5.1, 5.2.5.3). */
static const uint8_t *find_rsdp(void) {
    uint16_t ebda_segment; /* BIOS data area word at 40EH */
    memcpy(&ebda_segment, physical(0x40e), 2);
    uint64_t ebda = (uint64_t)ebda_segment << 4;
    uint64_t ranges[2][2] = {{ebda, ebda ? ebda + 1024 : 0}, {0xe0000, 0x100000}};
    for (int r = 0; r < 2; r++)
        for (uint64_t a = ranges[r][0]; a < ranges[r][1]; a += 16)
            if (memcmp(physical(a), "RSD PTR ", 8) == 0 && acpi_checksum_ok(physical(a), 20))
                return physical(a);
    return 0;
}

/* Enabled processors in the MADT ("APIC" table, Processor Local APIC structures with flag bit 0;
 * ACPI 6.5 5.2.12.2), found through the RSDT; 0 when there are no ACPI tables. Lets the demo
 * skip the AP part at once on a single CPU instead of waiting for an AP that is not there. */
static int count_cpus(void) {
    const uint8_t *rsdp = find_rsdp();
    if (!rsdp) return 0;
    uint32_t rsdt_address;
    memcpy(&rsdt_address, rsdp + 16, 4);
    const uint8_t *rsdt = physical(rsdt_address);
    uint32_t rsdt_length;
    memcpy(&rsdt_length, rsdt + 4, 4);
    for (uint32_t e = 36; e + 4 <= rsdt_length; e += 4) {
        uint32_t table_address, length;
        memcpy(&table_address, rsdt + e, 4);
        const uint8_t *t = physical(table_address);
        if (memcmp(t, "APIC", 4) != 0) continue;
        memcpy(&length, t + 4, 4);
        int cpus = 0;
        for (uint32_t o = 44; o + 2 <= length && t[o + 1] >= 2; o += t[o + 1])
            if (t[o] == 0 && (t[o + 4] & 1)) cpus++;
        return cpus;
    }
    return 0;
}

static volatile struct {
    int pin;
    uint64_t star, pin_value;
    int set_pinned;
} ap;

/*
 * The AP pins a bit its start-up code never sets, so that it can come back through INIT-SIPI
 * however INIT treats pins: after INIT the AP is in real mode with CR4 = 0 and its trampoline
 * writes CR4 = PAE, which a kept pin-to-1 of SMEP would refuse under jun2020. rfc2019 pins the
 * current value of SMEP (1, then 0 after INIT: the trampoline does not change it); jun2020 pins
 * UMIP to 0 (PINNED_LOW).
 */
static void ap_before_init(uint32_t cpu, uint64_t profile) {
    (void)cpu;
    wrmsr(MSR_IA32_STAR, STAR_MARK);
    if (profile == PROFILE_RFC2019) {
        load_cr4(read_cr4() | CR4_SMEP);
        ap.pin = wrmsr_safe(MSR_RFC2019_CR4_PINNED, CR4_SMEP);
    } else if (profile == PROFILE_JUN2020) {
        load_cr4(read_cr4() & ~CR4_UMIP);
        ap.pin = wrmsr_safe(MSR_JUN2020_CR4_PINNED_LOW, CR4_UMIP);
    }
}

static void ap_after_init(uint32_t cpu, uint64_t profile) {
    (void)cpu;
    ap.star = rdmsr(MSR_IA32_STAR);
    uint64_t cr4 = read_cr4();
    if (profile == PROFILE_RFC2019) {
        ap.set_pinned = load_cr4_safe(cr4 | CR4_SMEP);
    } else if (profile == PROFILE_JUN2020) {
        if (rdmsr_safe(MSR_JUN2020_CR4_PINNED_LOW, (uint64_t *)&ap.pin_value) != 0) ap.pin_value = ~0UL;
        ap.set_pinned = load_cr4_safe(cr4 | CR4_UMIP);
    }
    load_cr4_safe(cr4);
}

static void init_sipi(enum profile p) {
    put("\nINIT-SIPI: restarting an application processor (APIC ID 1)\n");
    if (p == PROFILE_HEKI2024) {
        put("  skipped: heki2024 pins are per VM and pin to 1, so the AP's real-mode start-up code\n"
            "  (CR0 without WP) would be refused; Heki does not handle AP restarts\n");
        return;
    }
    int cpus = count_cpus();
    if (cpus < 2) {
        put("  no second CPU in the ACPI MADT (run with -smp 2 to see this part)\n");
        return;
    }
    memset((void *)&ap, 0, sizeof(ap));
    if (smp_start_ap(AP_APIC_ID, AP_SLOT, ap_before_init, p) != 0 || smp_wait_ap(AP_SLOT) != 0) {
        put("  no AP answered\n");
        return;
    }
    put("  the AP wrote IA32_STAR=0x");
    serial_print_hex(STAR_MARK);
    if (p == PROFILE_RFC2019)
        put(ap.pin ? " and could not pin CR4.SMEP" : " and pinned CR4.SMEP (CR4_PINNED)");
    if (p == PROFILE_JUN2020)
        put(ap.pin ? " and could not pin CR4.UMIP" : " and pinned CR4.UMIP to 0 (CR4_PINNED_LOW)");
    put(", then halted\n  INIT-SIPI-SIPI again...\n");
    if (smp_start_ap(AP_APIC_ID, AP_SLOT, ap_after_init, p) != 0 || smp_wait_ap(AP_SLOT) != 0) {
        put("  the AP did not come back\n");
        return;
    }
    put("  the AP came back: CR4 at its SIPI entry=0x");
    serial_print_hex(smp_ap_entry.cr4);
    put(", IA32_STAR=0x");
    serial_print_hex(ap.star);
    put(ap.star == STAR_MARK ? " (kept by INIT)\n" : " (not kept)\n");
    if (p == PROFILE_RFC2019) {
        put(ap.set_pinned ? "  its SMEP pin was kept by INIT (setting SMEP faulted: the pin holds\n"
                            "  the value 0 that INIT left in CR4)\n"
                          : "  its SMEP pin was cleared by INIT (SMEP is free again)\n");
    } else if (p == PROFILE_JUN2020) {
        put("  its CR4_PINNED_LOW reads 0x");
        serial_print_hex(ap.pin_value);
        put(ap.pin_value ? ": the pin was kept by INIT\n" : ": the pin was cleared by INIT\n");
    }
}

/* ---------------------------------------------------------------- 5. after the reset */

static void after_reset(enum profile p) {
    put("pinvm demo guest: second boot, after the reset through port 0xCF9 (boot count in CMOS)\n");
    describe(p);
    uint64_t v;
    if (p == PROFILE_JUN2020) {
        put("  CR0_PINNED_HIGH=0x");
        serial_print_hex(rdmsr_safe(MSR_JUN2020_CR0_PINNED_HIGH, &v) ? ~0UL : v);
        put(" CR4_PINNED_HIGH=0x");
        serial_print_hex(rdmsr_safe(MSR_JUN2020_CR4_PINNED_HIGH, &v) ? ~0UL : v);
        put(" CR4_PINNED_LOW=0x");
        serial_print_hex(rdmsr_safe(MSR_JUN2020_CR4_PINNED_LOW, &v) ? ~0UL : v);
        put("\n");
    } else if (p == PROFILE_RFC2019) {
        put("  CR4_PINNED: ");
        put(rdmsr_safe(MSR_RFC2019_CR4_PINNED, &v) ? "the guest may not read it (#GP), so:\n" : "readable\n");
    }
    uint64_t cr4 = protect();
    int smep_free = (cr4 & CR4_SMEP) && load_cr4_safe(cr4 & ~CR4_SMEP) == 0;
    uint64_t cr0 = read_cr0();
    int wp_free = load_cr0_safe(cr0 & ~CR0_WP) == 0;
    load_cr0(cr0);
    load_cr4(cr4);
    put(smep_free && wp_free ? "  CR4.SMEP and CR0.WP can be cleared again: the reset cleared the pins\n"
                             : "  a bit pinned before the reset is still pinned\n");
}

/* ---------------------------------------------------------------- main */

int test_main(void) {
    uint32_t boot = boot_count_next();
    if (boot > 0) {
        boot_count_clear();
        after_reset((enum profile)cmos_read(CMOS_DEMO_PROFILE));
        check("long-mode-active", (rdmsr(MSR_IA32_EFER) & EFER_LMA) != 0);
        return 0;
    }
    hello();
    enum profile p = discover();
    describe(p);
    plant_shellcode();
    uint64_t cr4 = protect();
    put("  protections on: CR0.WP, CR4:");
    put_cr4_bits(cr4);
    put("\n");
    if (p != PROFILE_NONE) pin(p, cr4);
    attack();
    init_sipi(p);
    int cmos = cmos_read(CMOS_BOOT_COUNT_INDEX) == 1 && cmos_read(CMOS_BOOT_CHECK_INDEX) == (1 ^ 0xA5);
    if (p != PROFILE_NONE && !cmos) put("\n(no CMOS RAM to count boots in: not rebooting)\n");
    if (p != PROFILE_NONE && cmos) {
        put("\nrebooting through port 0xCF9 to show that a reset clears the pins\n\n");
        cmos_write(CMOS_DEMO_PROFILE, (uint8_t)p);
        system_reset_cf9();
    }
    boot_count_clear();
    put("\n");
    check("long-mode-active", (rdmsr(MSR_IA32_EFER) & EFER_LMA) != 0);
    return 0;
}
