/*
 * bench_int.c - CPU-bound integer benchmark guest for bench/run.ts.
 *
 * A deterministic mix of integer work: a multiplicative hash loop over a buffer, a CRC-32
 * (table-driven and bitwise), a bitonic sort of pseudo-random 32-bit keys, a sieve of
 * Eratosthenes, 64-bit multiply/rotate mixing (splitmix64) and some 64-bit divisions.
 * Every round executes exactly the same number of instructions (no data-dependent branches:
 * the sort's compare-exchange is branch-free), so the count for N rounds is c0 + N * k;
 * bench/run.ts relies on that to give QEMU a longer run than pinvm.
 * The timed part is bracketed by the serial lines `BENCH START` and `BENCH END`; afterwards
 * the guest prints `bench-checksum <hex>` (the same on every conforming x86-64) and returns
 * 0, so the runtime prints `done` and leaves through debug_exit(0).
 *
 * The amount of work is BENCH_ROUNDS rounds, or N when the Multiboot command line holds
 * `rounds=N` (QEMU: -append rounds=N), so the number of guest instructions between the
 * markers is the same under every implementation given the same command line.
 */
#include "guest.h"

#ifndef BENCH_ROUNDS
#define BENCH_ROUNDS 12
#endif

#define BUF_SIZE 16384
#define SORT_N 2048
#define SIEVE_N 65536

static uint8_t buf[BUF_SIZE];
static uint32_t keys[SORT_N];
static uint8_t composite[SIEVE_N];
static uint32_t crc_table[256];

/* A seed the compiler cannot see through, so nothing is folded at compile time. */
static volatile uint64_t bench_seed = 0x0123456789abcdefUL;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15UL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
    return z ^ (z >> 31);
}

static void fill_buffer(uint64_t *state) {
    for (int i = 0; i < BUF_SIZE; i += 8) {
        uint64_t v = splitmix64(state);
        for (int b = 0; b < 8; b++) buf[i + b] = (uint8_t)(v >> (8 * b));
    }
}

/* FNV-1a style multiplicative hash, 64 bits, with a data-dependent rotate. */
static uint64_t hash_buffer(void) {
    uint64_t h = 0xcbf29ce484222325UL;
    for (int i = 0; i < BUF_SIZE; i++) {
        h ^= buf[i];
        h *= 0x100000001b3UL;
        h = (h << (h & 7)) | (h >> (64 - (h & 7)) % 64);
    }
    return h;
}

static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_table(const uint8_t *p, int n) {
    uint32_t c = 0xffffffffu;
    for (int i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static uint32_t crc32_bitwise(const uint8_t *p, int n) {
    uint32_t c = 0xffffffffu;
    for (int i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

/* Branch-free compare-exchange: the instruction count does not depend on the data. */
static inline void cmp_swap(uint32_t *a, uint32_t *b) {
    uint32_t x = *a, y = *b;
    uint32_t m = 0u - (uint32_t)(x > y);
    uint32_t t = (x ^ y) & m;
    *a = x ^ t;
    *b = y ^ t;
}

/* Bitonic sort of SORT_N (a power of two) pseudo-random keys, then a positional hash. */
static uint64_t sort_keys(uint64_t *state) {
    for (int i = 0; i < SORT_N; i++) keys[i] = (uint32_t)splitmix64(state);
    for (int k = 2; k <= SORT_N; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = 0; i < SORT_N; i++) {
                int l = i ^ j;
                if (l > i) {
                    if ((i & k) == 0) cmp_swap(&keys[i], &keys[l]);
                    else cmp_swap(&keys[l], &keys[i]);
                }
            }
        }
    }
    uint64_t sum = 0;
    for (int i = 0; i < SORT_N; i++) sum = sum * 31 + keys[i];
    return sum;
}

static uint64_t sieve(void) {
    for (int i = 0; i < SIEVE_N; i++) composite[i] = 0;
    uint64_t count = 0, sum = 0;
    for (uint64_t i = 2; i < SIEVE_N; i++) {
        if (composite[i]) continue;
        count++;
        sum += i;
        for (uint64_t j = i * i; j < SIEVE_N; j += i) composite[j] = 1;
    }
    return (count << 32) ^ sum;
}

static uint64_t mul_div_mix(uint64_t *state) {
    uint64_t acc = 0;
    for (int i = 0; i < 4096; i++) {
        uint64_t a = splitmix64(state);
        uint64_t b = (a >> 33) | 1;
        acc += a / b + a % b;
        acc = (acc << 13) | (acc >> 51);
        acc ^= (uint64_t)((int64_t)a >> 7) * 0x2545f4914f6cdd1dUL;
    }
    return acc;
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

int test_main(void) {
    uint64_t state = bench_seed;
    int rounds = bench_rounds();
    uint64_t checksum = 0;
    crc_init();
    serial_puts("BENCH START\n");
    for (int round = 0; round < rounds; round++) {
        fill_buffer(&state);
        checksum = checksum * 0x9e3779b97f4a7c15UL + hash_buffer();
        checksum ^= crc32_table(buf, BUF_SIZE);
        checksum += (uint64_t)crc32_bitwise(buf, BUF_SIZE / 4) << 17;
        checksum = checksum * 3 + sort_keys(&state);
        checksum ^= sieve() + (uint64_t)round;
        checksum += mul_div_mix(&state);
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
