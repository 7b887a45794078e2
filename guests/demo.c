/*
 * demo.c - the built-in demo guest of the `pinvm` command (run when no -kernel is given;
 * embedded in src/vmm/demo-image.ts by guests/embed-demo.mjs).
 *
 * Shows that the machine got all the way from the Multiboot loader's 32-bit protected mode
 * into 64-bit long mode: prints a banner with EFER and CR0/CR4, the memory size the loader
 * reported, the CPUID vendor string, and a 64-bit computation, then checks long mode is
 * active and exits through the debug-exit port (status 0 when everything held).
 */
#include "guest.h"

#define MSR_EFER 0xC0000080
#define EFER_LMA (1UL << 10)

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static void print_field(const char *name, uint64_t value) {
    serial_puts(name);
    serial_puts("=0x");
    serial_print_hex(value);
}

int test_main(void) {
    const uint32_t *info = (const uint32_t *)(uint64_t)multiboot_info;
    uint64_t efer = rdmsr(MSR_EFER);

    serial_puts("pinvm demo guest: hello from 64-bit long mode\n");
    serial_puts("  ");
    print_field("EFER", efer);
    serial_puts(" ");
    print_field("CR0", read_cr0());
    serial_puts(" ");
    print_field("CR4", read_cr4());
    serial_puts("\n  memory: ");
    serial_print_dec(info[1]);
    serial_puts(" KiB low, ");
    serial_print_dec(info[2]);
    serial_puts(" KiB above 1 MiB\n");

    uint32_t a, b, c, d;
    char vendor[13];
    cpuid(0, &a, &b, &c, &d);
    memcpy(vendor + 0, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    serial_puts("  cpu vendor: ");
    serial_puts(vendor);
    serial_puts("\n");

    volatile uint64_t x = 0x0123456789abcdefUL;
    uint64_t y = x * 0x10001UL + (x >> 7);
    serial_puts("  64-bit arithmetic: 0x0123456789abcdef * 0x10001 + (0x0123456789abcdef >> 7) = 0x");
    serial_print_hex(y);
    serial_puts("\n");

    check("long-mode-active", (efer & EFER_LMA) != 0);
    return 0;
}
