/*
 * reset.c - CMOS NVRAM access (index port 70H, data port 71H; bit 7 of the index is the NMI
 * mask, kept set), a boot counter in two CMOS bytes that survives a system reset, and a hard
 * reset through the reset control register at CF9H (bit 1 SYS_RST, bit 2 RST_CPU).
 */
#include "guest.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define CMOS_NMI_DISABLE 0x80
#define BOOT_CHECK_XOR 0xA5
#define RESET_CONTROL 0xCF9
#define RST_SYS 0x02
#define RST_CPU 0x04

uint8_t cmos_read(uint8_t index) {
    outb(CMOS_INDEX, CMOS_NMI_DISABLE | index);
    return inb(CMOS_DATA);
}

void cmos_write(uint8_t index, uint8_t value) {
    outb(CMOS_INDEX, CMOS_NMI_DISABLE | index);
    outb(CMOS_DATA, value);
}

uint32_t boot_count_next(void) {
    uint8_t count = cmos_read(CMOS_BOOT_COUNT_INDEX);
    uint8_t check = cmos_read(CMOS_BOOT_CHECK_INDEX);
    if (check != (uint8_t)(count ^ BOOT_CHECK_XOR)) count = 0;
    cmos_write(CMOS_BOOT_COUNT_INDEX, (uint8_t)(count + 1));
    cmos_write(CMOS_BOOT_CHECK_INDEX, (uint8_t)((count + 1) ^ BOOT_CHECK_XOR));
    return count;
}

void boot_count_clear(void) {
    cmos_write(CMOS_BOOT_COUNT_INDEX, 0);
    cmos_write(CMOS_BOOT_CHECK_INDEX, 0);
}

void system_reset_cf9(void) {
    /* Let COM1 drain (LSR.TEMT) so the lines before the reset reach the host. */
    for (int n = 0; n < 1000000 && !(inb(0x3FD) & 0x40); n++) __asm__ volatile("pause");
    outb(RESET_CONTROL, RST_SYS);
    outb(RESET_CONTROL, RST_SYS | RST_CPU);
    for (;;) __asm__ volatile("cli; hlt");
}
