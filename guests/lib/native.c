/*
 * native.c - the guest runtime API (guest.h) as a Linux user program, so that a guest whose
 * tests run at CPL 3 can also be compiled for the host and run on real silicon:
 *
 *   gcc -O2 -Iguests/lib -DGUEST_NATIVE guests/ring3_groups.c guests/lib/native.c -o /tmp/r3
 *   /tmp/r3 > silicon.txt
 *
 * The output then compares line by line with the guest's serial output under pinvm and QEMU
 * (test/integration/guests.test.ts does this for the guests in its NATIVE_GUESTS list).
 * Not part of any guest image: the Makefile links only lib/boot.S and lib/runtime.c.
 *
 * - run_at_ring3(fn, arg) calls fn(arg) directly (a Linux process already runs at CPL 3).
 * - expect_fault / expect_fault_ring3 catch SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGTRAP and fill
 *   struct fault_info from the kernel's signal frame: vector = trap number, error code, RIP,
 *   RFLAGS, CR2 (REG_TRAPNO, REG_ERR, REG_RIP, REG_EFL, REG_CR2); CS is the host's (0x33).
 * - A privileged instruction outside expect_fault (the ring-0 set-up in a guest's test_main:
 *   MOV to/from CRn, RDMSR/WRMSR, IN/OUT, CLI/STI) is skipped, so such set-up becomes a no-op.
 * - The exit code follows the guest protocol (0 pass, 1 a check failed, 2 unexpected trap).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "guest.h"

uint32_t multiboot_magic = 0x2BADB002;
uint32_t multiboot_info;
int check_failures;

void serial_putc(char c) { putchar(c); }
void serial_puts(const char *s) { fputs(s, stdout); }
void serial_print_hex(uint64_t value) { printf("%lx", value); }
void serial_print_dec(uint64_t value) { printf("%lu", value); }

void debug_exit(uint32_t code) {
    fflush(stdout);
    _exit((int)code);
}

int check_eq(const char *name, uint64_t got, uint64_t want) {
    if (got == want) {
        printf("ok %s\n", name);
        return 1;
    }
    check_failures++;
    printf("FAIL %s got=%lx want=%lx\n", name, got, want);
    return 0;
}

int check(const char *name, int cond) { return check_eq(name, cond ? 1 : 0, 1); }

void report_values(const char *name, const uint64_t *values, int count) {
    fputs(name, stdout);
    for (int i = 0; i < count; i++) printf(" %lx", values[i]);
    putchar('\n');
}

uint64_t run_at_ring3(guest_fn fn, uint64_t arg) { return fn(arg); }

static sigjmp_buf *volatile recovery;
static struct fault_info *volatile recovery_info;

/* Length of a privileged instruction the guests' ring-0 set-up uses, 0 if not one. */
static int privileged_length(const unsigned char *p) {
    int rex = (p[0] & 0xf0) == 0x40;
    const unsigned char *q = p + rex;
    if (q[0] == 0x0f && (q[1] == 0x20 || q[1] == 0x22 || q[1] == 0x21 || q[1] == 0x23)) return rex + 3;
    if (q[0] == 0x0f && (q[1] == 0x30 || q[1] == 0x32)) return rex + 2;
    if (q[0] == 0xfa || q[0] == 0xfb || q[0] == 0xf4 || (q[0] >= 0xec && q[0] <= 0xef)) return rex + 1;
    if (q[0] >= 0xe4 && q[0] <= 0xe7) return rex + 2;
    return 0;
}

static void on_signal(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    (void)si;
    if (recovery) {
        struct fault_info *info = recovery_info;
        sigjmp_buf *target = recovery;
        info->vector = (uint64_t)g[REG_TRAPNO];
        info->error_code = (uint64_t)g[REG_ERR];
        info->rip = (uint64_t)g[REG_RIP];
        info->cs = (uint64_t)g[REG_CSGSFS] & 0xffff;
        info->rflags = (uint64_t)g[REG_EFL];
        info->cr2 = (uint64_t)g[REG_CR2];
        recovery = 0;
        siglongjmp(*target, 1);
    }
    int len = sig == SIGSEGV ? privileged_length((const unsigned char *)g[REG_RIP]) : 0;
    if (len) {
        g[REG_RIP] += len;
        return;
    }
    printf("FAIL unexpected-trap vector=%lx error=%lx rip=%lx cs=%lx rflags=%lx cr2=%lx\ndone\n",
           (uint64_t)g[REG_TRAPNO], (uint64_t)g[REG_ERR], (uint64_t)g[REG_RIP],
           (uint64_t)g[REG_CSGSFS] & 0xffff, (uint64_t)g[REG_EFL], (uint64_t)g[REG_CR2]);
    debug_exit(EXIT_UNEXPECTED_TRAP);
}

int expect_fault(guest_fn fn, uint64_t arg, struct fault_info *info) {
    sigjmp_buf ctx;
    sigjmp_buf *volatile outer = recovery;
    struct fault_info *volatile outer_info = recovery_info;
    if (sigsetjmp(ctx, 1) == 0) {
        recovery_info = info;
        recovery = &ctx;
        fn(arg);
        recovery = outer;
        recovery_info = outer_info;
        return 0;
    }
    recovery = outer;
    recovery_info = outer_info;
    return 1;
}

int expect_fault_ring3(guest_fn fn, uint64_t arg, struct fault_info *info) {
    return expect_fault(fn, arg, info);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, 0);
    setvbuf(stdout, 0, _IOFBF, 1 << 16);
    int status = test_main();
    puts("done");
    debug_exit(status == 0 && check_failures == 0 ? EXIT_PASS : EXIT_FAIL);
}
