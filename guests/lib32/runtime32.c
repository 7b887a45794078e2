/*
 * runtime32.c - the 32-bit protected-mode guest runtime: COM1 output (polling LSR.THRE),
 * number printing, the report lines and SUMMARY, the IDT for vectors 0-31 (32-bit interrupt
 * gates, SDM Vol.3 6.11), the trap dispatcher behind expect_fault32, isa-debug-exit, and
 * runtime32_start(), which boot32.S calls: it runs test_main(), prints `done` and exits.
 */
#include "guest32.h"

#define COM1 0x3F8
#define UART_LSR_THRE 0x20 /* line status: transmitter holding register empty */
#define UART_LSR_TEMT 0x40 /* line status: transmitter empty */
#define DEBUG_EXIT_PORT 0xF4
#define IDT32_VECTORS (RING3_RETURN_VECTOR + 1)

/* What the stubs and trap32_common leave on the stack (PUSHA order, then the stub's pushes and
 * the CPU's: SDM Vol.3 6.12.1, Figure 6-4 "no privilege-level change"). */
struct trap32_frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error_code, eip, cs, eflags;
};

/* 32-bit interrupt gate (SDM Vol.3 Figure 6-2). */
struct idt32_gate {
    uint16_t offset_low, selector;
    uint8_t zero, type_attr;
    uint16_t offset_high;
};

extern char isr32_stubs[];
extern char trap32_stack_top[];
extern uint32_t recover32_active, recover32_ring3;
extern struct fault_info32 *recover32_info;
extern uint64_t gdt32[];
__attribute__((noreturn)) void expect_fault32_resume(uint32_t rc);
__attribute__((noreturn)) void runtime32_start(void);
__attribute__((noreturn)) void trap32_dispatch(struct trap32_frame *frame);

int check_passes, check_failures, check_skips;

static struct idt32_gate idt32[IDT32_VECTORS] __attribute__((aligned(8)));

/* 32-bit TSS (SDM Vol.3 7.2.1, Figure 7-2): only ESP0/SS0 matter; the I/O map base at the
 * limit means no I/O permission bitmap (port I/O at CPL 3 > IOPL raises #GP). */
static struct {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
} tss32 __attribute__((aligned(16)));

/* ---------------------------------------------------------------- libc bits */

