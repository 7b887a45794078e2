/*
 * guest32.h - the pinvm 32-bit protected-mode guest runtime (guests/lib32), as seen by a guest.
 *
 * A guest provides `int test_main(void)`. The runtime (boot32.S + runtime32.c) gets it there in
 * 32-bit protected mode at CPL 0 with paging off: its own flat GDT with ring-0 and ring-3
 * segments and a 32-bit TSS (SEL32_* below), an IDT whose vectors 0-31 (DPL 0) and 80H (DPL 3)
 * are 32-bit interrupt gates (SDM Vol.3 6.11) into one C handler, a 16 KiB stack, and COM1
 * initialised. paging32.c offers 32-bit paging (SDM Vol.3 4.3) with 4 KiB
 * pages for the first 8 MiB.
 *
 * Report lines as in guests/lib: `ok <name>`, `FAIL <name> got=<hex> want=<hex>`,
 * `skip <name> <why>`, `SUMMARY pass=N fail=M skip=K`. After test_main returns the runtime
 * prints `done` and exits through isa-debug-exit (port 0xF4): 0 when test_main returned 0 and
 * no check failed, 1 otherwise, 2 on an unexpected trap.
 */
#ifndef PINVM_GUEST32_H
#define PINVM_GUEST32_H

typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef unsigned int size_t;

/* Segment selectors of the runtime's GDT (boot32.S): flat 4 GiB segments, and the TSS. */
#define SEL32_CODE 0x08
#define SEL32_DATA 0x10
#define SEL32_USER_CODE 0x1b
#define SEL32_USER_DATA 0x23
#define SEL32_TSS 0x28
#define GDT32_ENTRIES 6
/* The vector ring-3 code uses to come back (INT 80H, a DPL-3 gate). */
#define RING3_RETURN_VECTOR 0x80

/* Debug-exit codes used by the runtime itself. */
#define EXIT32_PASS 0
#define EXIT32_FAIL 1
#define EXIT32_UNEXPECTED_TRAP 2

/* What the CPU reported when a trap fired (expect_fault32), or fn's result when none did. */
struct fault_info32 {
    uint32_t vector;
    uint32_t error_code; /* 0 for vectors that push none */
    uint32_t eip;
    uint32_t cs;
    uint32_t eflags;
    uint32_t cr2;
    uint32_t result; /* fn's return value when no trap fired */
};

/* A function run by expect_fault32: one argument, one result (cdecl). */
typedef uint32_t (*guest32_fn)(uint32_t arg);

/* The guest's entry point; returns 0 on success. */
int test_main(void);

/* EAX and EBX as the Multiboot loader handed them over. */
extern uint32_t multiboot32_magic;
extern uint32_t multiboot32_info;

/* COM1 output, polling LSR.THRE before each byte. */
void serial_putc(char c);
void serial_puts(const char *s);
/* Lowercase hex without leading zeros ("0" for zero), no prefix; and unsigned decimal. */
void serial_print_hex(uint32_t value);
void serial_print_dec(uint32_t value);

/* Writes code to the isa-debug-exit port 0xF4; halts forever if nothing is there. */
__attribute__((noreturn)) void debug_exit(uint32_t code);

/* Report protocol (same lines as guests/lib). */
extern int check_passes, check_failures, check_skips;
/* `ok name` when got == want, else `FAIL name got=.. want=..`; returns 1 if ok. */
int check_eq(const char *name, uint32_t got, uint32_t want);
/* `ok name`, or `FAIL name got=0 want=1`; returns ok. */
int report(const char *name, int ok);
/* `skip name why`, counted as a skip. */
void report_skip(const char *name, const char *why);
/* `SUMMARY pass=N fail=M skip=K`; returns 0 when no check failed, 1 otherwise. */
int report_summary(void);

/* Runs fn(arg) at CPL 0. Returns 1 and fills *info if a trap (vector 0-31) fired: execution
 * resumes here with the caller's EFLAGS (AC included) and fn is abandoned. Returns 0 and sets
 * info->result if fn returned. */
int expect_fault32(guest32_fn fn, uint32_t arg, struct fault_info32 *info);
/* Same, with fn(arg) at CPL 3 (CS 0x1b, data 0x23, EFLAGS.IF=0) on the runtime's 8 KiB user
 * stack; traps come back on the TSS's ESP0 stack. With paging on, fn's code, the return
 * trampoline (ring3_return32, in .text) and the user stack (in .bss) must be on U/S=1 pages. */
