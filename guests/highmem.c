/*
 * highmem.c - RAM above 4 GiB, seen from the guest: prints the Multiboot memory information
 * (mem_lower, mem_upper and every mmap entry, Multiboot 0.6.96 section 3.3) and the CMOS
 * memory-size bytes 34h/35h and 5Bh-5Dh (the ones SeaBIOS reads), then maps the first and
 * the last page of the highest RAM region the map reports through 4-level paging, writes a
 * value into each, reads it back through a second mapping of the same physical page, and
 * checks that the two pages are distinct memory. Run with -m 5G (or more) under pinvm and
 * under QEMU; test/integration/highmem.test.ts compares the two.
 */
#include "guest.h"

/* Multiboot information structure offsets (Multiboot 0.6.96 3.3). */
#define MBI_FLAGS 0
#define MBI_MEM_LOWER 4
#define MBI_MEM_UPPER 8
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48
#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_MMAP (1u << 6)

/* Where the test maps the pages it probes (outside the runtime's 0..1 GiB identity map). */
#define PROBE_VA 0x4000000000UL

static uint32_t rd32(uint64_t addr) { return *(volatile uint32_t *)addr; }

static void line(const char *name, uint64_t a, uint64_t b, uint64_t c) {
    serial_puts(name);
    serial_puts(" ");
    serial_print_hex(a);
    serial_puts(" ");
    serial_print_hex(b);
    serial_puts(" ");
    serial_print_hex(c);
    serial_puts("\n");
}

/* Writes `value` at physical `pa` through one mapping and reads it through another. */
static int probe(uint64_t pa, uint64_t slot, uint64_t value) {
    uint64_t va_a = PROBE_VA + slot * 0x2000;
    uint64_t va_b = va_a + 0x1000;
    if (map_page(va_a, pa, PTE_RW) || map_page(va_b, pa, PTE_RW)) return 0;
    *(volatile uint64_t *)(va_a + 0x7f8) = value;
    return *(volatile uint64_t *)(va_b + 0x7f8) == value;
}

int test_main(void) {
    uint64_t mbi = multiboot_info;
    uint32_t flags = rd32(mbi + MBI_FLAGS);
    uint64_t top_base = 0, top_len = 0;
    if (flags & MBI_FLAG_MEM) line("mem", rd32(mbi + MBI_MEM_LOWER), rd32(mbi + MBI_MEM_UPPER), 0);
    if (flags & MBI_FLAG_MMAP) {
        uint64_t at = rd32(mbi + MBI_MMAP_ADDR);
        uint64_t end = at + rd32(mbi + MBI_MMAP_LENGTH);
        while (at < end) {
            uint32_t size = rd32(at);
            uint64_t base = rd32(at + 4) | ((uint64_t)rd32(at + 8) << 32);
            uint64_t len = rd32(at + 12) | ((uint64_t)rd32(at + 16) << 32);
            uint32_t type = rd32(at + 20);
            line("mmap", base, len, type);
            if (type == 1 && base >= top_base) {
                top_base = base;
                top_len = len;
            }
            at += size + 4;
        }
    }
    line("cmos-16m-4g", cmos_read(0x34) | (cmos_read(0x35) << 8), 0, 0);
    line("cmos-above-4g", cmos_read(0x5b) | (cmos_read(0x5c) << 8) | ((uint64_t)cmos_read(0x5d) << 16), 0, 0);
    check("ram-above-4g-reported", top_base >= 0x100000000UL && top_len >= 0x2000);
    if (top_base < 0x100000000UL) return report_summary();
    uint64_t first = top_base;
    uint64_t last = top_base + top_len - 0x1000;
    check("first-page-at-4g", probe(first, 0, 0x1122334455667788UL));
    check("last-page-of-ram", probe(last, 1, 0x8877665544332211UL));
    check("pages-distinct", *(volatile uint64_t *)(PROBE_VA + 0x7f8) == 0x1122334455667788UL);
    return report_summary();
}
