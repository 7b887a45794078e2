/*
 * x87_diff.c - differential guest: x87 FPU results, status words and tags computed at CPL 3.
 *
 * Every case runs in its own run_at_ring3() call: FNINIT; FLDCW cw; FLD b; FLD a; <op>;
 * then FNSAVE (SDM Vol.1 8.1.10) into a buffer, and prints one line
 *   <op>.<index> <cw> <a-se> <a-sig> <b-se> <b-sig> <fsw & defined> <ftw> <st0-se> <st0-sig>
 *                <st1-se> <st1-sig> [<memory result>] [<rflags & ZF|PF|CF>]
 * over a table of edge operands (zeros, denormals, pseudo-denormals, unnormals, infinities,
 * SNaN/QNaN, the largest/smallest normals, values near 1 and π) and all four rounding modes.
 * Condition codes the SDM calls undefined for an instruction are masked out (C0/C2/C3 after
 * arithmetic, C0/C3 after FSIN/FCOS/FPTAN). All exceptions stay masked (FNINIT default).
 * The runtime leaves CR0.EM=0, CR0.TS=0, so x87 instructions run at CPL 3 without #NM.
 *
 * QEMU TCG note: TCG 7.2's transcendentals (FSIN/FCOS/FPTAN/FPATAN/F2XM1/FYL2X/FYL2XP1) are
 * computed in host double precision (e.g. FSIN(1.0) = 3FFE D76AA47848677000 with PE clear;
 * silicon and pinvm give D76AA47848677021 with PE set), so 575 of the 9000 lines differ (with FPREM/FPREM1 below);
 * all of them carry the `t-` prefix, and every other line is identical under TCG and pinvm, and TCG reduces trigonometric arguments with an exact π rather than the x87's
 * 66-bit π. pinvm follows silicon (see src/cpu/fpu/x87-transcendental.ts). Lines for those
 * operations are therefore printed under the name prefix `t-` so a comparison can treat
 * them separately; so are FPREM/FPREM1, whose quotient bits (C0/C3/C1) TCG 7.2 reports as 0
 * in some cases (e.g. FPREM1 of 1 by 1/3: silicon C3=C1=1 for quotient 3) and whose result for
 * a pseudo-denormal dividend TCG does not normalise.
 */
#include "guest.h"

struct f80 {
    uint64_t sig;
    uint16_t se;
} __attribute__((packed));

enum op {
    OP_FADD, OP_FSUB, OP_FMUL, OP_FDIV, OP_FSQRT, OP_FPREM, OP_FPREM1, OP_FSCALE, OP_FXTRACT,
    OP_FRNDINT, OP_FCOM, OP_FUCOMI, OP_FXAM, OP_FIST64, OP_FST32, OP_FST64, OP_FBSTP,
    OP_FSIN, OP_FCOS, OP_FPTAN, OP_FPATAN, OP_F2XM1, OP_FYL2X, OP_FYL2XP1, OP_COUNT,
};

static const char *const names[OP_COUNT] = {
    "fadd", "fsub", "fmul", "fdiv", "fsqrt", "t-fprem", "t-fprem1", "fscale", "fxtract",
    "frndint", "fcom", "fucomi", "fxam", "fist64", "fst32", "fst64", "fbstp",
    "t-fsin", "t-fcos", "t-fptan", "t-fpatan", "t-f2xm1", "t-fyl2x", "t-fyl2xp1",
};

/*
 * FSW bits defined after the instruction (SDM Vol.2 "FPU Flags Affected"), minus the two that
 * QEMU TCG does not model (DE, bit 1, and C1 as the round-up indicator, bit 9): lines without
 * the `t-` prefix then agree between silicon, TCG and pinvm. test/cpu/x87.test.ts checks DE
 * and C1 against silicon instead.
 */
