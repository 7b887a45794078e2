/*
 * gen-vectors.c - x87 test-vector generator for pinvm's soft-float (src/cpu/fpu/float80.ts).
 *
 * Runs the host's real x87 FPU (x86-64 only; gcc/clang inline asm) on pseudo-random
 * operands, including special encodings (zeros, denormals, pseudo-denormals, unnormals,
 * infinities, SNaN/QNaN, pseudo-NaN/infinity), under every rounding control (RC) and
 * precision control (PC) set directly in the x87 control word with FLDCW (Intel SDM
 * Vol.1 8.1.5), and records the result bit patterns and the status word (flags + C0..C3,
 * SDM Vol.1 8.1.3). All exceptions are masked (control word low bits 0x3F).
 *
 * Build and run (from the repository root):
 *   gcc -O1 -o /tmp/gen-vectors test/cpu/fpu/gen/gen-vectors.c
 *   /tmp/gen-vectors > test/cpu/fpu/vectors/x87-vectors.json
 *
 * Output (already in Prettier's JSON layout): {"generator": ..., "vectors": ["op cw in... out... sw"]}. Extended values are 20
 * hex digits: sign/exponent (4) then significand (16). The status word is masked with 0x473F.
 *
 * Licence: MIT (part of pinvm). Written from scratch.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  uint64_t m;
  uint16_t se;
} __attribute__((packed)) f80;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static int first = 1;
static void emit_begin(void) { printf(first ? "\n    \"" : ",\n    \""); first = 0; }
static void pf(f80 x) { printf(" %04x%016llx", x.se, (unsigned long long)x.m); }
static long double ld(f80 x) { long double r = 0; memcpy(&r, &x, 10); return r; }
static f80 fx(long double r) { f80 x; memcpy(&x, &r, 10); return x; }

/* Random significand with patterns that exercise rounding ties and carries. */
static uint64_t rsig(void) {
  switch (rnd() % 8) {
  case 0: return 0x8000000000000000ull | (rnd() & 0xFFull) << (rnd() % 56);
  case 1: return ~0ull << (rnd() % 64);
  case 2: return 0xFFFFFFFFFFFFFFFFull ^ (1ull << (rnd() % 63));
  case 3: return 0x8000000000000000ull | (rnd() >> (rnd() % 64));
  default: return 0x8000000000000000ull | rnd();
  }
}

/* Random extended value, near exponent `base` when base >= 0. */
static f80 rval(int base) {
  f80 x;
  unsigned s = (rnd() & 1) << 15;
  unsigned k = rnd() % 100;
  x.m = rsig();
  if (base >= 0 && k < 55) {
    int e = base + (int)(rnd() % 140) - 70;
    if (e < 1) e = 1;
    if (e > 0x7FFE) e = 0x7FFE;
    x.se = s | e;
  } else if (k < 62) x.se = s | (1 + rnd() % 0x7FFE);
  else if (k < 70) x.se = s | (1 + rnd() % 80);              /* near underflow */
  else if (k < 76) x.se = s | (0x7FFE - rnd() % 80);         /* near overflow */
  else if (k < 80) { x.se = s; x.m = rnd() >> (1 + rnd() % 63); } /* denormal */
  else if (k < 82) { x.se = s; x.m = 0; }                    /* zero */
  else if (k < 84) { x.se = s | 0x7FFF; x.m = 1ull << 63; }  /* infinity */
  else if (k < 86) { x.se = s | 0x7FFF; x.m = 0xC000000000000000ull | (rnd() >> 2 & -(uint64_t)(rnd() & 1)); } /* QNaN */
  else if (k < 88) { x.se = s | 0x7FFF; x.m = 0x8000000000000000ull | (rnd() >> 2 | 1); } /* SNaN */
  else if (k < 89) { x.se = s; x.m = 0x8000000000000000ull | rnd() >> 1; } /* pseudo-denormal */
  else if (k < 90) { x.se = s | (1 + rnd() % 0x7FFE); x.m = rnd() >> 1; } /* unnormal */
  else if (k < 91) { x.se = s | 0x7FFF; x.m = rnd() >> 1; }  /* pseudo-NaN / pseudo-infinity */
  else { x.se = s | (0x3FFF - 70 + rnd() % 140); }           /* near 1.0 */
  return x;
}

#define BIN(INSN)                                                                                    \
  __asm__ volatile("fldcw %4\n fnclex\n fldt %3\n fldt %2\n " INSN "\n fnstsw %%ax\n fstpt %0\n fstp %%st(0)\n" \
                   : "=m"(r), "=a"(sw) : "m"(la), "m"(lb), "m"(cw))