void *memset(void *dst, int c, size_t n) {
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

/* ---------------------------------------------------------------- COM1 */

static void serial_init(void) {
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* LCR: DLAB on */
    outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1, DLAB off */
    outb(COM1 + 2, 0xC7); /* FIFO on, cleared */
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

void serial_print_hex(uint32_t value) {
    char buf[9];
    int i = 8;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[value & 15];
        value >>= 4;
    } while (value);
    serial_puts(&buf[i]);
}

void serial_print_dec(uint32_t value) {
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    serial_puts(&buf[i]);
}

/* ---------------------------------------------------------------- exit, report */

void debug_exit(uint32_t code) {
    /* Let the UART hand every byte over (LSR.TEMT) before the exit port ends the machine. */
    for (int n = 0; n < 1000000 && !(inb(COM1 + 5) & UART_LSR_TEMT); n++) __asm__ volatile("pause");
    outl(DEBUG_EXIT_PORT, code);
    for (;;) __asm__ volatile("cli; hlt");
}

int check_eq(const char *name, uint32_t got, uint32_t want) {
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

int report(const char *name, int ok) { return check_eq(name, ok ? 1 : 0, 1); }

void report_skip(const char *name, const char *why) {
    check_skips++;
    serial_puts("skip ");
    serial_puts(name);
    serial_putc(' ');
    serial_puts(why);
    serial_putc('\n');
}

int report_summary(void) {
    serial_puts("SUMMARY pass=");
    serial_print_dec((uint32_t)check_passes);
    serial_puts(" fail=");
    serial_print_dec((uint32_t)check_failures);
    serial_puts(" skip=");
    serial_print_dec((uint32_t)check_skips);
    serial_putc('\n');
    return check_failures ? 1 : 0;
}

/* ---------------------------------------------------------------- traps */

void trap32_dispatch(struct trap32_frame *frame) {
    uint32_t cr2 = read_cr2();
    if (recover32_active && recover32_ring3 && frame->vector == RING3_RETURN_VECTOR && (frame->cs & 3) == 3) {
        recover32_active = recover32_ring3 = 0;
        recover32_info->result = frame->eax;
        expect_fault32_resume(0);
    }
    if (recover32_active && frame->vector < 32) {
        struct fault_info32 *info = recover32_info;
        recover32_active = recover32_ring3 = 0;
        info->vector = frame->vector;
        info->error_code = frame->error_code;
        info->eip = frame->eip;
        info->cs = frame->cs;
        info->eflags = frame->eflags;
        info->cr2 = cr2;
        info->result = 0;
        expect_fault32_resume(1);
    }
    serial_puts("FAIL unexpected-trap vector=");
    serial_print_hex(frame->vector);
    serial_puts(" error=");
    serial_print_hex(frame->error_code);
    serial_puts(" eip=");
    serial_print_hex(frame->eip);
    serial_puts(" cs=");
    serial_print_hex(frame->cs);
    serial_puts(" eflags=");
    serial_print_hex(frame->eflags);
    serial_puts(" cr2=");
    serial_print_hex(cr2);
    serial_puts("\ndone\n");
    debug_exit(EXIT32_UNEXPECTED_TRAP);
}

/* Points IDT entry v at a stub: 32-bit interrupt gate (type 1110B, P=1; SDM Vol.3 Figure 6-2). */
static void idt32_set(uint32_t v, uint32_t stub, uint8_t dpl) {
    uint32_t target = (uint32_t)isr32_stubs + 16 * stub;
    idt32[v].offset_low = (uint16_t)target;
    idt32[v].selector = SEL32_CODE;
    idt32[v].zero = 0;
    idt32[v].type_attr = (uint8_t)(0x8E | dpl << 5);
    idt32[v].offset_high = (uint16_t)(target >> 16);
}

/* Vectors 0-31 (DPL 0) and 80H (DPL 3, so INT 80H works at CPL 3: SDM Vol.3 6.12.1.1); the
 * entries between stay not present. Loads IDTR. */
static void idt32_init(void) {
    for (uint32_t v = 0; v < 32; v++) idt32_set(v, v, 0);
    idt32_set(RING3_RETURN_VECTOR, 32, 3);
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } idtr = {sizeof(idt32) - 1, (uint32_t)idt32};
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

/* Writes the TSS descriptor (type 1001B available 32-bit TSS, P=1, DPL 0, byte granularity:
 * SDM Vol.3 7.2.2, Figure 7-3) into GDT slot SEL32_TSS and loads TR. */
static void tss32_init(void) {
    uint32_t base = (uint32_t)&tss32, limit = sizeof(tss32) - 1;
    tss32.ss0 = SEL32_DATA;
    tss32.esp0 = (uint32_t)trap32_stack_top;
    tss32.iomap_base = (uint16_t)sizeof(tss32);
    gdt32[SEL32_TSS >> 3] = (uint64_t)(limit & 0xFFFF) | (uint64_t)(base & 0xFFFFFF) << 16 | 0x89ULL << 40 |
                            (uint64_t)((limit >> 16) & 0xF) << 48 | (uint64_t)(base >> 24) << 56;
    __asm__ volatile("ltr %w0" ::"r"((uint16_t)SEL32_TSS));
}

void runtime32_start(void) {
    serial_init();
    tss32_init();
    idt32_init();
    int status = test_main();
    serial_puts("done\n");
    debug_exit(status == 0 && check_failures == 0 ? EXIT32_PASS : EXIT32_FAIL);
}
