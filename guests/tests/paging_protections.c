/*
 * paging_protections.c - conformance suite 1: supervisor-mode protections of 4-level paging and
 * UMIP, each check decided by the values the SDM defines.
 *
 *   smep.*  CR4.SMEP (SDM Vol.3 4.6.1): a supervisor-mode instruction fetch from a user-mode
 *           page faults; user fetches and supervisor data accesses are not affected.
 *   smap.*  CR4.SMAP (SDM Vol.3 4.6.1): explicit supervisor data reads/writes of user-mode
 *           pages fault when EFLAGS.AC=0 and are allowed with AC=1 (STAC); implicit
 *           supervisor-mode accesses (here: the LDT descriptor read of a MOV to DS, at CPL 3
 *           and at CPL 0; SDM Vol.3 4.6 "implicit supervisor-mode access") fault whatever AC
 *           is (4.6.1: "If EFLAGS.AC = 0 or the access is implicit, data may not be read from
 *           any user-mode address").
 *   wp.*    CR0.WP (SDM Vol.3 4.6.1): a supervisor write to a read-only page faults only when
 *           WP=1; a user write to a read-only page always faults.
 *   nx.*    IA32_EFER.NXE with the XD bit (SDM Vol.3 4.6.1, 4.6.2): instruction fetches from an
 *           XD page fault, data reads do not.
 *   umip.*  CR4.UMIP (SDM Vol.3 2.5; Vol.2 SGDT/SIDT/SLDT/SMSW/STR): at CPL > 0 the five
 *           instructions raise #GP(0); at CPL 0, or with UMIP=0, they execute.
 *
 * Every expected fault is checked for vector, error code (SDM Vol.3 4.7, Figure 4-12: P=bit 0,
 * W/R=1, U/S=2, RSVD=3, I/D=4; #GP: 0), RIP of the faulting instruction and, for #PF, CR2 (the
 * linear address accessed). A feature CPUID does not report is skipped (`skip` lines).
 *
 * The guest first splits kernel from user (paging_split_user): the image is supervisor-only
 * except its USER_TEXT/USER_DATA pages, so SMEP/SMAP can be enabled at all.
 * Output: one line per check, then `SUMMARY pass=N fail=M skip=K`, `done`; exit 0 on all-pass.
 */
#include "guest.h"

/* ---------------------------------------------------------------- accessors with exact RIPs */

/* Kernel (supervisor page) and user (USER_TEXT) routines whose faulting instruction is the
 * routine's first instruction, so RIP can be checked exactly. arg = the linear address. */
uint64_t k_read(uint64_t va);
uint64_t k_write(uint64_t va);
uint64_t k_call(uint64_t va);
uint64_t u_read(uint64_t va);
uint64_t u_write(uint64_t va);
uint64_t u_call(uint64_t va);
uint64_t u_ret1(uint64_t arg);
/* UMIP probes: each starts with the instruction; arg = a user buffer for the memory forms. */
uint64_t u_sgdt(uint64_t buf), u_sidt(uint64_t buf), u_sldt(uint64_t buf), u_smsw(uint64_t buf),
    u_str(uint64_t buf);
/* MOV DS, selector 0x0f (LDT entry 1, RPL 3) with EFLAGS.AC set (u_lds_ac1) or clear
 * (u_lds_ac0); the MOV is at label u_lds_ac1_mov / u_lds_ac0_mov. */
uint64_t u_lds_ac1(uint64_t unused), u_lds_ac0(uint64_t unused);
extern char u_lds_ac1_mov[], u_lds_ac0_mov[];
/* The same at CPL 0 (a DPL-3 data segment may be loaded at CPL 0), DS restored after. */
uint64_t k_lds_ac1(uint64_t unused), k_lds_ac0(uint64_t unused);
extern char k_lds_ac1_mov[], k_lds_ac0_mov[];

