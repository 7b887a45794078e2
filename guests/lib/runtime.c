/*
 * runtime.c - the C half of the pinvm guest runtime: TSS and IDT setup, COM1 output, the
 * report protocol, the common trap handler, ring-3 entry/exit and expected-fault recovery.
 *
 * boot.S calls runtime_start() in 64-bit mode at ring 0; it sets up the machine, runs the
 * guest's test_main(), prints `done` and leaves through the isa-debug-exit port.
 */
#include "guest.h"

/* ---------------------------------------------------------------- shared with boot.S */

/* Registers as trap_common leaves them on the stack (lowest address first). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Callee-saved state for context_save/context_restore (boot.S relies on this layout). */
struct jump_context {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags;
};

extern char isr_stubs[];
extern uint64_t gdt[];
extern int context_save(struct jump_context *ctx) __attribute__((returns_twice));
extern void context_restore(struct jump_context *ctx, int value) __attribute__((noreturn));
extern void enter_ring3(guest_fn fn, uint64_t arg, uint64_t user_stack_top) __attribute__((noreturn));
void trap_dispatch(struct trap_frame *frame);
void runtime_start(void) __attribute__((noreturn));
void runtime_load_idt(void);

/* ---------------------------------------------------------------- small libc */

void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* ---------------------------------------------------------------- COM1 */

#define COM1 0x3F8
#define UART_LSR_THRE 0x20

static void serial_init(void) {
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* LCR: DLAB on */
    outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1, DLAB off */
    outb(COM1 + 2, 0xC7); /* FIFO on, cleared, 14-byte threshold */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void serial_putc(char c) {
    while (!(inb(COM1 + 5) & UART_LSR_THRE)) {
    }
    outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s) {
    while (*s) serial_putc(*s++);
}

void serial_print_hex(uint64_t value) {
    char buf[17];
    int i = 16;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[value & 15];
        value >>= 4;
    } while (value);
    serial_puts(&buf[i]);
}

void serial_print_dec(uint64_t value) {
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    serial_puts(&buf[i]);
}

/* ---------------------------------------------------------------- exit, report */

void debug_exit(uint32_t code) {
    /* Wait until the UART has handed every byte to the host (LSR.TEMT, bit 6): QEMU's
     * serial backend may still hold output when the exit port ends the process. */
    for (int n = 0; n < 1000000 && !(inb(0x3FD) & 0x40); n++) __asm__ volatile("pause");
    outl(0xF4, code);
    for (;;) __asm__ volatile("cli; hlt");
}

int check_failures;
int check_passes;
int check_skips;

int check_eq(const char *name, uint64_t got, uint64_t want) {
    if (got == want) {
        check_passes++;
        serial_puts("ok ");
        serial_puts(name);
        serial_putc('\n');
        return 1;
    }
    check_failures++;
    serial_puts("FAIL ");
    serial_puts(name);
    serial_puts(" got=");
    serial_print_hex(got);
    serial_puts(" want=");
    serial_print_hex(want);
    serial_putc('\n');
    return 0;
}

int check(const char *name, int cond) { return check_eq(name, cond ? 1 : 0, 1); }

void report_values(const char *name, const uint64_t *values, int count) {
    serial_puts(name);
    for (int i = 0; i < count; i++) {
        serial_putc(' ');
        serial_print_hex(values[i]);
    }
    serial_putc('\n');
}

/* ---------------------------------------------------------------- TSS, IDT */

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

struct __attribute__((packed)) idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

struct __attribute__((packed)) table_pointer {
    uint16_t limit;
    uint64_t base;
};

static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static uint8_t ring0_stack[16384] __attribute__((aligned(16)));  /* RSP0: traps from ring 3 */
static uint8_t double_fault_stack[8192] __attribute__((aligned(16))); /* IST1: #DF, NMI */
/* The ring-3 stack is in the user section so that it stays usable after paging_split_user(). */
static uint8_t user_stack[16384] __attribute__((aligned(16), section(".user.data")));

static void tss_init(void) {
    uint64_t base = (uint64_t)&tss;
    uint64_t limit = sizeof(tss) - 1;
    tss.rsp[0] = (uint64_t)(ring0_stack + sizeof(ring0_stack));
    tss.ist[0] = (uint64_t)(double_fault_stack + sizeof(double_fault_stack));
    tss.iomap_base = sizeof(tss); /* no I/O bitmap: ring 3 port I/O faults */
    /* Available 64-bit TSS (type 9), present, DPL 0; SDM Vol.3 8.2.3. */
    gdt[SEL_TSS / 8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89UL << 40) |
                       (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[SEL_TSS / 8 + 1] = base >> 32;
    __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
}

static void idt_init(void) {
    for (int v = 0; v < 256; v++) {
        uint64_t handler = (uint64_t)(isr_stubs + 16 * v);
        /* 64-bit interrupt gate (type 0xE), present; int3 and int 0x80 callable from ring 3. */
        uint8_t dpl = (v == 3 || v == RING3_RETURN_VECTOR) ? 3 : 0;
        idt[v].offset_low = handler & 0xFFFF;
        idt[v].selector = SEL_KERNEL_CODE64;
        idt[v].ist = (v == 2 || v == 8) ? 1 : 0;
        idt[v].type_attr = 0x80 | (dpl << 5) | 0x0E;
        idt[v].offset_mid = (handler >> 16) & 0xFFFF;
        idt[v].offset_high = handler >> 32;
        idt[v].reserved = 0;
    }
    runtime_load_idt();
}

/* Loads the runtime's IDT into IDTR (also used by application processors, smp.c). */
void runtime_load_idt(void) {
    struct table_pointer p = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(p));
}

