/*
 * guest.h - the pinvm guest runtime, as seen by a guest test program.
 *
 * A guest provides `int test_main(void)`. The runtime (boot.S + runtime.c) gets it there in
 * 64-bit mode at ring 0 with: a flat GDT (ring 0 and ring 3 code/data, a TSS), 4-level page
 * tables identity-mapping the first 1 GiB with 2 MiB pages (all user-accessible, writable),
 * an IDT that sends all 256 vectors to one C handler, and COM1 initialised.
 *
 * Report protocol (see guests/README.md): one line per check, `ok <name>` or
 * `FAIL <name> got=<hex> want=<hex>`; differential guests print `<name> <hex>...` lines.
 * After test_main returns, the runtime prints `done` and exits through the debug-exit port:
 * code 0 when test_main returned 0 and no check failed, 1 otherwise, 2 on an unexpected trap.
 */
#ifndef PINVM_GUEST_H
#define PINVM_GUEST_H

typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long uint64_t;
typedef signed long int64_t;
typedef unsigned long size_t;

/* Segment selectors of the runtime's GDT (the layout also suits SYSCALL/SYSRET STAR). */
#define SEL_KERNEL_CODE64 0x08
#define SEL_KERNEL_DATA 0x10
#define SEL_USER_CODE32 0x1b
#define SEL_USER_DATA 0x23
#define SEL_USER_CODE64 0x2b
#define SEL_TSS 0x30
#define SEL_KERNEL_CODE32 0x40

/* Debug-exit codes used by the runtime itself. */
#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_UNEXPECTED_TRAP 2

/* The vector ring-3 code uses to come back to ring 0 (see run_at_ring3). */
#define RING3_RETURN_VECTOR 0x80

/* What the CPU reported when a trap fired. */
struct fault_info {
    uint64_t vector;
    uint64_t error_code; /* 0 for vectors that push none */
    uint64_t rip;
    uint64_t cs;
    uint64_t rflags;
    uint64_t cr2;
};

/* A function run by run_at_ring3 / expect_fault: takes one argument, returns one value. */
typedef uint64_t (*guest_fn)(uint64_t arg);

/* The guest's entry point; returns 0 on success. */
int test_main(void);

/* EAX and EBX as the Multiboot loader handed them over. */
extern uint32_t multiboot_magic;
extern uint32_t multiboot_info;

/* COM1 output, polling LSR.THRE before each byte. */
void serial_putc(char c);
void serial_puts(const char *s);
/* Prints value as lowercase hex without leading zeros ("0" for zero), no prefix. */
void serial_print_hex(uint64_t value);
/* Prints a decimal unsigned number. */
void serial_print_dec(uint64_t value);

/* Writes code to the isa-debug-exit port 0xF4; halts forever if nothing is there. */
__attribute__((noreturn)) void debug_exit(uint32_t code);

/* Report protocol. check_eq prints `ok name` or `FAIL name got=.. want=..`, returns 1 if ok. */
int check_eq(const char *name, uint64_t got, uint64_t want);
/* Prints `ok name` when cond is non-zero, `FAIL name got=0 want=1` otherwise. */
int check(const char *name, int cond);
/* Prints one differential line: `name v0 v1 ... v(count-1)` in hex. */
void report_values(const char *name, const uint64_t *values, int count);
/* Number of failed checks so far. */
extern int check_failures;

/* Runs fn(arg) at CPL 3 on the user stack and returns its result (via int 0x80). A trap
 * inside fn that nobody expects is reported and ends the run with EXIT_UNEXPECTED_TRAP. */
uint64_t run_at_ring3(guest_fn fn, uint64_t arg);

/* Runs fn(arg) at ring 0. Returns 1 and fills *info if a trap fired (execution resumes
 * here, fn is abandoned), 0 if fn returned normally. The recovery state is per CPU (by initial
 * APIC ID), so an AP (smp_start_ap) may use it too; run_at_ring3 works on the BSP only (the AP
 * has no TSS). */