__asm__(".text\n"
        ".globl k_read, k_write, k_call\n"
        "k_read: movzbl (%rdi), %eax\n ret\n"
        "k_write: movb $0xc3, (%rdi)\n xorl %eax, %eax\n ret\n"
        "k_call: jmp *%rdi\n"
        ".globl k_lds_ac1, k_lds_ac0, k_lds_ac1_mov, k_lds_ac0_mov\n"
        "k_lds_ac1: pushfq\n orq $0x40000, (%rsp)\n popfq\n movw %ds, %cx\n movw $0x0f, %ax\n"
        "k_lds_ac1_mov: movw %ax, %ds\n movw %cx, %ds\n pushfq\n andq $~0x40000, (%rsp)\n popfq\n"
        " xorl %eax, %eax\n ret\n"
        "k_lds_ac0: pushfq\n andq $~0x40000, (%rsp)\n popfq\n movw %ds, %cx\n movw $0x0f, %ax\n"
        "k_lds_ac0_mov: movw %ax, %ds\n movw %cx, %ds\n xorl %eax, %eax\n ret\n"
        ".pushsection .user.text, \"ax\"\n"
        ".globl u_read, u_write, u_call, u_ret1, u_sgdt, u_sidt, u_sldt, u_smsw, u_str\n"
        "u_read: movzbl (%rdi), %eax\n ret\n"
        "u_write: movb $0xc3, (%rdi)\n xorl %eax, %eax\n ret\n"
        "u_call: jmp *%rdi\n"
        "u_ret1: leaq 1(%rdi), %rax\n ret\n"
        "u_sgdt: sgdt (%rdi)\n xorl %eax, %eax\n ret\n"
        "u_sidt: sidt (%rdi)\n xorl %eax, %eax\n ret\n"
        "u_sldt: sldt %eax\n ret\n"
        "u_smsw: smsw %eax\n ret\n"
        "u_str: str %eax\n ret\n"
        ".globl u_lds_ac1, u_lds_ac0, u_lds_ac1_mov, u_lds_ac0_mov\n"
        "u_lds_ac1: pushfq\n orq $0x40000, (%rsp)\n popfq\n movw $0x0f, %ax\n"
        "u_lds_ac1_mov: movw %ax, %ds\n movw $0x23, %ax\n movw %ax, %ds\n xorl %eax, %eax\n ret\n"
        "u_lds_ac0: pushfq\n andq $~0x40000, (%rsp)\n popfq\n movw $0x0f, %ax\n"
        "u_lds_ac0_mov: movw %ax, %ds\n movw $0x23, %ax\n movw %ax, %ds\n xorl %eax, %eax\n ret\n"
        ".popsection\n");

/* ---------------------------------------------------------------- test memory */

static USER_DATA uint8_t user_data[4096] __attribute__((aligned(4096)));
static USER_DATA uint8_t user_ro[4096] __attribute__((aligned(4096)));
static USER_DATA uint8_t user_xd[4096] __attribute__((aligned(4096)));
static USER_DATA uint64_t user_ldt[512] __attribute__((aligned(4096)));
static uint8_t kernel_ro[4096] __attribute__((aligned(4096)));
static uint8_t kernel_code[4096] __attribute__((aligned(4096)));

extern uint64_t gdt[];
/* A copy of the runtime's GDT (entries 0..8) with an LDT descriptor at selector 0x50. */
static uint64_t suite_gdt[12] __attribute__((aligned(16)));
#define SEL_SUITE_LDT 0x50
#define LDT_SELECTOR_RPL3 0x0f /* index 1, TI=1, RPL 3 */

struct __attribute__((packed)) table_register {
    uint16_t limit;
    uint64_t base;
};

/* ---------------------------------------------------------------- naming, fault checks */

static char name_buffer[128];

/* prefix + "." + suffix in a static buffer (one name at a time). */
static const char *nm(const char *prefix, const char *suffix) {
    size_t a = strlen(prefix), b = strlen(suffix);
    if (a + b + 2 > sizeof(name_buffer)) b = sizeof(name_buffer) - a - 2;
    memcpy(name_buffer, prefix, a);
    name_buffer[a] = '.';
    memcpy(name_buffer + a + 1, suffix, b);
    name_buffer[a + 1 + b] = 0;
    return name_buffer;
}

static int run(int cpl, guest_fn fn, uint64_t arg, struct fault_info *info) {
    memset(info, 0, sizeof(*info));
    return cpl ? expect_fault_ring3(fn, arg, info) : expect_fault(fn, arg, info);
}

/* fn(arg) at cpl must raise #PF with error code `error` at RIP `rip` with CR2 = `cr2`. */
static void expect_pf(const char *name, int cpl, guest_fn fn, uint64_t arg, uint64_t error, uint64_t cr2,
                      uint64_t rip) {
    struct fault_info info;
    int faulted = run(cpl, fn, arg, &info);
    check_eq(nm(name, "faulted"), (uint64_t)faulted, 1);
    if (!faulted) return;
    check_eq(nm(name, "vector"), info.vector, VEC_PF);
    check_eq(nm(name, "error"), info.error_code, error);
    check_eq(nm(name, "cr2"), info.cr2, cr2);
    check_eq(nm(name, "rip"), info.rip, rip);
}