static uint64_t fsw_mask(enum op op) {
    switch (op) {
    case OP_FPREM: case OP_FPREM1: return 0xffff & ~0x2UL;
    case OP_FCOM: case OP_FXAM: return 0xffff & ~0x2UL;
    case OP_FSIN: case OP_FCOS: case OP_FPTAN: return 0xbeff & ~0x202UL; /* C0, C3 undefined */
    default: return 0xbaff & ~0x202UL;                                    /* C0, C2, C3 undefined */
    }
}

struct x87_case {
    enum op op;
    uint16_t cw;
    struct f80 a, b;
    /* outputs */
    uint8_t save[108];
    uint64_t mem[2];
    uint64_t rflags;
};

#define PRE "fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t"
#define POST "\n\tfnsave %[save]"
#define RUN(insn)                                                                              \
    __asm__ volatile(PRE insn POST : [save] "=m"(c->save), [mem] "=m"(c->mem)                 \
                     : [a] "m"(c->a), [b] "m"(c->b), [cw] "m"(c->cw) : "memory")

static uint64_t run_case(uint64_t arg) {
    struct x87_case *c = (struct x87_case *)arg;
    c->mem[0] = c->mem[1] = 0;
    c->rflags = 0;
    switch (c->op) {
    case OP_FADD: RUN("faddp %%st, %%st(1)"); break;
    case OP_FSUB: RUN("fsubrp %%st, %%st(1)"); break; /* st1 = st1 - st0 whichever encoding gas picks */
    case OP_FMUL: RUN("fmulp %%st, %%st(1)"); break;
    case OP_FDIV: RUN("fdivrp %%st, %%st(1)"); break;
    case OP_FSQRT: RUN("fsqrt"); break;
    case OP_FPREM: RUN("fprem"); break;
    case OP_FPREM1: RUN("fprem1"); break;
    case OP_FSCALE: RUN("fscale"); break;
    case OP_FXTRACT: RUN("fxtract"); break;
    case OP_FRNDINT: RUN("frndint"); break;
    case OP_FCOM: RUN("fcom %%st(1)"); break;
    case OP_FUCOMI: {
        uint64_t fl;
        __asm__ volatile(PRE "fucomi %%st(1), %%st\n\tpushfq\n\tpopq %[fl]" POST
                         : [save] "=m"(c->save), [fl] "=r"(fl)
                         : [a] "m"(c->a), [b] "m"(c->b), [cw] "m"(c->cw) : "memory", "cc");
        c->rflags = fl & 0x45;
        break;
    }
    case OP_FXAM: RUN("fxam"); break;
    case OP_FIST64: RUN("fistpll %[mem]\n\tfld1"); break;
    case OP_FST32: RUN("fsts %[mem]"); break;
    case OP_FST64: RUN("fstl %[mem]"); break;
    case OP_FBSTP: RUN("fbstp %[mem]\n\tfld1"); break;
    case OP_FSIN: RUN("fsin"); break;
    case OP_FCOS: RUN("fcos"); break;
    case OP_FPTAN: RUN("fptan"); break;
    case OP_FPATAN: RUN("fpatan"); break;
    case OP_F2XM1: RUN("f2xm1"); break;
    case OP_FYL2X: RUN("fyl2x"); break;
    case OP_FYL2XP1: RUN("fyl2xp1"); break;
    default: break;
    }
    return 0;
}