int expect_fault(guest_fn fn, uint64_t arg, struct fault_info *info);
/* Same, but fn runs at CPL 3. */
int expect_fault_ring3(guest_fn fn, uint64_t arg, struct fault_info *info);

/* Freestanding libc bits gcc may emit calls to. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Port I/O and control-register access. */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t read_cr0(void) {
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
static inline uint64_t read_cr2(void) {
    uint64_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
static inline uint64_t read_cr3(void) {
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
static inline uint64_t read_cr4(void) {
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
static inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* ================================================================ library extensions
 * (lib/report.c, paging.c, cpu.c, apic.c, smp.c + smp_trampoline.S, smm.c + smm_handler.S, reset.c).
 * Used by the conformance suites in guests/tests/ and by any guest. */

/* Number of passed checks (check_eq/check/report) and of skipped ones (report_skip). */
extern int check_passes;
extern int check_skips;

/* Prints `ok name` or `FAIL name got=0 want=1`, counts it; returns ok. Same as check(). */
int report(const char *name, int ok);
/* Prints `skip name why` (why has no newline; spaces allowed) and counts a skip. */
void report_skip(const char *name, const char *why);
/* A check with a known platform deviation: `ok name` when got == sdm_want; when got ==
 * deviant_value prints `skip name deviation=<deviation> got=<hex> sdm=<hex>` (counted as a
 * skip: the SDM value could not be asserted there); otherwise `FAIL name got=.. want=..`.
 * deviation names an entry of docs/tcg-deviations.md (e.g. "tcg-init-cr0"). Returns 1 unless
 * the check failed. */
int check_sdm(const char *name, uint64_t got, uint64_t sdm_want, uint64_t deviant_value,
              const char *deviation);
/* Prints `SUMMARY pass=N fail=M skip=K`; returns 0 when no check failed, 1 otherwise (a
 * suite's test_main ends with `return report_summary();`). */
int report_summary(void);

/* ---------------------------------------------------------------- registers, CPUID, MSRs */

static inline void load_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline void load_cr2(uint64_t v) { __asm__ volatile("mov %0, %%cr2" ::"r"(v) : "memory"); }
static inline void load_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline void load_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }
static inline uint64_t read_rflags(void) {
    uint64_t v;
    __asm__ volatile("pushfq; popq %0" : "=r"(v));
    return v;
}
static inline uint64_t rdtsc64(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
/* EFLAGS.AC set/clear (SDM Vol.2 STAC, CLAC; need CPUID.7.0:EBX.SMAP). */
static inline void stac(void) { __asm__ volatile("stac" ::: "memory", "cc"); }
static inline void clac(void) { __asm__ volatile("clac" ::: "memory", "cc"); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void io_delay(void) { outb(0x80, 0); }

#define CR0_PE (1UL << 0)
#define CR0_MP (1UL << 1)
#define CR0_EM (1UL << 2)
#define CR0_TS (1UL << 3)
#define CR0_ET (1UL << 4)
#define CR0_NE (1UL << 5)
#define CR0_WP (1UL << 16)
#define CR0_AM (1UL << 18)
#define CR0_NW (1UL << 29)
#define CR0_CD (1UL << 30)
#define CR0_PG (1UL << 31)
#define CR4_PAE (1UL << 5)
#define CR4_PGE (1UL << 7)
#define CR4_OSFXSR (1UL << 9)
#define CR4_OSXMMEXCPT (1UL << 10)
#define CR4_UMIP (1UL << 11)
#define CR4_OSXSAVE (1UL << 18)
#define CR4_SMEP (1UL << 20)
#define CR4_SMAP (1UL << 21)
#define RFLAGS_AC (1UL << 18)

#define MSR_IA32_APIC_BASE 0x1B
#define MSR_IA32_MTRR_PHYSBASE0 0x200
#define MSR_IA32_MTRR_PHYSMASK0 0x201
#define MSR_IA32_PAT 0x277
#define MSR_IA32_MTRR_DEF_TYPE 0x2FF
#define MSR_IA32_EFER 0xC0000080
#define MSR_IA32_STAR 0xC0000081
#define MSR_IA32_LSTAR 0xC0000082
#define MSR_IA32_FMASK 0xC0000084
#define EFER_SCE (1UL << 0)
#define EFER_LME (1UL << 8)
#define EFER_LMA (1UL << 10)
#define EFER_NXE (1UL << 11)
/* SDM Vol.3 11.12.4: the PAT after power-up or RESET. */
#define PAT_POWER_UP_VALUE 0x0007040600070406UL

/* CPUID leaf/subleaf into r[0..3] = EAX, EBX, ECX, EDX. */
void cpuid_count(uint32_t leaf, uint32_t subleaf, uint32_t r[4]);
/* Feature bits (SDM Vol.2 CPUID): CPUID.7.0:EBX.SMEP[7], SMAP[20]; ECX.UMIP[2];
 * CPUID.80000001H:EDX.NX[20]; CPUID.1:ECX.hypervisor[31]. Each returns 0 or 1. */
int cpu_has_smep(void);
int cpu_has_smap(void);
int cpu_has_umip(void);
int cpu_has_nx(void);
int cpu_has_hypervisor(void);
/* Hypervisor leaves: fills sig (13 bytes, NUL-terminated) with the 12-byte signature of leaf
 * 0x40000000 and returns its EAX (the largest hypervisor leaf); 0 and sig = "" when
 * CPUID.1:ECX[31] is clear. */
uint32_t cpuid_hypervisor(char sig[13]);
/* 1 when the signature is "KVMKVMKVM\0\0\0". */
int hypervisor_is_kvm(void);
/* EAX of CPUID 0x40000001 (KVM feature bits) when the hypervisor is KVM, else 0. */
uint32_t kvm_cpuid_features(void);

/* RDMSR/WRMSR that catch a fault: return 0 on success, else the vector (13 for #GP). */
int rdmsr_safe(uint32_t msr, uint64_t *value);
int wrmsr_safe(uint32_t msr, uint64_t value);
/* MOV to CR0/CR4 that catch a fault: return 0 on success, else the vector. */
int load_cr0_safe(uint64_t value);
int load_cr4_safe(uint64_t value);

/* KVM hypercall (VMCALL; nr in RAX, a0..a3 in RBX, RCX, RDX, RSI; result in RAX). Returns 0
 * and stores the result in *ret, or the vector of the fault (6 for #UD). */
int kvm_hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t *ret);

/* ---------------------------------------------------------------- 4-level paging (SDM Vol.3 4.5) */

#define PTE_P 0x1UL
#define PTE_RW 0x2UL
#define PTE_US 0x4UL
#define PTE_PWT 0x8UL
#define PTE_PCD 0x10UL
#define PTE_A 0x20UL
#define PTE_D 0x40UL
#define PTE_PS 0x80UL
#define PTE_G 0x100UL
#define PTE_XD (1UL << 63)
#define PTE_ADDR_MASK 0x000FFFFFFFFFF000UL
#define PAGE_SIZE 4096UL

/* #PF error code bits (SDM Vol.3 4.7). */
#define PF_P (1UL << 0)
#define PF_WR (1UL << 1)
#define PF_US (1UL << 2)
#define PF_RSVD (1UL << 3)
#define PF_ID (1UL << 4)

/* Vectors (SDM Vol.3 6.3.1). */
#define VEC_UD 6
#define VEC_DF 8
#define VEC_GP 13
#define VEC_PF 14

static inline void invlpg_page(uint64_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }
/* Reloads CR3 (flushes non-global TLB entries). */
static inline void tlb_flush_all(void) { load_cr3(read_cr3()); }

/* Maps the 4 KiB page at virtual va to physical pa with flags (PTE_P is added; use PTE_RW,
 * PTE_US, PTE_XD, PTE_PCD|PTE_PWT, PTE_G). Upper levels are created with P|RW|US so the leaf
 * decides; a 2 MiB page of the runtime's identity map that covers va is split into 4 KiB pages
 * with the same rights first. Flushes va with INVLPG. Returns 0, or -1 when out of table pages
 * or va is not canonical. Table pages come from a static pool (64 pages). */
int map_page(uint64_t va, uint64_t pa, uint64_t flags);
/* Clears the 4 KiB PTE of va (if any) and flushes va. */
void unmap_page(uint64_t va);
/* Pointer to the 4 KiB PTE that maps va, or 0 when va is not mapped by a 4 KiB page (splitting
 * nothing). Edit it, then invlpg_page(va). */
uint64_t *get_pte(uint64_t va);
/* Sets and clears bits in va's 4 KiB PTE (splitting a 2 MiB page if needed) and flushes va;
 * returns the new PTE, 0 when va cannot be mapped. */
uint64_t update_pte(uint64_t va, uint64_t set, uint64_t clear);

/* ---------------------------------------------------------------- user pages (ring 3) */

/* Ring-3 code and data. The runtime's identity map is user-accessible everywhere; for SMEP and
 * SMAP a guest needs a kernel/user split: put ring-3 functions in USER_TEXT and their data in
 * USER_DATA (page-aligned sections of the image, between __user_start and __user_end), then call
 * paging_split_user(): every other page of 0..1 GiB becomes supervisor-only (U/S=0), the user
 * sections stay U/S=1. run_at_ring3/expect_fault_ring3 keep working (their trampoline and the
 * user stack live in the user sections). Ring-3 functions must not call kernel functions or
 * read kernel data (string literals included). */
#define USER_TEXT __attribute__((section(".user.text"), noinline, noclone))
#define USER_DATA __attribute__((section(".user.data")))
extern char __user_start[], __user_end[];
/* Makes 0..1 GiB supervisor-only except [__user_start, __user_end). Idempotent. Returns 0. */
int paging_split_user(void);
/* One spare 4 KiB page of USER_DATA (user-accessible after paging_split_user). */
extern uint8_t user_page[4096];

/* ---------------------------------------------------------------- local xAPIC (SDM Vol.3 10/11) */

#define APIC_DEFAULT_BASE 0xFEE00000UL
#define APIC_ID 0x20
#define APIC_VERSION 0x30
#define APIC_TPR 0x80
#define APIC_EOI 0xB0
#define APIC_SVR 0xF0
#define APIC_ESR 0x280
#define APIC_ICR_LOW 0x300
#define APIC_ICR_HIGH 0x310
#define APIC_LVT_TIMER 0x320
/* ICR fields (SDM Vol.3 "Interrupt Command Register"). */
#define APIC_DM_FIXED (0U << 8)
#define APIC_DM_SMI (2U << 8)
#define APIC_DM_NMI (4U << 8)
#define APIC_DM_INIT (5U << 8)
#define APIC_DM_STARTUP (6U << 8)
#define APIC_DELIVERY_PENDING (1U << 12)
#define APIC_LEVEL_ASSERT (1U << 14)
#define APIC_TRIGGER_LEVEL (1U << 15)
#define APIC_DEST_SELF (1U << 18)
#define APIC_DEST_ALL_BUT_SELF (3U << 18)

/* Maps the APIC page (IA32_APIC_BASE) uncached (PCD|PWT, XD) at its identity address and
 * software-enables the APIC (SVR = 0x1FF). Safe to call more than once. Returns the base. */
uint64_t apic_init(void);
uint32_t apic_read(uint32_t reg);
void apic_write(uint32_t reg, uint32_t value);
/* This CPU's APIC ID (APIC_ID register bits 31:24). */
uint32_t apic_id(void);
/* Writes ICR high (destination APIC ID << 24) then ICR low, waits for delivery status idle;
 * returns 0, or -1 if it stayed pending. */
int apic_send_ipi(uint32_t dest_apic_id, uint32_t icr_low);
/* INIT (level assert, then the level de-assert), STARTUP with vector (page = vector << 12),
 * and an SMI to this CPU (delivery mode SMI, physical destination = own APIC ID: the "self"
 * shorthand is valid only for fixed delivery). */
int apic_send_init(uint32_t dest_apic_id);
int apic_send_sipi(uint32_t dest_apic_id, uint8_t vector);
int apic_send_self_smi(void);

/* ---------------------------------------------------------------- SMP bring-up */

#define SMP_MAX_CPUS 4
/* Where the real-mode trampoline is copied (4 KiB aligned, below 1 MiB): SIPI vector 0x08. */
#define SMP_TRAMPOLINE_ADDR 0x8000UL
#define SMP_SIPI_VECTOR (SMP_TRAMPOLINE_ADDR >> 12)

/* What an AP held at its SIPI entry, stored by the trampoline before it changes anything
 * (real mode; SDM Vol.3 "Processor States Following Power-up, Reset, or INIT"). */
struct ap_entry_state {
    uint32_t eax, ebx, ecx, edx, esi, edi, ebp, esp;
    uint32_t eflags;
    uint32_t cs, ds, es, fs, gs, ss;
    uint32_t ip;       /* offset of the trampoline's first instruction, from CALL/POP: 0 */
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr6, dr7;
    uint32_t efer_lo, efer_hi;
    uint16_t gdtr_limit, idtr_limit;
    uint32_t gdtr_base, idtr_base;
    uint16_t fcw, fsw, ftw; /* x87 control, status and (full) tag word, by FNSTENV/FLDENV */
    uint16_t pad;
    uint64_t tsc;
    /* The trampoline's segment probes (smp_trampoline.S): IVT entry 13 as it wrote it (its own
     * #GP handler), then DS:34H, FS:34H, GS:34H read before those registers were loaded (equal
     * to the marker when the base is 0), and per segment DS, ES, FS, GS, SS the vector of a byte
     * read at offset FFFFH and at 10000H with a 32-bit address (0 = no fault). */
    uint32_t ivt_marker;
    uint32_t base_probe[3];
    uint8_t limit_fault[10];
};
/* The record of the latest SIPI entry (valid after smp_start_ap returned 0). */
extern volatile struct ap_entry_state smp_ap_entry;

/* A function run on an AP in 64-bit mode at ring 0 (interrupts off, the BSP's GDT, IDT and
 * page tables, its own 16 KiB stack). cpu is the AP's slot (1..SMP_MAX_CPUS-1). */
typedef void (*ap_function)(uint32_t cpu, uint64_t arg);

/* Copies the trampoline below 1 MiB, sends INIT, waits, sends SIPI twice (MP spec
 * INIT-SIPI-SIPI), and waits until the AP has entered fn. The AP gets stack slot `cpu`
 * (1..SMP_MAX_CPUS-1). When fn returns the AP marks itself done and halts (CLI; HLT), so it
 * can be INITed and started again. Returns 0, or -1 if the AP did not start. */
int smp_start_ap(uint32_t dest_apic_id, uint32_t cpu, ap_function fn, uint64_t arg);
/* The same with another SIPI vector (01H..9FH): the trampoline is copied to vector << 12 and
 * the AP starts there at CS = vector << 8, IP = 0 (SDM Vol.3 "MP Initialization": the SIPI
 * vector names the 4 KiB page of the start-up code). The page must be free RAM below 1 MiB:
 * not 9000H (Multiboot info under QEMU and pinvm) nor the BIOS areas (A0000H and up). */
int smp_start_ap_vector(uint32_t dest_apic_id, uint32_t cpu, ap_function fn, uint64_t arg, uint8_t vector);
/* Waits until the AP in slot cpu returned from its function; 0 when done, -1 on timeout. */
int smp_wait_ap(uint32_t cpu);
/* Shared flags per slot, written by the AP: started (entered fn) and done (fn returned). */
extern volatile uint32_t smp_ap_started[SMP_MAX_CPUS];
extern volatile uint32_t smp_ap_done[SMP_MAX_CPUS];
/* The CPU count is not parsed from ACPI/MP tables: under QEMU -smp N (and pinvm) the APIC IDs
 * are 0..N-1, so a suite starts APIC ID 1 and skips when smp_start_ap returns -1. */

/* ---------------------------------------------------------------- SMM (SDM Vol.3 32) */

#define SMM_DEFAULT_SMBASE 0x30000UL
#define SMM_HANDLER_ADDR (SMM_DEFAULT_SMBASE + 0x8000)
/* What the SMM handler does and records. It runs at SMBASE+8000H in SMM (big real mode,
 * CS base = SMBASE), reads the save area's revision ID (SMBASE+7EFCH) and picks the layout:
 * AMD64 (revision bits 7:0 = 64H, as QEMU writes: CR0 at SMBASE+FF58H, CR4 at FF48H) or
 * Intel 64 (CR0 at SMBASE+FFF8H, CR4 at FE40H; SDM Vol.3 Table 32-3), records them, applies
 * cr0 = (cr0 & ~cr0_clear) | cr0_set and the same for CR4 to the low 32 bits of the images,
 * counts the entry and executes RSM. */
struct smm_handler_config {
    uint32_t cr0_set, cr0_clear, cr4_set, cr4_clear;
};
struct smm_handler_record {
    uint32_t count;    /* times the handler ran */
    uint32_t revision; /* SMM revision identifier from the save area */
    uint32_t cr0, cr4; /* low halves of the CR0/CR4 images as found (before modification) */
};
/* Copies the handler to SMM_HANDLER_ADDR with cfg (0 = record only) and clears the record. */
void smm_install_handler(const struct smm_handler_config *cfg);
/* The handler's record (in its copy at SMM_HANDLER_ADDR). */
volatile struct smm_handler_record *smm_record(void);
/* Triggers an SMI by a self-IPI with delivery mode SMI; returns 1 if our handler ran (the count
 * went up), 0 otherwise (no SMM, or firmware moved SMBASE, e.g. SeaBIOS under QEMU). */
int smm_trigger_self_ipi(void);
/* Triggers an SMI by writing cmd to the APM control port 0xB2 (if the chipset has it enabled);
 * returns 1 if our handler ran. */
int smm_trigger_apm(uint8_t cmd);

/* ---------------------------------------------------------------- reset, boot count */

/* CMOS NVRAM bytes holding the boot count and its check byte (count ^ 0xA5). Not 0x38/0x39:
 * SeaBIOS reads CMOS 0x38 as a boot-order byte under QEMU. */
#define CMOS_BOOT_COUNT_INDEX 0x6E
#define CMOS_BOOT_CHECK_INDEX 0x6F
uint8_t cmos_read(uint8_t index);
void cmos_write(uint8_t index, uint8_t value);
/* Reads the boot count (0 when the check byte does not match: first boot), stores count+1,
 * and returns the old count: 0 on the first boot, 1 after one reset, ... */
uint32_t boot_count_next(void);
/* Clears the boot count (so the next power-on starts at 0). */
void boot_count_clear(void);
/* Hard reset through the reset control register: writes 0x02 then 0x06 to port 0xCF9 (SYS_RST,
 * RST_CPU). Does not return (halts if nothing resets). */
__attribute__((noreturn)) void system_reset_cf9(void);

/* State the BSP held at _start (saved by boot.S before it changes anything). Valid on
 * every boot. */
struct entry_state {
    uint32_t eax, ebx;
    uint32_t cr0, cr4;
    uint32_t efer_lo, efer_hi;
    uint32_t dr6, dr7;
    uint32_t tsc_lo, tsc_hi;
    uint32_t apic_base_lo, apic_base_hi;
    uint32_t pat_lo, pat_hi;
    uint32_t eflags;
};
extern struct entry_state boot_entry_state;

#endif
