/*
 * report.c - the conformance suites' report lines on top of the runtime's check_eq: plain
 * pass/fail (report), skips with a reason (report_skip), checks with a documented platform
 * deviation (check_sdm), and the closing `SUMMARY pass=N fail=M skip=K` line.
 */
#include "guest.h"

int report(const char *name, int ok) { return check(name, ok); }

void report_skip(const char *name, const char *why) {
    check_skips++;
    serial_puts("skip ");
    serial_puts(name);
    serial_putc(' ');
    serial_puts(why);
    serial_putc('\n');
}

int check_sdm(const char *name, uint64_t got, uint64_t sdm_want, uint64_t deviant_value,
              const char *deviation) {
    if (got == sdm_want || got != deviant_value) return check_eq(name, got, sdm_want);
    check_skips++;
    serial_puts("skip ");
    serial_puts(name);
    serial_puts(" deviation=");
    serial_puts(deviation);
    serial_puts(" got=");
    serial_print_hex(got);
    serial_puts(" sdm=");
    serial_print_hex(sdm_want);
    serial_putc('\n');
    return 1;
}

int report_summary(void) {
    serial_puts("SUMMARY pass=");
    serial_print_dec((uint64_t)check_passes);
    serial_puts(" fail=");
    serial_print_dec((uint64_t)check_failures);
    serial_puts(" skip=");
    serial_print_dec((uint64_t)check_skips);
    serial_putc('\n');
    return check_failures ? 1 : 0;
}