/* fn(arg) at cpl must raise #GP(0) at RIP `rip`. */
static void expect_gp0(const char *name, int cpl, guest_fn fn, uint64_t arg, uint64_t rip) {
    struct fault_info info;
    int faulted = run(cpl, fn, arg, &info);
    check_eq(nm(name, "faulted"), (uint64_t)faulted, 1);
    if (!faulted) return;
    check_eq(nm(name, "vector"), info.vector, VEC_GP);
    check_eq(nm(name, "error"), info.error_code, 0);
    check_eq(nm(name, "rip"), info.rip, rip);
}

/* fn(arg) at cpl must not fault. */
static void expect_ok(const char *name, int cpl, guest_fn fn, uint64_t arg) {
    struct fault_info info;
    int faulted = run(cpl, fn, arg, &info);
    if (faulted) {
        check_failures++;
        serial_puts("FAIL ");
        serial_puts(nm(name, "no-fault"));
        serial_puts(" vector=");
        serial_print_hex(info.vector);
        serial_puts(" error=");
        serial_print_hex(info.error_code);
        serial_puts(" cr2=");
        serial_print_hex(info.cr2);
        serial_puts(" rip=");
        serial_print_hex(info.rip);
        serial_putc('\n');
        return;
    }
    check(nm(name, "no-fault"), 1);
}

static uint64_t cr4_with(uint64_t cr4, uint64_t set, uint64_t clear) { return (cr4 & ~clear) | set; }

/* ---------------------------------------------------------------- SMEP */

static void test_smep(uint64_t cr4) {
    static const char *const names[] = {"smep.off.cpl0-fetch-user", "smep.on.cpl0-fetch-user",
                                        "smep.on.cpl3-fetch-user", "smep.on.cpl0-read-user"};
    if (!cpu_has_smep()) {
        for (int i = 0; i < 4; i++) report_skip(names[i], "CPUID.7.0:EBX.SMEP[7]=0");
        return;
    }
    uint64_t target = (uint64_t)u_ret1;
    load_cr4(cr4_with(cr4, 0, CR4_SMEP));
    expect_ok(names[0], 0, k_call, target);
    load_cr4(cr4_with(cr4, CR4_SMEP, 0));
    /* SDM Vol.3 4.7: P=1 (protection), W/R=0, U/S=0 (supervisor), I/D=1 (fetch, SMEP=1). */
    expect_pf(names[1], 0, k_call, target, PF_P | PF_ID, target, target);
    expect_ok(names[2], 3, u_call, target);
    expect_ok(names[3], 0, k_read, (uint64_t)user_data);
    load_cr4(cr4);
}

/* ---------------------------------------------------------------- SMAP */

