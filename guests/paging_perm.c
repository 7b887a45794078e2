/*
 * paging_perm.c - differential guest for 4-level paging access rights (SDM Vol.3 4.6) and
 * page-fault reporting (4.7) and accessed/dirty bits (4.8).
 *
 * For every combination of U/S, R/W and XD at the PTE (and, separately, U/S and R/W at the
 * PDE), CR0.WP, CPL 0/3 and access kind read/write/execute, the guest performs one access to
 * a test page mapped at 1 GiB and prints one line:
 *   pf <cpl> <level> <us> <rw> <xd> <wp> <access>  <faulted> <vector> <error> <cr2-ok> <pte-AD>
 * The same binary runs under pinvm and QEMU; the lines must agree. It also checks reserved
 * bits (XD with EFER.NXE=0, a physical-address bit above MAXPHYADDR) and INVLPG.
 *
 * SMEP/SMAP need a kernel/user split the runtime does not have (it maps everything
 * user-accessible); they are covered by pinvm's unit tests (test/cpu/paging.test.ts).
 */
#include "guest.h"

#define TEST_VA 0x40000000UL /* PDPT[1]: outside the runtime's 1 GiB identity map */
#define PTE_P 0x1UL
#define PTE_RW 0x2UL
#define PTE_US 0x4UL
#define PTE_A 0x20UL
#define PTE_D 0x40UL
#define PTE_XD (1UL << 63)
#define EFER 0xc0000080u
#define EFER_NXE (1UL << 11)
#define CR0_WP (1UL << 16)
#define NOINLINE __attribute__((noinline, noclone))

static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static uint8_t frame[4096] __attribute__((aligned(4096)));

static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

static NOINLINE uint64_t do_read(uint64_t va) { return *(volatile uint8_t *)va; }
static NOINLINE uint64_t do_write(uint64_t va) {
    *(volatile uint8_t *)va = 0xc3; /* keep the RET in place */
    return 0;
}
static NOINLINE uint64_t do_exec(uint64_t va) {
    ((void (*)(void))va)();
    return 0;
}

static uint64_t *pdpt_entry(void) {
    uint64_t *pml4 = (uint64_t *)(read_cr3() & ~0xfffUL);
    uint64_t *pdpt = (uint64_t *)(pml4[0] & 0xffffffffff000UL);
    return &pdpt[1];
}

/* Map TEST_VA with the given PDE and PTE permission bits, flushing the old translation. */
static void map_test_page(uint64_t pde_bits, uint64_t pte_bits) {
    pd[0] = (uint64_t)pt | PTE_P | pde_bits;
    pt[0] = (uint64_t)frame | PTE_P | pte_bits;
    invlpg(TEST_VA);
}

static void probe(int cpl, const char *level, uint64_t us, uint64_t rw, uint64_t xd, int wp, int access) {
    static const guest_fn fns[3] = {do_read, do_write, do_exec};
    struct fault_info info = {0};
    uint64_t cr0 = read_cr0();
    write_cr0(wp ? (cr0 | CR0_WP) : (cr0 & ~CR0_WP));
    uint64_t perm = (us ? PTE_US : 0) | (rw ? PTE_RW : 0);
    if (level[0] == 't') map_test_page(PTE_US | PTE_RW, perm | (xd ? PTE_XD : 0));
    else map_test_page(perm, PTE_US | PTE_RW | (xd ? PTE_XD : 0));
    frame[0] = 0xc3;
    int faulted = cpl ? expect_fault_ring3(fns[access], TEST_VA, &info) : expect_fault(fns[access], TEST_VA, &info);
    uint64_t v[5] = {(uint64_t)faulted, faulted ? info.vector : 0, faulted ? info.error_code : 0,
                     faulted ? (info.cr2 == TEST_VA) : 1, (pt[0] >> 5) & 3};
    write_cr0(cr0);
    serial_puts("pf ");
    serial_print_dec((uint64_t)cpl);
    serial_putc(' ');
    serial_puts(level);
    uint64_t bits[5] = {us, rw, xd, (uint64_t)wp, (uint64_t)access};
    for (int n = 0; n < 5; n++) {
        serial_putc(' ');
        serial_print_dec(bits[n]);
    }
    report_values("", v, 5);
}

static NOINLINE uint64_t read_u64(uint64_t va) { return *(volatile uint64_t *)va; }

int test_main(void) {
    for (int n = 0; n < 512; n++) pd[n] = 0;
    *pdpt_entry() = (uint64_t)pd | PTE_P | PTE_RW | PTE_US;
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
    wrmsr(EFER, rdmsr(EFER) | EFER_NXE);

    for (int cpl = 0; cpl <= 3; cpl += 3)
        for (int access = 0; access < 3; access++)
            for (int wp = 0; wp < 2; wp++)
                for (uint64_t bits = 0; bits < 8; bits++) {
                    probe(cpl, "pte", bits & 1, (bits >> 1) & 1, bits >> 2, wp, access);
                    if ((bits >> 2) == 0) probe(cpl, "pde", bits & 1, (bits >> 1) & 1, 0, wp, access);
                }

    /* Accessed/dirty: a read sets A only; a write sets A and D. */
    map_test_page(PTE_RW | PTE_US, PTE_RW | PTE_US);
    (void)do_read(TEST_VA);
    check_eq("ad-after-read", (pt[0] >> 5) & 3, 1);
    (void)do_write(TEST_VA);
    check_eq("ad-after-write", (pt[0] >> 5) & 3, 3);
    check_eq("pde-accessed", (pd[0] >> 5) & 1, 1);

    /* A stale translation is used until INVLPG: remap to not-present without flushing. */
    (void)read_u64(TEST_VA);
    struct fault_info info;
    pt[0] = 0;
    invlpg(TEST_VA);
    check_eq("invlpg-then-notpresent", expect_fault(read_u64, TEST_VA, &info), 1);
    check_eq("notpresent-error", info.error_code, 0);

    /* Reserved bits: XD with EFER.NXE=0 (bit 63 reserved), and a bit above MAXPHYADDR. */
    map_test_page(PTE_RW | PTE_US, PTE_RW | PTE_US | PTE_XD);
    wrmsr(EFER, rdmsr(EFER) & ~EFER_NXE);
    invlpg(TEST_VA);
    int f = expect_fault(read_u64, TEST_VA, &info);
    uint64_t r1[2] = {(uint64_t)f, info.error_code};
    report_values("rsvd-xd-without-nxe", r1, 2);
    wrmsr(EFER, rdmsr(EFER) | EFER_NXE);
    pt[0] = (uint64_t)frame | PTE_P | PTE_RW | (1UL << 51);
    invlpg(TEST_VA);
    f = expect_fault(read_u64, TEST_VA, &info);
    uint64_t r2[2] = {(uint64_t)f, info.error_code};
    report_values("rsvd-bit51", r2, 2);
    return 0;
}
