/*
 * bench_fp.c - floating-point benchmark guest (SSE2 scalar and packed double) for bench/fp.ts.
 *
 * Built without -mgeneral-regs-only (per-file override in the Makefile), so gcc emits SSE2
 * for the double arithmetic. At ring 0, before any FP code runs, test_main() enables SSE
 * (CR4.OSFXSR|OSXMMEXCPT, CR0.EM=0, CR0.TS=0, CR0.MP=1; SDM Vol.3 13.1.3) — the runtime
 * leaves it off; the FP work lives in noinline functions so that no SSE instruction is
 * scheduled before that. Work per round:
 *   - an n-body simulation step loop (5 bodies, sqrt via SQRTSD, divisions),
 *   - a 48x48 double matrix multiply of LCG-filled matrices,
 *   - a Mandelbrot escape-count over a 48x32 grid (the same grid every round),
 *   - a short Horner polynomial / int<->double conversion loop.
 * Every round executes the same number of instructions (fixed loop bounds; the only
 * data-dependent loop, Mandelbrot, sees the same inputs every round), as bench/run.ts's
 * rounds model requires. The checksum mixes the bit patterns of the results (IEEE-754 double
 * results are the same on every conforming x86-64 with MXCSR at its default, round to
 * nearest, no DAZ/FTZ). `rounds=N` on the Multiboot command line sets the number of rounds.
 * Output: `BENCH START`, `BENCH END`, `bench-checksum <hex>`, `bench-rounds <n>`.
 */
#include "guest.h"

#ifndef BENCH_ROUNDS
#define BENCH_ROUNDS 4
#endif

#define NB 5
#define MN 48
#define MX_W 48
#define MX_H 32
#define MX_ITER 64

struct body {
    double x, y, z, vx, vy, vz, m;
};

static struct body bodies[NB];
static double ma[MN * MN], mb[MN * MN], mc[MN * MN];

static uint64_t bits_of(double d) {
    union {
        double d;
        uint64_t u;
    } v;
    v.d = d;
    return v.u;
}

static inline double fsqrt(double x) {
    double r;
    __asm__("sqrtsd %1, %0" : "=x"(r) : "x"(x));
    return r;
}

static __attribute__((noinline)) void nbody_init(void) {
    static const double init[NB][7] = {
        {0, 0, 0, 0, 0, 0, 39.47841760435743},
        {4.84143144246472090, -1.16032004402742839, -0.103622044471123109, 0.606326392995832, 2.81198684491626,
         -0.02521836165988763, 0.03769367487038949},
        {8.34336671824457987, 4.12479856412430479, -0.403523417114321381, -1.01077434617730, 1.82566237123041,
         0.008415761376584154, 0.011286326131968767},
        {12.8943695621391310, -15.1111514016986312, -0.223307578892655734, 1.08279100644154, 0.868713018169608,
         -0.01083270493531229, 0.0017237240570597112},
        {15.3796971148509165, -25.9193146099879641, 0.179258772950371181, 0.979090732243898, 0.594698998647676,
         -0.034755955504078104, 0.0020336868699246304},
    };
    for (int i = 0; i < NB; i++) {
        bodies[i].x = init[i][0];
        bodies[i].y = init[i][1];
        bodies[i].z = init[i][2];
        bodies[i].vx = init[i][3];
        bodies[i].vy = init[i][4];
        bodies[i].vz = init[i][5];
        bodies[i].m = init[i][6];
    }
}