static void binop(const char *name, int op, uint16_t cw, f80 a, f80 b) {
  long double la = ld(a), lb = ld(b), r;
  uint16_t sw = 0;
  switch (op) {
  case 0: BIN("fadd %%st(1), %%st"); break;
  case 1: BIN("fsub %%st(1), %%st"); break;
  case 2: BIN("fmul %%st(1), %%st"); break;
  case 3: BIN("fdiv %%st(1), %%st"); break;
  case 4: BIN("fprem"); break;
  case 5: BIN("fprem1"); break;
  case 6: BIN("fscale"); break;
  }
  emit_begin();
  printf("%s %04x", name, cw);
  pf(a); pf(b); pf(fx(r));
  printf(" %04x\"", sw & 0x473F);
}

static void unop(const char *name, int op, uint16_t cw, f80 a) {
  long double la = ld(a), r, r2 = 0;
  uint16_t sw = 0;
  if (op == 0)
    __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fsqrt\n fnstsw %%ax\n fstpt %0\n" : "=m"(r), "=a"(sw) : "m"(la), "m"(cw));
  else if (op == 1)
    __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n frndint\n fnstsw %%ax\n fstpt %0\n" : "=m"(r), "=a"(sw) : "m"(la), "m"(cw));
  else
    __asm__ volatile("fldcw %4\n fnclex\n fldt %3\n fxtract\n fnstsw %%ax\n fstpt %0\n fstpt %1\n"
                     : "=m"(r), "=m"(r2), "=a"(sw) : "m"(la), "m"(cw));
  emit_begin();
  printf("%s %04x", name, cw);
  pf(a); pf(fx(r));
  if (op == 2) pf(fx(r2));
  printf(" %04x\"", sw & 0x473F);
}

static void cmpop(const char *name, int op, uint16_t cw, f80 a, f80 b) {
  long double la = ld(a), lb = ld(b);
  uint16_t sw = 0;
  if (op == 0)
    __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fldt %1\n fcom %%st(1)\n fnstsw %%ax\n fstp %%st(0)\n fstp %%st(0)\n" : "=a"(sw) : "m"(la), "m"(lb), "m"(cw));
  else
    __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fldt %1\n fucom %%st(1)\n fnstsw %%ax\n fstp %%st(0)\n fstp %%st(0)\n" : "=a"(sw) : "m"(la), "m"(lb), "m"(cw));
  emit_begin();
  printf("%s %04x", name, cw);
  pf(a); pf(b);
  printf(" %04x\"", sw & 0x473F);
}

/* Stores: FISTP m16/m32/m64, FSTP m32/m64, FBSTP m80bcd. */
static void stop(const char *name, int op, uint16_t cw, f80 a) {
  long double la = ld(a);
  uint16_t sw = 0;
  unsigned char out[10] = {0};
  int n = 0;
  switch (op) {
  case 0: __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fistps %0\n fnstsw %%ax\n" : "=m"(*(int16_t *)out), "=a"(sw) : "m"(la), "m"(cw)); n = 2; break;
  case 1: __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fistpl %0\n fnstsw %%ax\n" : "=m"(*(int32_t *)out), "=a"(sw) : "m"(la), "m"(cw)); n = 4; break;
  case 2: __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fistpll %0\n fnstsw %%ax\n" : "=m"(*(int64_t *)out), "=a"(sw) : "m"(la), "m"(cw)); n = 8; break;
  case 3: __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fstps %0\n fnstsw %%ax\n" : "=m"(*(float *)out), "=a"(sw) : "m"(la), "m"(cw)); n = 4; break;
  case 4: __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fstpl %0\n fnstsw %%ax\n" : "=m"(*(double *)out), "=a"(sw) : "m"(la), "m"(cw)); n = 8; break;
  case 5: __asm__ volatile("fldcw %3\n fnclex\n fldt %2\n fbstp %0\n fnstsw %%ax\n" : "=m"(*(char(*)[10])out), "=a"(sw) : "m"(la), "m"(cw)); n = 10; break;
  }
  emit_begin();
  printf("%s %04x", name, cw);
  pf(a);
  printf(" ");
  for (int i = n - 1; i >= 0; i--) printf("%02x", out[i]);
  printf(" %04x\"", sw & 0x473F);
}

/* Loads: FLD m32, FLD m64, FBLD. Input printed big-endian hex. */
static void ldop(const char *name, int op, uint16_t cw, const unsigned char *in) {
  long double r;
  uint16_t sw = 0;
  int n = op == 0 ? 4 : op == 1 ? 8 : 10;
  switch (op) {
  case 0: __asm__ volatile("fldcw %3\n fnclex\n flds %2\n fnstsw %%ax\n fstpt %0\n" : "=m"(r), "=a"(sw) : "m"(*(const float *)in), "m"(cw)); break;
  case 1: __asm__ volatile("fldcw %3\n fnclex\n fldl %2\n fnstsw %%ax\n fstpt %0\n" : "=m"(r), "=a"(sw) : "m"(*(const double *)in), "m"(cw)); break;
  case 2: __asm__ volatile("fldcw %3\n fnclex\n fbld %2\n fnstsw %%ax\n fstpt %0\n" : "=m"(r), "=a"(sw) : "m"(*(const char(*)[10])in), "m"(cw)); break;
  }
  emit_begin();
  printf("%s %04x ", name, cw);
  for (int i = n - 1; i >= 0; i--) printf("%02x", in[i]);
  pf(fx(r));
  printf(" %04x\"", sw & 0x473F);
}

