/*
 * hello.c - the smallest pinvm guest: prints a greeting, checks that it was booted by a
 * Multiboot loader into 64-bit mode, and exits with status 0.
 */
#include "guest.h"

#define MSR_EFER 0xC0000080
#define EFER_LMA (1UL << 10)

int test_main(void) {
    serial_puts("hello from pinvm guest\n");
    check_eq("multiboot-magic", multiboot_magic, 0x2BADB002);
    check("long-mode-active", (rdmsr(MSR_EFER) & EFER_LMA) != 0);
    return 0;
}