static __attribute__((noinline)) uint64_t nbody_steps(int steps, double dt) {
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < NB; i++) {
            for (int j = i + 1; j < NB; j++) {
                double dx = bodies[i].x - bodies[j].x;
                double dy = bodies[i].y - bodies[j].y;
                double dz = bodies[i].z - bodies[j].z;
                double d2 = dx * dx + dy * dy + dz * dz;
                double mag = dt / (d2 * fsqrt(d2));
                bodies[i].vx -= dx * bodies[j].m * mag;
                bodies[i].vy -= dy * bodies[j].m * mag;
                bodies[i].vz -= dz * bodies[j].m * mag;
                bodies[j].vx += dx * bodies[i].m * mag;
                bodies[j].vy += dy * bodies[i].m * mag;
                bodies[j].vz += dz * bodies[i].m * mag;
            }
        }
        for (int i = 0; i < NB; i++) {
            bodies[i].x += dt * bodies[i].vx;
            bodies[i].y += dt * bodies[i].vy;
            bodies[i].z += dt * bodies[i].vz;
        }
    }
    double e = 0;
    for (int i = 0; i < NB; i++) {
        e += 0.5 * bodies[i].m * (bodies[i].vx * bodies[i].vx + bodies[i].vy * bodies[i].vy + bodies[i].vz * bodies[i].vz);
        for (int j = i + 1; j < NB; j++) {
            double dx = bodies[i].x - bodies[j].x;
            double dy = bodies[i].y - bodies[j].y;
            double dz = bodies[i].z - bodies[j].z;
            e -= bodies[i].m * bodies[j].m / fsqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return bits_of(e);
}

static __attribute__((noinline)) uint64_t matmul(uint64_t *state) {
    for (int i = 0; i < MN * MN; i++) {
        *state = *state * 6364136223846793005UL + 1442695040888963407UL;
        ma[i] = (double)(int)(uint32_t)(*state >> 32) / 65536.0;
        *state = *state * 6364136223846793005UL + 1442695040888963407UL;
        mb[i] = (double)(int)(uint32_t)(*state >> 32) * (1.0 / 2147483648.0);
    }
    for (int i = 0; i < MN; i++) {
        for (int j = 0; j < MN; j++) mc[i * MN + j] = 0;
        for (int k = 0; k < MN; k++) {
            double a = ma[i * MN + k];
            for (int j = 0; j < MN; j++) mc[i * MN + j] += a * mb[k * MN + j];
        }
    }
    uint64_t h = 0;
    for (int i = 0; i < MN * MN; i++) h = (h ^ bits_of(mc[i])) * 0x100000001b3UL;
    return h;
}

static __attribute__((noinline)) uint64_t mandelbrot(void) {
    uint64_t total = 0;
    for (int py = 0; py < MX_H; py++) {
        double ci = -1.2 + 2.4 * py / MX_H;
        for (int px = 0; px < MX_W; px++) {
            double cr = -2.1 + 2.8 * px / MX_W;
            double zr = 0, zi = 0;
            int n = 0;
            while (n < MX_ITER && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                n++;
            }
            total = total * 31 + (uint64_t)n + (bits_of(zr) >> 40);
        }
    }
    return total;
}

static __attribute__((noinline)) uint64_t poly(int round) {
    double acc = 0;
    for (int i = 0; i < 2000; i++) {
        double x = (double)(i - 1000 + round) / 1000.0;
        double p = ((((0.0083 * x - 0.1666) * x + 0.5) * x - 1.0) * x + 0.75) * x + 1.0;
        acc += p;
        acc -= (double)(int64_t)(acc * 0.5); /* CVTTSD2SI / CVTSI2SD round trip */
    }
    return bits_of(acc);
}

/* `rounds=N` from the Multiboot command line (info flag bit 2), else BENCH_ROUNDS. */
static int bench_rounds(void) {
    const uint32_t *info = (const uint32_t *)(uint64_t)multiboot_info;
    if (info == 0 || (info[0] & (1u << 2)) == 0 || info[4] == 0) return BENCH_ROUNDS;
    const char *p = (const char *)(uint64_t)info[4];
    for (; *p != 0; p++) {
        if (p[0] == 'r' && p[1] == 'o' && p[2] == 'u' && p[3] == 'n' && p[4] == 'd' && p[5] == 's' && p[6] == '=') {
            int n = 0;
            for (p += 7; *p >= '0' && *p <= '9'; p++) n = n * 10 + (*p - '0');
            return n > 0 ? n : BENCH_ROUNDS;
        }
    }
    return BENCH_ROUNDS;
}

/* Enable SSE: CR4.OSFXSR|OSXMMEXCPT, CR0.EM=0, TS=0, MP=1 (SDM Vol.3 13.1.3). */
static __attribute__((noinline)) void enable_sse(void) {
    uint64_t cr0, cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 0x600;
    __asm__ volatile("mov %0, %%cr4" ::"r"(cr4));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~0xcUL) | 0x2;
    __asm__ volatile("mov %0, %%cr0" ::"r"(cr0));
}

int test_main(void) {
    enable_sse();
    int rounds = bench_rounds();
    uint64_t state = 0x243f6a8885a308d3UL;
    uint64_t checksum = 0;
    nbody_init();
    serial_puts("BENCH START\n");
    for (int round = 0; round < rounds; round++) {
        checksum = checksum * 0x9e3779b97f4a7c15UL + nbody_steps(200, 0.01);
        checksum ^= matmul(&state);
        checksum = checksum * 3 + mandelbrot();
        checksum += poly(round);
    }
    serial_puts("BENCH END\n");
    serial_puts("bench-checksum ");
    serial_print_hex(checksum);
    serial_puts("\n");
    serial_puts("bench-rounds ");
    serial_print_dec((uint64_t)rounds);
    serial_puts("\n");
    return 0;
}
