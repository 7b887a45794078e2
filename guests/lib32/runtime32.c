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
#define IDT32_VECTORS 32

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
extern uint32_t recover32_active;
extern struct fault_info32 *recover32_info;
__attribute__((noreturn)) void expect_fault32_resume(void);
__attribute__((noreturn)) void runtime32_start(void);
__attribute__((noreturn)) void trap32_dispatch(struct trap32_frame *frame);

int check_passes, check_failures, check_skips;

static struct idt32_gate idt32[IDT32_VECTORS] __attribute__((aligned(8)));

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
    if (recover32_active) {
        struct fault_info32 *info = recover32_info;
        recover32_active = 0;
        info->vector = frame->vector;
        info->error_code = frame->error_code;
        info->eip = frame->eip;
        info->cs = frame->cs;
        info->eflags = frame->eflags;
        info->cr2 = cr2;
        info->result = 0;
        expect_fault32_resume();
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

/* Fills the IDT with 32-bit interrupt gates (type 1110B, P=1, DPL 0: SDM Vol.3 Figure 6-2) to
 * the stubs and loads IDTR. */
static void idt32_init(void) {
    for (uint32_t v = 0; v < IDT32_VECTORS; v++) {
        uint32_t target = (uint32_t)isr32_stubs + 16 * v;
        idt32[v].offset_low = (uint16_t)target;
        idt32[v].selector = SEL32_CODE;
        idt32[v].zero = 0;
        idt32[v].type_attr = 0x8E;
        idt32[v].offset_high = (uint16_t)(target >> 16);
    }
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } idtr = {sizeof(idt32) - 1, (uint32_t)idt32};
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

void runtime32_start(void) {
    serial_init();
    idt32_init();
    int status = test_main();
    serial_puts("done\n");
    debug_exit(status == 0 && check_failures == 0 ? EXIT32_PASS : EXIT32_FAIL);
}