static void setup_ldt(void) {
    /* LDT entry 1: 32-bit data, DPL 3, present, writable, accessed (so the CPU need not set
     * the accessed bit; SDM Vol.3 3.4.5). */
    user_ldt[0] = 0;
    user_ldt[1] = 0x00CFF3000000FFFFUL;
    memcpy(suite_gdt, gdt, 9 * sizeof(uint64_t));
    uint64_t base = (uint64_t)user_ldt, limit = 2 * 8 - 1;
    /* 16-byte LDT descriptor, type 2, present, DPL 0 (SDM Vol.3 3.5, 8.2.3 layout). */
    suite_gdt[SEL_SUITE_LDT / 8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x82UL << 40) |
                                   (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    suite_gdt[SEL_SUITE_LDT / 8 + 1] = base >> 32;
    struct table_register g = {sizeof(suite_gdt) - 1, (uint64_t)suite_gdt};
    __asm__ volatile("lgdt %0" ::"m"(g));
    __asm__ volatile("lldt %w0" ::"r"(SEL_SUITE_LDT));
}

static void restore_gdt(void) {
    __asm__ volatile("lldt %w0" ::"r"(0));
    extern char gdt_pointer[];
    __asm__ volatile("lgdt (%0)" ::"r"(gdt_pointer));
}

static void test_smap(uint64_t cr4) {
    static const char *const names[] = {
        "smap.off.cpl0-read-user",     "smap.off.cpl0-write-user",   "smap.on.ac0.cpl0-read-user",
        "smap.on.ac0.cpl0-write-user", "smap.on.ac1.cpl0-read-user", "smap.on.ac1.cpl0-write-user",
        "smap.on.cpl3-read-user",      "smap.on.cpl0-read-kernel",   "smap.off.implicit-ldt-read",
        "smap.on.ac1.implicit-ldt-read", "smap.on.ac0.implicit-ldt-read", "smap.off.cpl0-implicit-ldt-read",
        "smap.on.ac0.cpl0-implicit-ldt-read", "smap.on.ac1.cpl0-implicit-ldt-read"};
    if (!cpu_has_smap()) {
        for (int i = 0; i < 14; i++) report_skip(names[i], "CPUID.7.0:EBX.SMAP[20]=0");
        return;
    }
    uint64_t va = (uint64_t)user_data + 8;
    setup_ldt();
    load_cr4(cr4_with(cr4, 0, CR4_SMAP));
    clac();
    expect_ok(names[0], 0, k_read, va);
    expect_ok(names[1], 0, k_write, va);
    load_cr4(cr4_with(cr4, CR4_SMAP, 0));
    /* SDM Vol.3 4.7: explicit supervisor data access: P=1, U/S=0, W/R = write. */
    expect_pf(names[2], 0, k_read, va, PF_P, va, (uint64_t)k_read);
    expect_pf(names[3], 0, k_write, va, PF_P | PF_WR, va, (uint64_t)k_write);
    stac();
    expect_ok(names[4], 0, k_read, va);
    expect_ok(names[5], 0, k_write, va);
    clac();
    expect_ok(names[6], 3, u_read, va);
    expect_ok(names[7], 0, k_read, (uint64_t)kernel_ro);
    /* Implicit supervisor-mode read of the LDT descriptor (linear address LDT base + 8). */
    uint64_t descriptor = (uint64_t)&user_ldt[1];
    load_cr4(cr4_with(cr4, 0, CR4_SMAP));
    expect_ok(names[8], 3, u_lds_ac1, 0);
    load_cr4(cr4_with(cr4, CR4_SMAP, 0));
    expect_pf(names[9], 3, u_lds_ac1, 0, PF_P, descriptor, (uint64_t)u_lds_ac1_mov);
    expect_pf(names[10], 3, u_lds_ac0, 0, PF_P, descriptor, (uint64_t)u_lds_ac0_mov);
    /* At CPL 0: without SMAP the load works; with SMAP it faults with AC=0 and, the access being
     * implicit, with AC=1 too. QEMU 7.2 TCG lets AC=1 at CPL < 3 cover implicit accesses (its
     * kernel MMU index drops SMAP when AC=1): the load completes there (docs/tcg-deviations.md
     * #19). One line for AC=1: 1 (P, the error code SDM Vol.3 4.7 gives: a supervisor read of
     * a present page) when #PF hit the MOV with CR2 = the descriptor, 0 when nothing faulted. */
    load_cr4(cr4_with(cr4, 0, CR4_SMAP));
    expect_ok(names[11], 0, k_lds_ac1, 0);
    load_cr4(cr4_with(cr4, CR4_SMAP, 0));
    expect_pf(names[12], 0, k_lds_ac0, 0, PF_P, descriptor, (uint64_t)k_lds_ac0_mov);
    {
        struct fault_info info;
        int faulted = run(0, k_lds_ac1, 0, &info);
        clac();
        uint64_t got = !faulted ? 0
                       : info.vector == VEC_PF && info.cr2 == descriptor && info.rip == (uint64_t)k_lds_ac1_mov
                           ? info.error_code
                           : 0xbad0000 | info.vector;
        check_sdm(names[13], got, PF_P, 0, "tcg-smap-implicit");
    }
    load_cr4(cr4);
    restore_gdt();
}

/* ---------------------------------------------------------------- CR0.WP */

static void test_wp(void) {
    uint64_t cr0 = read_cr0();
    uint64_t kva = (uint64_t)kernel_ro + 16, uva = (uint64_t)user_ro + 16;
    update_pte(kva, 0, PTE_RW);
    update_pte(uva, 0, PTE_RW);
    load_cr0(cr0 & ~CR0_WP);
    expect_ok("wp.off.cpl0-write-kernel-ro", 0, k_write, kva);
    expect_ok("wp.off.cpl0-write-user-ro", 0, k_write, uva);
    /* A user-mode write to a read-only page faults whatever WP is: P|W/R|U/S = 7. */
    expect_pf("wp.off.cpl3-write-user-ro", 3, u_write, uva, PF_P | PF_WR | PF_US, uva, (uint64_t)u_write);
    load_cr0(cr0 | CR0_WP);
    expect_pf("wp.on.cpl0-write-kernel-ro", 0, k_write, kva, PF_P | PF_WR, kva, (uint64_t)k_write);
    expect_pf("wp.on.cpl0-write-user-ro", 0, k_write, uva, PF_P | PF_WR, uva, (uint64_t)k_write);
    expect_ok("wp.on.cpl0-read-kernel-ro", 0, k_read, kva);
    expect_pf("wp.on.cpl3-write-user-ro", 3, u_write, uva, PF_P | PF_WR | PF_US, uva, (uint64_t)u_write);
    load_cr0(cr0);
    update_pte(kva, PTE_RW, 0);
    update_pte(uva, PTE_RW, 0);
}

/* ---------------------------------------------------------------- NX */

static void test_nx(void) {
    static const char *const names[] = {"nx.cpl0-fetch-no-xd", "nx.cpl0-fetch-xd", "nx.cpl0-read-xd",
                                        "nx.cpl3-fetch-no-xd", "nx.cpl3-fetch-xd", "nx.cpl3-read-xd"};
    if (!cpu_has_nx()) {
        for (int i = 0; i < 6; i++) report_skip(names[i], "CPUID.80000001H:EDX.NX[20]=0");
        return;
    }
    uint64_t efer = rdmsr(MSR_IA32_EFER);
    wrmsr(MSR_IA32_EFER, efer | EFER_NXE);
    uint64_t kva = (uint64_t)kernel_code, uva = (uint64_t)user_xd;
    kernel_code[0] = 0xc3; /* RET */
    user_xd[0] = 0xc3;
    expect_ok(names[0], 0, k_call, kva);
    update_pte(kva, PTE_XD, 0);
    /* Fetch from an XD page: P=1, I/D=1 (NXE=1), U/S = CPL 3. */
    expect_pf(names[1], 0, k_call, kva, PF_P | PF_ID, kva, kva);
    expect_ok(names[2], 0, k_read, kva);
    expect_ok(names[3], 3, u_call, uva);
    update_pte(uva, PTE_XD, 0);
    expect_pf(names[4], 3, u_call, uva, PF_P | PF_US | PF_ID, uva, uva);
    expect_ok(names[5], 3, u_read, uva);
    update_pte(kva, 0, PTE_XD);
    update_pte(uva, 0, PTE_XD);
    wrmsr(MSR_IA32_EFER, efer);
}

/* ---------------------------------------------------------------- UMIP */

static void test_umip(uint64_t cr4) {
    static const char *const insns[] = {"sgdt", "sidt", "sldt", "smsw", "str"};
    const guest_fn fns[] = {u_sgdt, u_sidt, u_sldt, u_smsw, u_str};
    if (!cpu_has_umip()) {
        for (int i = 0; i < 5; i++) {
            report_skip(nm("umip.on.cpl3", insns[i]), "CPUID.7.0:ECX.UMIP[2]=0");
        }
        return;
    }
    uint64_t buf = (uint64_t)user_data + 64;
    char name[48];
    load_cr4(cr4_with(cr4, 0, CR4_UMIP));
    for (int i = 0; i < 5; i++) expect_ok(nm("umip.off.cpl3", insns[i]), 3, fns[i], buf);
    load_cr4(cr4_with(cr4, CR4_UMIP, 0));
    for (int i = 0; i < 5; i++) {
        /* nm() reuses one buffer: keep this name while expect_gp0 builds its own. */
        memcpy(name, nm("umip.on.cpl3", insns[i]), strlen(name_buffer) + 1);
        expect_gp0(name, 3, fns[i], buf, (uint64_t)fns[i]);
    }
    for (int i = 0; i < 5; i++) expect_ok(nm("umip.on.cpl0", insns[i]), 0, fns[i], buf);
    load_cr4(cr4);
}

/* ---------------------------------------------------------------- main */

int test_main(void) {
    serial_puts("paging_protections: SMEP, SMAP, CR0.WP, NX, UMIP (SDM Vol.3 4.6, 4.7, 2.5)\n");
    paging_split_user();
    uint64_t cr4 = read_cr4();
    /* The split itself: a user-mode read of a supervisor page now faults (P|U/S = 5). */
    expect_pf("split.cpl3-read-kernel", 3, u_read, (uint64_t)kernel_ro, PF_P | PF_US, (uint64_t)kernel_ro,
              (uint64_t)u_read);
    test_smep(cr4);
    test_smap(cr4);
    test_wp();
    test_nx();
    test_umip(cr4);
    return report_summary();
}
