/*
 * Integer-instruction vector generator: runs shifts/rotates, SHLD/SHRD, MUL/IMUL/DIV/IDIV,
 * BT*, BSF/BSR/TZCNT/LZCNT/POPCNT/BSWAP, XADD/CMPXCHG, CBW..CQO and LAHF/SAHF natively on the
 * host CPU and prints the inputs and the resulting RAX/RCX/RDX/RFLAGS as JSON, one file per
 * group. These are the expected values of test/cpu/{shift,muldiv,bits,exchange}.test.ts.
 *
 * Every instruction takes its operands from RAX, RCX and RDX (Intel syntax, the exact
 * source string the tests assemble with GNU as). A #DE (SIGFPE) is recorded as "DE".
 *
 * Build and run (x86-64 Linux, gcc):
 *   gcc -O1 -masm=intel -mno-red-zone -o /tmp/gen test/cpu/gen/gen-int-vectors.c
 *   /tmp/gen test/cpu/vectors && npx prettier --write test/cpu/vectors
 * Line format: "<insn index> <rax> <rcx> <rdx> <rflags> <rax'> <rcx'> <rdx'> <rflags'>" (hex),
 * or "... DE" when the instruction raised #DE. The JSON also records the host CPU model:
 * flags the SDM leaves undefined differ between vendors and are masked by the tests.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*Fn)(uint64_t *r);
struct Insn {
  const char *text;
  Fn fn;
};

#define DEF(NAME, INSN)                                                                  \
  static void NAME(uint64_t *r) {                                                        \
    uint64_t a = r[0], c = r[1], d = r[2], f = r[3];                                     \
    __asm__ volatile("push %[f]\n\tpopfq\n\t" INSN "\n\tpushfq\n\tpop %[f]"              \
                     : "+a"(a), "+c"(c), "+d"(d), [f] "+r"(f)                            \
                     :                                                                   \
                     : "cc", "memory");                                                  \
    r[0] = a;                                                                            \
    r[1] = c;                                                                            \
    r[2] = d;                                                                            \
    r[3] = f;                                                                            \
  }

/* ---- shifts: dst in rax, count in cl, shld/shrd source in rdx ---- */
#define SH(op)                                                                           \
  DEF(op##8, #op " al, cl")                                                              \
  DEF(op##16, #op " ax, cl") DEF(op##32, #op " eax, cl") DEF(op##64, #op " rax, cl")
SH(rol) SH(ror) SH(rcl) SH(rcr) SH(shl) SH(shr) SH(sar) SH(sal)
DEF(shld16, "shld ax, dx, cl") DEF(shld32, "shld eax, edx, cl") DEF(shld64, "shld rax, rdx, cl")
DEF(shrd16, "shrd ax, dx, cl") DEF(shrd32, "shrd eax, edx, cl") DEF(shrd64, "shrd rax, rdx, cl")
DEF(shl32i1, "shl eax, 1") DEF(sar64i1, "sar rax, 1") DEF(rol8i1, "rol al, 1") DEF(rcr16i1, "rcr ax, 1")
DEF(shl32i5, "shl eax, 5") DEF(shr64i63, "shr rax, 63") DEF(sar16i7, "sar ax, 7") DEF(ror64i13, "ror rax, 13")
DEF(shld32i7, "shld eax, edx, 7") DEF(shrd64i40, "shrd rax, rdx, 40")

#define SHIFT_TABLE(op) {#op " al, cl", op##8}, {#op " ax, cl", op##16}, {#op " eax, cl", op##32}, {#op " rax, cl", op##64}
static const struct Insn shiftInsns[] = {
  SHIFT_TABLE(rol), SHIFT_TABLE(ror), SHIFT_TABLE(rcl), SHIFT_TABLE(rcr),
  SHIFT_TABLE(shl), SHIFT_TABLE(shr), SHIFT_TABLE(sar), SHIFT_TABLE(sal),
  {"shld ax, dx, cl", shld16}, {"shld eax, edx, cl", shld32}, {"shld rax, rdx, cl", shld64},
  {"shrd ax, dx, cl", shrd16}, {"shrd eax, edx, cl", shrd32}, {"shrd rax, rdx, cl", shrd64},
  {"shl eax, 1", shl32i1}, {"sar rax, 1", sar64i1}, {"rol al, 1", rol8i1}, {"rcr ax, 1", rcr16i1},
  {"shl eax, 5", shl32i5}, {"shr rax, 63", shr64i63}, {"sar ax, 7", sar16i7}, {"ror rax, 13", ror64i13},
  {"shld eax, edx, 7", shld32i7}, {"shrd rax, rdx, 40", shrd64i40},
};

/* ---- multiply / divide: implicit rdx:rax, explicit operand rcx ---- */
#define MD(op)                                                                           \
  DEF(op##8, #op " cl") DEF(op##16, #op " cx") DEF(op##32, #op " ecx") DEF(op##64, #op " rcx")
MD(mul) MD(imul) MD(div) MD(idiv)
DEF(imul2_16, "imul ax, cx") DEF(imul2_32, "imul eax, ecx") DEF(imul2_64, "imul rax, rcx")
DEF(imul3_16, "imul ax, cx, 0x7fff") DEF(imul3_32, "imul eax, ecx, -3") DEF(imul3_64, "imul rax, rcx, 0x12345")
DEF(imul3b_16, "imul ax, cx, -128") DEF(imul3b_32, "imul eax, ecx, 127") DEF(imul3b_64, "imul rax, rcx, -1")
#define MD_TABLE(op) {#op " cl", op##8}, {#op " cx", op##16}, {#op " ecx", op##32}, {#op " rcx", op##64}
static const struct Insn muldivInsns[] = {
  MD_TABLE(mul), MD_TABLE(imul), MD_TABLE(div), MD_TABLE(idiv),
  {"imul ax, cx", imul2_16}, {"imul eax, ecx", imul2_32}, {"imul rax, rcx", imul2_64},
  {"imul ax, cx, 0x7fff", imul3_16}, {"imul eax, ecx, -3", imul3_32}, {"imul rax, rcx, 0x12345", imul3_64},
  {"imul ax, cx, -128", imul3b_16}, {"imul eax, ecx, 127", imul3b_32}, {"imul rax, rcx, -1", imul3b_64},
};

/* ---- bit instructions: rax = dst/base, rdx = bit offset or source ---- */
#define BT4(op) DEF(op##16, #op " ax, dx") DEF(op##32, #op " eax, edx") DEF(op##64, #op " rax, rdx")
BT4(bt) BT4(bts) BT4(btr) BT4(btc) BT4(bsf) BT4(bsr) BT4(tzcnt) BT4(lzcnt) BT4(popcnt)
DEF(bti16, "bt ax, 17") DEF(btsi32, "bts eax, 33") DEF(btri64, "btr rax, 63") DEF(btci64, "btc rax, 200")
DEF(bswap32, "bswap eax") DEF(bswap64, "bswap rax") DEF(bswap16, ".byte 0x66, 0x0f, 0xc8")
#define BT_TABLE(op) {#op " ax, dx", op##16}, {#op " eax, edx", op##32}, {#op " rax, rdx", op##64}
static const struct Insn bitsInsns[] = {
  BT_TABLE(bt), BT_TABLE(bts), BT_TABLE(btr), BT_TABLE(btc), BT_TABLE(bsf), BT_TABLE(bsr),
  BT_TABLE(tzcnt), BT_TABLE(lzcnt), BT_TABLE(popcnt),
  {"bt ax, 17", bti16}, {"bts eax, 33", btsi32}, {"btr rax, 63", btri64}, {"btc rax, 200", btci64},
  {"bswap eax", bswap32}, {"bswap rax", bswap64}, {".byte 0x66, 0x0f, 0xc8", bswap16},
};

/* ---- exchange / convert: cmpxchg compares rax with rcx and stores rdx ---- */
DEF(xadd8, "xadd al, dl") DEF(xadd16, "xadd ax, dx") DEF(xadd32, "xadd eax, edx") DEF(xadd64, "xadd rax, rdx")
DEF(cx8, "cmpxchg cl, dl") DEF(cx16, "cmpxchg cx, dx") DEF(cx32, "cmpxchg ecx, edx") DEF(cx64, "cmpxchg rcx, rdx")
DEF(cbw_, "cbw") DEF(cwde_, "cwde") DEF(cdqe_, "cdqe") DEF(cwd_, "cwd") DEF(cdq_, "cdq") DEF(cqo_, "cqo")
DEF(lahf_, "lahf") DEF(sahf_, "sahf") DEF(xaddsame, "xadd eax, eax")
static const struct Insn exchangeInsns[] = {
  {"xadd al, dl", xadd8}, {"xadd ax, dx", xadd16}, {"xadd eax, edx", xadd32}, {"xadd rax, rdx", xadd64},
  {"cmpxchg cl, dl", cx8}, {"cmpxchg cx, dx", cx16}, {"cmpxchg ecx, edx", cx32}, {"cmpxchg rcx, rdx", cx64},
  {"cbw", cbw_}, {"cwde", cwde_}, {"cdqe", cdqe_}, {"cwd", cwd_}, {"cdq", cdq_}, {"cqo", cqo_},
  {"lahf", lahf_}, {"sahf", sahf_}, {"xadd eax, eax", xaddsame},
};

static sigjmp_buf jb;
static void onFpe(int sig) {
  (void)sig;
  siglongjmp(jb, 1);
}

static FILE *out;
static int first;
static void emit(int idx, const struct Insn *ins, uint64_t a, uint64_t c, uint64_t d, uint64_t f) {
  uint64_t r[4] = {a, c, d, f | 2};
  fprintf(out, "%s\n    \"%d %llx %llx %llx %llx ", first ? "" : ",", idx, (unsigned long long)a,
          (unsigned long long)c, (unsigned long long)d, (unsigned long long)(f | 2));
  first = 0;
  if (sigsetjmp(jb, 1) == 0) {
    ins->fn(r);
    fprintf(out, "%llx %llx %llx %llx\"", (unsigned long long)r[0], (unsigned long long)r[1],
            (unsigned long long)r[2], (unsigned long long)(r[3] & 0x8d7));
  } else {
    fprintf(out, "DE\"");
  }
}

static char cpuModel[128];
static void readModel(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  strcpy(cpuModel, "unknown");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p) {
        p += 2;
        p[strcspn(p, "\n")] = 0;
        snprintf(cpuModel, sizeof cpuModel, "%s", p);
      }
      break;
    }
  }
  fclose(f);
}

