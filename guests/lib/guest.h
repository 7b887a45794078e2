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
 * here, fn is abandoned), 0 if fn returned normally. */
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

#endif