static f80 near_int(void) {
  f80 x = rval(0x3FFF + 20);
  if (rnd() % 3 == 0) { /* small halves: +-0.5, 1.5, 2.5 ... */
    long double v = (long double)(rnd() % 64) / 2.0L;
    if (rnd() & 1) v = -v;
    x = fx(v);
  }
  return x;
}

int main(void) {
  static const uint16_t pcs[3] = {0x000, 0x200, 0x300};
  static const char *bn[4] = {"add", "sub", "mul", "div"};
  printf("{\n  \"generator\": \"test/cpu/fpu/gen/gen-vectors.c\",\n  \"vectors\": [");
  for (int rc = 0; rc < 4; rc++)
    for (int p = 0; p < 3; p++) {
      uint16_t cw = 0x007F | pcs[p] | rc << 10;
      for (int op = 0; op < 4; op++)
        for (int i = 0; i < 260; i++) {
          f80 a = rval(0x3FFF), b = rval(a.se & 0x7FFF);
          if (op == 2 || op == 3) b = rval(0x3FFF);
          binop(bn[op], op, cw, a, b);
        }
      for (int i = 0; i < 260; i++) unop("sqrt", 0, cw, rval(0x3FFF));
    }
  for (int rc = 0; rc < 4; rc++) {
    uint16_t cw = 0x037F | rc << 10;
    for (int i = 0; i < 150; i++) unop("rndint", 1, cw, near_int());
    for (int i = 0; i < 150; i++) stop("ist16", 0, cw, rval(0x3FFF + 8 + rnd() % 12));
    for (int i = 0; i < 150; i++) stop("ist32", 1, cw, i & 1 ? near_int() : rval(0x3FFF + 16 + rnd() % 20));
    for (int i = 0; i < 150; i++) stop("ist64", 2, cw, i & 1 ? near_int() : rval(0x3FFF + 40 + rnd() % 30));
    for (int i = 0; i < 200; i++) stop("st32", 3, cw, rval(0x3FFF + (rnd() % 3 == 0 ? (rnd() & 1 ? 127 : -126) : 0)));
    for (int i = 0; i < 200; i++) stop("st64", 4, cw, rval(0x3FFF + (rnd() % 3 == 0 ? (rnd() & 1 ? 1023 : -1022) : 0)));
    for (int i = 0; i < 100; i++) stop("bst", 5, cw, i & 1 ? near_int() : rval(0x3FFF + 30 + rnd() % 40));
    for (int i = 0; i < 150; i++) { f80 a = rval(0x3FFF); binop("scale", 6, cw, a, rval(0x3FFF + (rnd() % 16))); }
  }
  uint16_t cw = 0x037F;
  for (int i = 0; i < 400; i++) { f80 a = rval(0x3FFF); cmpop("com", 0, cw, a, rnd() % 4 ? rval(a.se & 0x7FFF) : a); }
  for (int i = 0; i < 400; i++) { f80 a = rval(0x3FFF); cmpop("ucom", 1, cw, a, rnd() % 4 ? rval(a.se & 0x7FFF) : a); }
  for (int i = 0; i < 600; i++) { f80 a = rval(0x3FFF + (int)(rnd() % 200)); binop(i & 1 ? "prem1" : "prem", i & 1 ? 5 : 4, cw, a, rval(0x3FFF)); }
  for (int i = 0; i < 200; i++) unop("xtract", 2, cw, rval(0x3FFF));
  for (int i = 0; i < 300; i++) {
    unsigned char in[10];
    uint64_t v = rnd();
    if (i % 4 == 0) v = (v & 0x807FFFFFull) | (rnd() % 3 == 0 ? 0 : rnd() & 1 ? 0x7F800000ull : 0);
    memcpy(in, &v, 4);
    ldop("ld32", 0, cw, in);
    v = rnd();
    if (i % 4 == 0) v = (v & 0x800FFFFFFFFFFFFFull) | (rnd() % 3 == 0 ? 0 : rnd() & 1 ? 0x7FF0000000000000ull : 0);
    memcpy(in, &v, 8);
    ldop("ld64", 1, cw, in);
    for (int j = 0; j < 9; j++) in[j] = (unsigned char)((rnd() % 10) | (rnd() % 10) << 4);
    in[9] = rnd() & 1 ? 0x80 : 0;
    ldop("bld", 2, cw, in);
  }
  printf("\n  ]\n}\n");
  return 0;
}