#define V(se, sig) { (sig), (se) }
static const struct f80 vals[] = {
    V(0x0000, 0),                    /* +0 */
    V(0x8000, 0),                    /* -0 */
    V(0x3fff, 0x8000000000000000),   /* 1 */
    V(0xbfff, 0xc000000000000000),   /* -1.5 */
    V(0x4000, 0xc90fdaa22168c235),   /* pi */
    V(0x3ffd, 0xaaaaaaaaaaaaaaab),   /* 1/3 */
    V(0x3ffe, 0xffffffffffffffff),   /* 1 - 2^-64 */
    V(0x3fff, 0x8000000000000001),   /* 1 + 2^-63 */
    V(0x403e, 0xfffffffffffffff0),   /* ~2^63 */
    V(0x7ffe, 0xffffffffffffffff),   /* max */
    V(0x0001, 0x8000000000000000),   /* min normal */
    V(0x0000, 0x0000000000000123),   /* denormal */
    V(0x0000, 0x8000000000000001),   /* pseudo-denormal */
    V(0x3fff, 0x4000000000000000),   /* unnormal */
    V(0x7fff, 0x8000000000000000),   /* +inf */
    V(0xffff, 0x8000000000000000),   /* -inf */
    V(0x7fff, 0xc000000000000001),   /* QNaN */
    V(0x7fff, 0x8000000000000001),   /* SNaN */
    V(0x3ffb, 0xcccccccccccccccd),   /* 0.1 */
    V(0xc005, 0xa000000000000000),   /* -80 */
};
#define NVALS (sizeof vals / sizeof vals[0])

static uint64_t f80_sig(const uint8_t *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

static int idx[OP_COUNT];

static void one(enum op op, uint16_t cw, const struct f80 *a, const struct f80 *b) {
    static struct x87_case c;
    c.op = op;
    c.cw = cw;
    c.a = *a;
    c.b = *b;
    run_at_ring3(run_case, (uint64_t)&c);
    uint64_t v[14];
    int n = 0;
    v[n++] = cw;
    v[n++] = a->se;
    v[n++] = a->sig;
    v[n++] = b->se;
    v[n++] = b->sig;
    v[n++] = (c.save[4] | (c.save[5] << 8)) & fsw_mask(op);
    v[n++] = c.save[8] | (c.save[9] << 8);
    v[n++] = c.save[28 + 8] | (c.save[28 + 9] << 8);
    v[n++] = f80_sig(c.save + 28);
    v[n++] = c.save[38 + 8] | (c.save[38 + 9] << 8);
    v[n++] = f80_sig(c.save + 38);
    if (op == OP_FIST64 || op == OP_FST32 || op == OP_FST64 || op == OP_FBSTP) {
        v[n++] = c.mem[0];
        if (op == OP_FBSTP) v[n++] = c.mem[1] & 0xffff;
    }
    if (op == OP_FUCOMI) v[n++] = c.rflags;
    char name[32];
    const char *s = names[op];
    int k = 0;
    while (*s) name[k++] = *s++;
    name[k++] = '.';
    int i = idx[op]++;
    char digits[8];
    int d = 0;
    do { digits[d++] = (char)('0' + i % 10); i /= 10; } while (i);
    while (d) name[k++] = digits[--d];
    name[k] = 0;
    report_values(name, v, n);
}

int test_main(void) {
    static const uint16_t cws[] = {0x037f, 0x077f, 0x0b7f, 0x0f7f};
    for (int op = 0; op < OP_COUNT; op++) {
        int binary = op == OP_FADD || op == OP_FSUB || op == OP_FMUL || op == OP_FDIV ||
                     op == OP_FPREM || op == OP_FPREM1 || op == OP_FSCALE || op == OP_FCOM ||
                     op == OP_FUCOMI || op == OP_FPATAN || op == OP_FYL2X || op == OP_FYL2XP1;
        int nrc = (op == OP_FCOM || op == OP_FUCOMI || op == OP_FXAM || op == OP_FXTRACT ||
                   op == OP_FPREM || op == OP_FPREM1) ? 1 : 4;
        for (int r = 0; r < nrc; r++)
            for (unsigned i = 0; i < NVALS; i++) {
                if (binary) {
                    for (unsigned j = 0; j < NVALS; j += (r ? 3 : 1))
                        one((enum op)op, cws[r], &vals[i], &vals[j]);
                } else {
                    one((enum op)op, cws[r], &vals[i], &vals[2]);
                }
            }
    }
    return 0;
}