int expect_fault32_ring3(guest32_fn fn, uint32_t arg, struct fault_info32 *info);

/* Freestanding libc bits gcc may emit calls to. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

/* Port I/O. */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* Control registers (SDM Vol.3 2.5). */
static inline uint32_t read_cr0(void) {
    uint32_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
static inline uint32_t read_cr2(void) {
    uint32_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
static inline uint32_t read_cr3(void) {
    uint32_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
static inline uint32_t read_cr4(void) {
    uint32_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
static inline void load_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline void load_cr2(uint32_t v) { __asm__ volatile("mov %0, %%cr2" ::"r"(v) : "memory"); }
static inline void load_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline void load_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }
static inline uint32_t read_eflags(void) {
    uint32_t v;
    __asm__ volatile("pushfl; popl %0" : "=r"(v));
    return v;
}
/* EFLAGS.AC set/clear (SDM Vol.2 STAC, CLAC; need CPUID.7.0:EBX.SMAP). */
static inline void stac(void) { __asm__ volatile("stac" ::: "memory", "cc"); }
static inline void clac(void) { __asm__ volatile("clac" ::: "memory", "cc"); }

#define CR0_PE (1U << 0)
#define CR0_ET (1U << 4)
#define CR0_NE (1U << 5)
#define CR0_WP (1U << 16)
#define CR0_NW (1U << 29)
#define CR0_CD (1U << 30)
#define CR0_PG (1U << 31)
#define CR4_PSE (1U << 4)
#define CR4_PAE (1U << 5)
#define CR4_UMIP (1U << 11)
#define CR4_PCIDE (1U << 17)
#define CR4_SMEP (1U << 20)
#define CR4_SMAP (1U << 21)
#define EFLAGS_AC (1U << 18)

/* Vectors (SDM Vol.3 6.3.1). */
#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14

/* CPUID leaf/subleaf into r[0..3] = EAX, EBX, ECX, EDX. */
void cpuid_count(uint32_t leaf, uint32_t subleaf, uint32_t r[4]);
/* CPUID.7.0:EBX.SMEP[7], EBX.SMAP[20], ECX.UMIP[2]; CPUID.1:ECX.PCID[17]. Each 0 or 1. */
int cpu_has_smep(void);
int cpu_has_smap(void);
int cpu_has_umip(void);
int cpu_has_pcid(void);

/* MOV to CR0/CR4 that catch a fault: 0 on success, else the vector (13 for #GP); the error
 * code goes to *error_code when that is not 0. */
int load_cr0_safe(uint32_t value, uint32_t *error_code);
int load_cr4_safe(uint32_t value, uint32_t *error_code);

/* ---------------------------------------------------------------- 32-bit paging (SDM Vol.3 4.3) */

/* PDE/PTE bits (SDM Vol.3 Tables 4-5, 4-6). */
#define PTE32_P 0x1U
#define PTE32_RW 0x2U
#define PTE32_US 0x4U
#define PTE32_A 0x20U
#define PTE32_D 0x40U
#define PAGE32_SIZE 4096U
/* The identity map covers [0, PAGING32_LIMIT). */
#define PAGING32_LIMIT (8U << 20)

/* #PF error code bits (SDM Vol.3 4.7). */
#define PF_P (1U << 0)
#define PF_WR (1U << 1)
#define PF_US (1U << 2)
#define PF_RSVD (1U << 3)
#define PF_ID (1U << 4)

/* Builds a page directory whose first two PDEs (P|RW|US, so the PTE decides) point to page
 * tables identity-mapping 0..8 MiB with 4 KiB pages of rights PTE32_P|flags, clears CR4.PSE
 * and CR4.PAE, loads CR3 and sets CR0.PG. Other CR0 bits (WP) are left as they are. */
void paging32_enable(uint32_t flags);
/* Clears CR0.PG. */
void paging32_disable(void);
/* Pointer to the PTE of va, 0 when va >= PAGING32_LIMIT. */
uint32_t *pte32(uint32_t va);
/* Maps the 4 KiB page va -> pa with PTE32_P|flags and flushes va (INVLPG); -1 when va is out of
 * range, else 0. */
int map_page32(uint32_t va, uint32_t pa, uint32_t flags);
/* Clears va's PTE and flushes va. */
void unmap_page32(uint32_t va);
/* Sets and clears bits of va's PTE and flushes va; returns the new PTE (0 when out of range). */
uint32_t update_pte32(uint32_t va, uint32_t set, uint32_t clear);
static inline void invlpg32(uint32_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

#endif