static void begin(const char *dir, const char *name, const struct Insn *t, int n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.json", dir, name);
  out = fopen(path, "w");
  if (!out) {
    perror(path);
    exit(1);
  }
  fprintf(out, "{\n  \"source\": \"test/cpu/gen/gen-int-vectors.c\",\n  \"cpu\": \"%s\",\n  \"insns\": [", cpuModel);
  for (int i = 0; i < n; i++) fprintf(out, "%s\"%s\"", i ? ", " : "", t[i].text);
  fprintf(out, "],\n  \"vectors\": [");
  first = 1;
}
static void end(void) {
  fprintf(out, "\n  ]\n}\n");
  fclose(out);
}

/* Interesting operand values per width (bits). */
static int values(int bits, uint64_t *v) {
  uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1, s = 1ull << (bits - 1);
  int n = 0;
  v[n++] = 0;
  v[n++] = 1;
  v[n++] = 2;
  v[n++] = 3;
  v[n++] = m;
  v[n++] = s;
  v[n++] = s - 1;
  v[n++] = s + 1;
  v[n++] = 0x5555555555555555ull & m;
  v[n++] = 0xa5c3e1f00f1e3c5aull & m;
  v[n++] = 0x123456789abcdef1ull & m;
  v[n++] = (m - 1) & m;
  return n;
}
#define GARBAGE 0xdeadbeefcafef00dull
static uint64_t merge(uint64_t v, int bits) {
  uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1;
  return (GARBAGE & ~m) | (v & m);
}
static const int WIDTH4[] = {8, 16, 32, 64};

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onFpe;
  sigaction(SIGFPE, &sa, 0);
  readModel();
  uint64_t v[16];
  int k = 0;

  /* shifts */
  static const uint64_t counts[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 18, 31, 32, 33, 63, 64, 65, 0xff};
  const int nc = sizeof counts / sizeof counts[0];
  const int nshift = sizeof shiftInsns / sizeof shiftInsns[0];
  begin(dir, "shift", shiftInsns, nshift);
  for (int i = 0; i < nshift; i++) {
    int bits = i < 32 ? WIDTH4[i & 3] : 0;
    if (!bits) {
      const char *t = shiftInsns[i].text;
      bits = strstr(t, "rax") ? 64 : strstr(t, "eax") ? 32 : strstr(t, "ax") ? 16 : 8;
    }
    int nv = values(bits, v);
    int cl = strstr(shiftInsns[i].text, ", cl") != 0;
    for (int j = 0; j < nv; j++)
      for (int c = 0; c < (cl ? nc : 1); c++) {
        uint64_t src = merge(j & 1 ? 0x8badf00d13572468ull : 0x0123456789abcdefull ^ v[j], bits);
        emit(i, &shiftInsns[i], merge(v[j], bits), 0xab00 | counts[c], src, (k++ & 1) ? 0x8d5 : 0);
        if (strncmp(shiftInsns[i].text, "rc", 2) == 0)
          emit(i, &shiftInsns[i], merge(v[j], bits), 0xab00 | counts[c], src, (k++ & 1) ? 0x8d4 : 1);
      }
  }
  end();

  /* multiply / divide */
  const int nmd = sizeof muldivInsns / sizeof muldivInsns[0];
  begin(dir, "muldiv", muldivInsns, nmd);
  for (int i = 0; i < nmd; i++) {
    const char *t = muldivInsns[i].text;
    int bits = strstr(t, "rcx") ? 64 : strstr(t, "ecx") ? 32 : strstr(t, "cx") ? 16 : 8;
    int isDiv = strstr(t, "div") != 0;
    int nv = values(bits, v);
    uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1, s = 1ull << (bits - 1);
    for (int a = 0; a < nv; a++)
      for (int c = 0; c < nv; c++) {
        if (!isDiv) {
          emit(i, &muldivInsns[i], merge(v[a], bits), merge(v[c], bits), GARBAGE, (k++ & 1) ? 0x8d5 : 0);
          continue;
        }
        /* dividend high part (AH for 8-bit, else DX/EDX/RDX) */
        uint64_t highs[] = {0, 1, v[c] ? v[c] - 1 : 0, v[c], m, s, s - 1, 0x5a & m};
        for (int h = 0; h < 8; h++) {
          uint64_t rax, rdx = GARBAGE;
          if (bits == 8)
            rax = (GARBAGE & ~0xffffull) | ((highs[h] & 0xff) << 8) | (v[a] & 0xff);
          else {
            rax = merge(v[a], bits);
            rdx = merge(highs[h], bits);
          }
          emit(i, &muldivInsns[i], rax, merge(v[c], bits), rdx, (k++ & 1) ? 0x8d5 : 0);
        }
      }
  }
  end();

  /* bit instructions */
  const int nb = sizeof bitsInsns / sizeof bitsInsns[0];
  begin(dir, "bits", bitsInsns, nb);
  static const uint64_t offs[] = {0, 1, 5, 15, 16, 31, 32, 33, 63, 64, 100, 0xffff, 0xffffffff, ~0ull, 0x8000000000000000ull};
  for (int i = 0; i < nb; i++) {
    const char *t = bitsInsns[i].text;
    int bits = strstr(t, "rax") ? 64 : strstr(t, "eax") ? 32 : strstr(t, "ax") ? 16 : 16;
    if (strstr(t, ".byte")) bits = 16;
    int nv = values(bits, v);
    int isBt = t[0] == 'b' && t[1] == 't';
    int isReg = isBt && strstr(t, "dx") != 0;
    for (int a = 0; a < nv; a++) {
      if (isReg) {
        for (unsigned o = 0; o < sizeof offs / sizeof offs[0]; o++)
          emit(i, &bitsInsns[i], merge(v[a], bits), GARBAGE, offs[o], (k++ & 1) ? 0x8d5 : 0);
      } else if (isBt || t[1] == 's' || t[0] == '.') {
        /* imm forms and bswap: operand in rax */
        emit(i, &bitsInsns[i], merge(v[a], bits), GARBAGE, GARBAGE, (k++ & 1) ? 0x8d5 : 0);
      } else {
        /* bsf/bsr/tzcnt/lzcnt/popcnt: source in rdx, destination rax holds garbage */
        emit(i, &bitsInsns[i], GARBAGE, GARBAGE, merge(v[a], bits), (k++ & 1) ? 0x8d5 : 0);
        emit(i, &bitsInsns[i], GARBAGE, GARBAGE, merge(v[a] << (a & 7), bits), (k++ & 1) ? 0x8d5 : 0);
      }
    }
  }
  end();

  /* exchange / convert */
  const int nx = sizeof exchangeInsns / sizeof exchangeInsns[0];
  begin(dir, "exchange", exchangeInsns, nx);
  for (int i = 0; i < nx; i++) {
    const char *t = exchangeInsns[i].text;
    int bits = strstr(t, "rax") || strstr(t, "rcx") ? 64 : strstr(t, "eax") || strstr(t, "ecx") ? 32
             : strstr(t, "ax") || strstr(t, "cx") ? 16 : strstr(t, " ") ? 8 : 64;
    int nv = values(bits, v);
    for (int a = 0; a < nv; a++) {
      if (strncmp(t, "xadd", 4) == 0) {
        for (int d = 0; d < nv; d += 2)
          emit(i, &exchangeInsns[i], merge(v[a], bits), GARBAGE, merge(v[d], bits), (k++ & 1) ? 0x8d5 : 0);
      } else if (strncmp(t, "cmpxchg", 7) == 0) {
        for (int c = 0; c < nv; c += 3) {
          emit(i, &exchangeInsns[i], merge(v[a], bits), merge(v[c], bits), 0x1122334455667788ull, (k++ & 1) ? 0x8d5 : 0);
          emit(i, &exchangeInsns[i], merge(v[a], bits), merge(v[a], bits) ^ (GARBAGE << 32), 0x1122334455667788ull,
               (k++ & 1) ? 0x8d5 : 0);
        }
      } else {
        uint64_t x = 0x0123456789abcdefull * (a + 1) ^ (v[a] << 7);
        emit(i, &exchangeInsns[i], x, GARBAGE, GARBAGE, (k++ & 1) ? 0x8d5 : 0);
        emit(i, &exchangeInsns[i], ~x, GARBAGE, GARBAGE, (k++ & 1) ? 0x8d5 : 0);
      }
    }
  }
  end();
  return 0;
}