/* ---------------------------------------------------------------- traps */

/* Recovery state of one CPU, so that an AP started by smp.c can use expect_fault while the
 * BSP does too. (Ring 3 needs a TSS for RSP0, which only the BSP loads.) */
struct cpu_recovery {
    struct jump_context *volatile fault; /* where a trap resumes (expect_fault) */
    struct fault_info *volatile info;    /* what it fills in */
    struct jump_context *volatile ring3; /* where int 0x80 from ring 3 resumes */
    volatile uint64_t ring3_result;
};
static struct cpu_recovery recovery[SMP_MAX_CPUS];

/* This CPU's recovery state, by its initial APIC ID (CPUID.1:EBX[31:24], SDM Vol.2 CPUID)
 * modulo SMP_MAX_CPUS: QEMU -smp N and pinvm number the CPUs 0..N-1. */
static struct cpu_recovery *this_cpu_recovery(void) {
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    return &recovery[(b >> 24) % SMP_MAX_CPUS];
}

static void fill_fault_info(struct fault_info *info, const struct trap_frame *frame) {
    info->vector = frame->vector;
    info->error_code = frame->error_code;
    info->rip = frame->rip;
    info->cs = frame->cs;
    info->rflags = frame->rflags;
    info->cr2 = read_cr2();
}

void trap_dispatch(struct trap_frame *frame) {
    struct cpu_recovery *r = this_cpu_recovery();
    if (frame->vector == RING3_RETURN_VECTOR && (frame->cs & 3) == 3 && r->ring3) {
        r->ring3_result = frame->rdi;
        context_restore(r->ring3, 1);
    }
    if (r->fault) {
        struct jump_context *target = r->fault;
        fill_fault_info(r->info, frame);
        r->fault = 0;
        context_restore(target, 1);
    }
    struct fault_info info;
    fill_fault_info(&info, frame);
    serial_puts("FAIL unexpected-trap vector=");
    serial_print_hex(info.vector);
    serial_puts(" error=");
    serial_print_hex(info.error_code);
    serial_puts(" rip=");
    serial_print_hex(info.rip);
    serial_puts(" cs=");
    serial_print_hex(info.cs);
    serial_puts(" rflags=");
    serial_print_hex(info.rflags);
    serial_puts(" cr2=");
    serial_print_hex(info.cr2);
    serial_puts("\ndone\n");
    debug_exit(EXIT_UNEXPECTED_TRAP);
}

static void reload_kernel_data_segments(void) {
    __asm__ volatile("mov %0, %%ds; mov %0, %%es" ::"r"(SEL_KERNEL_DATA));
}

uint64_t run_at_ring3(guest_fn fn, uint64_t arg) {
    struct cpu_recovery *r = this_cpu_recovery();
    struct jump_context ctx;
    struct jump_context *volatile outer = r->ring3;
    if (context_save(&ctx) == 0) {
        r->ring3 = &ctx;
        enter_ring3(fn, arg, (uint64_t)(user_stack + sizeof(user_stack)));
    }
    r->ring3 = outer;
    reload_kernel_data_segments();
    return r->ring3_result;
}

int expect_fault(guest_fn fn, uint64_t arg, struct fault_info *info) {
    struct cpu_recovery *r = this_cpu_recovery();
    struct jump_context ctx;
    struct jump_context *volatile outer_recovery = r->fault;
    struct fault_info *volatile outer_info = r->info;
    struct jump_context *volatile outer_ring3 = r->ring3;
    if (context_save(&ctx) == 0) {
        r->info = info;
        r->fault = &ctx;
        fn(arg);
        r->fault = outer_recovery;
        r->info = outer_info;
        return 0;
    }
    r->fault = outer_recovery;
    r->info = outer_info;
    r->ring3 = outer_ring3;
    reload_kernel_data_segments();
    return 1;
}

static uint64_t ring3_call_packed(uint64_t packed) {
    const uint64_t *call = (const uint64_t *)packed;
    return run_at_ring3((guest_fn)call[0], call[1]);
}

int expect_fault_ring3(guest_fn fn, uint64_t arg, struct fault_info *info) {
    uint64_t call[2] = {(uint64_t)fn, arg};
    return expect_fault(ring3_call_packed, (uint64_t)call, info);
}

/* ---------------------------------------------------------------- start */

void runtime_start(void) {
    serial_init();
    tss_init();
    idt_init();
    int status = test_main();
    serial_puts("done\n");
    debug_exit(status == 0 && check_failures == 0 ? EXIT_PASS : EXIT_FAIL);
}
