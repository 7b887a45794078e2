/*
 * mmx_diff.c - differential guest: MMX, the SSE/SSE2 MMX forms and the SSSE3 mm forms at CPL 3.
 *
 * At ring 0 the guest clears CR0.EM/TS and sets CR0.MP|NE and CR4.OSFXSR (needed only by the
 * forms with an XMM operand: MOVQ2DQ, CVTPI2PS, ...; SDM Vol.3 Table 22-5..22-8). Every case
 * runs in its own run_at_ring3() call: FNINIT; FLD1 (so TOP=7 and R7 holds 1.0), MM0 <- a,
 * MM1 <- b, XMM1 <- b:a, one instruction, then FNSTENV, and prints
 *   <insn>.<index> <a> <b> <mm0> <rax> <xmm0 lo64> <FSW.TOP | empty-register mask << 16>
 * so the x87 -> MMX transition (TOP=0, no register empty, SDM Vol.1 9.5.1) is compared too;
 * the case ends with EMMS. The full FTW is not printed: QEMU 7.2 TCG's FNSTENV tags an
 * MMX-written register holding 0 as "zero" (01B) where silicon and pinvm report "special"
 * (10B, exponent FFFFH); test/cpu/mmx.test.ts checks the full tags against the host CPU. Inputs are saturation and sign edge patterns and
 * LCG values. Compared line by line between pinvm and QEMU TCG; the SSSE3 cases run only when
 * CPUID.01H:ECX.SSSE3 is set. Also builds natively (guests/lib/native.c) for the host CPU.
 *
 * MMX code lives only in inline asm, so the guest builds with the default -mgeneral-regs-only
 * flags (the compiler never allocates MMX/XMM registers, so the asm needs no such clobbers).
 */
#include "guest.h"

struct mmx_case {
    uint64_t a, b;   /* 0, 8 */
    uint64_t mm0;    /* 16 */
    uint64_t rax;    /* 24 */
    uint64_t xmm0;   /* 32 */
    uint16_t env[14]; /* 40: FNSTENV image (32-bit layout) */
    uint8_t mem[16]; /* 68: memory operand / store target */
    int op;
};

#define OP(n, insn)                                                                              \
    case n:                                                                                      \
        __asm__ volatile("fninit\n\tfld1\n\tmovq (%[c]), %%mm0\n\tmovq 8(%[c]), %%mm1\n\t"        \
                         "movdqu (%[c]), %%xmm1\n\tpxor %%xmm0, %%xmm0\n\tmov $0x1234, %%eax\n\t" \
                         "lea 68(%[c]), %%rsi\n\t" insn "\n\t"                                   \
                         "movq %%mm0, 16(%[c])\n\tmov %%rax, 24(%[c])\n\tmovq %%xmm0, 32(%[c])\n\t" \
                         "fnstenv 40(%[c])\n\temms"                                              \
                         :                                                                       \
                         : [c] "r"(c)                                                            \
                         : "rax", "rsi", "rdi", "memory", "cc");                                 \
        break;

static const char *const names[] = {
    "paddb",    "paddw",     "paddd",     "paddq",     "psubb",     "psubw",    "psubd",     "psubq",
    "paddsb",   "paddsw",    "paddusb",   "paddusw",   "psubsb",    "psubsw",   "psubusb",   "psubusw",
    "pcmpeqb",  "pcmpeqw",   "pcmpeqd",   "pcmpgtb",   "pcmpgtw",   "pcmpgtd",  "pand",      "pandn",
    "por",      "pxor",      "packsswb",  "packssdw",  "packuswb",  "punpcklbw", "punpcklwd", "punpckldq",
    "punpckhbw", "punpckhwd", "punpckhdq", "pmullw",   "pmulhw",    "pmaddwd",  "psllw",     "pslld",
    "psllq",    "psrlw",     "psrld",     "psrlq",     "psraw",     "psrad",    "psllw.i",   "psrad.i",
    "psrlq.i",  "movd.r",    "movq.r",    "movd.from", "movq.from", "pavgb",    "pavgw",     "pminub",
    "pmaxub",   "pminsw",    "pmaxsw",    "pmulhuw",   "psadbw",    "pmuludq",  "pshufw",    "pextrw",
    "pinsrw",   "pmovmskb",  "maskmovq",  "movntq",    "movq2dq",   "movdq2q",  "cvtpi2ps",  "cvtpi2pd",
    "cvttps2pi", "cvtps2pi", "cvtpd2pi",  "paddw.m",   "punpcklbw.m", "emms",
    /* SSSE3 from here (FIRST_SSSE3) */
    "pshufb",   "phaddw",    "phaddd",    "phaddsw",   "phsubw",    "phsubd",   "phsubsw",   "pmaddubsw",
    "pmulhrsw", "psignb",    "psignw",    "psignd",    "pabsb",     "pabsw",    "pabsd",     "palignr",
};
#define NOPS ((int)(sizeof(names) / sizeof(names[0])))
#define FIRST_SSSE3 78

static uint64_t run_case(uint64_t arg) {
    struct mmx_case *c = (struct mmx_case *)arg;
    switch (c->op) {
        OP(0, "paddb %%mm1, %%mm0")
        OP(1, "paddw %%mm1, %%mm0")
        OP(2, "paddd %%mm1, %%mm0")
        OP(3, "paddq %%mm1, %%mm0")
        OP(4, "psubb %%mm1, %%mm0")
        OP(5, "psubw %%mm1, %%mm0")
        OP(6, "psubd %%mm1, %%mm0")
        OP(7, "psubq %%mm1, %%mm0")
        OP(8, "paddsb %%mm1, %%mm0")
        OP(9, "paddsw %%mm1, %%mm0")
        OP(10, "paddusb %%mm1, %%mm0")
        OP(11, "paddusw %%mm1, %%mm0")
        OP(12, "psubsb %%mm1, %%mm0")
        OP(13, "psubsw %%mm1, %%mm0")
        OP(14, "psubusb %%mm1, %%mm0")
        OP(15, "psubusw %%mm1, %%mm0")
        OP(16, "pcmpeqb %%mm1, %%mm0")
        OP(17, "pcmpeqw %%mm1, %%mm0")
        OP(18, "pcmpeqd %%mm1, %%mm0")
        OP(19, "pcmpgtb %%mm1, %%mm0")
        OP(20, "pcmpgtw %%mm1, %%mm0")
        OP(21, "pcmpgtd %%mm1, %%mm0")
        OP(22, "pand %%mm1, %%mm0")
        OP(23, "pandn %%mm1, %%mm0")
        OP(24, "por %%mm1, %%mm0")
        OP(25, "pxor %%mm1, %%mm0")
        OP(26, "packsswb %%mm1, %%mm0")
        OP(27, "packssdw %%mm1, %%mm0")
        OP(28, "packuswb %%mm1, %%mm0")
        OP(29, "punpcklbw %%mm1, %%mm0")
        OP(30, "punpcklwd %%mm1, %%mm0")
        OP(31, "punpckldq %%mm1, %%mm0")
        OP(32, "punpckhbw %%mm1, %%mm0")
        OP(33, "punpckhwd %%mm1, %%mm0")
        OP(34, "punpckhdq %%mm1, %%mm0")
        OP(35, "pmullw %%mm1, %%mm0")
        OP(36, "pmulhw %%mm1, %%mm0")
        OP(37, "pmaddwd %%mm1, %%mm0")
        OP(38, "movq %%mm1, %%rax\n\tand $0x1f, %%eax\n\tmovq %%rax, %%mm1\n\tpsllw %%mm1, %%mm0")
        OP(39, "movq %%mm1, %%rax\n\tand $0x3f, %%eax\n\tmovq %%rax, %%mm1\n\tpslld %%mm1, %%mm0")
        OP(40, "movq %%mm1, %%rax\n\tand $0x7f, %%eax\n\tmovq %%rax, %%mm1\n\tpsllq %%mm1, %%mm0")
        OP(41, "movq %%mm1, %%rax\n\tand $0x1f, %%eax\n\tmovq %%rax, %%mm1\n\tpsrlw %%mm1, %%mm0")
        OP(42, "movq %%mm1, %%rax\n\tand $0x3f, %%eax\n\tmovq %%rax, %%mm1\n\tpsrld %%mm1, %%mm0")
        OP(43, "movq %%mm1, %%rax\n\tand $0x7f, %%eax\n\tmovq %%rax, %%mm1\n\tpsrlq %%mm1, %%mm0")
        OP(44, "movq %%mm1, %%rax\n\tand $0x1f, %%eax\n\tmovq %%rax, %%mm1\n\tpsraw %%mm1, %%mm0")
        OP(45, "psrad %%mm1, %%mm0")
        OP(46, "psllw $5, %%mm0")
        OP(47, "psrad $17, %%mm0")
        OP(48, "psrlq $33, %%mm0")
        OP(49, "movq %%mm1, %%rax\n\tmovd %%eax, %%mm0")
        OP(50, "movq %%mm1, %%rax\n\tmovq %%rax, %%mm0")
        OP(51, "movd %%mm1, %%eax")
        OP(52, "movq %%mm1, %%rax")
        OP(53, "pavgb %%mm1, %%mm0")
        OP(54, "pavgw %%mm1, %%mm0")
        OP(55, "pminub %%mm1, %%mm0")
        OP(56, "pmaxub %%mm1, %%mm0")
        OP(57, "pminsw %%mm1, %%mm0")
        OP(58, "pmaxsw %%mm1, %%mm0")
        OP(59, "pmulhuw %%mm1, %%mm0")
        OP(60, "psadbw %%mm1, %%mm0")
        OP(61, "pmuludq %%mm1, %%mm0")
        OP(62, "pshufw $0x1b, %%mm1, %%mm0")
        OP(63, "pextrw $2, %%mm1, %%eax")
        OP(64, "movq %%mm1, %%rax\n\tpinsrw $1, %%eax, %%mm0")
        OP(65, "pmovmskb %%mm1, %%eax")
        OP(66, "movq %%mm0, (%%rsi)\n\tmov %%rsi, %%rdi\n\tpxor %%mm0, %%mm0\n\tmaskmovq %%mm1, %%mm0\n\tmovq (%%rsi), %%mm0")
        OP(67, "movntq %%mm1, (%%rsi)\n\tmovq (%%rsi), %%mm0")
        OP(68, "movq2dq %%mm1, %%xmm0")
        OP(69, "movdq2q %%xmm1, %%mm0")
        OP(70, "cvtpi2ps %%mm1, %%xmm0")
        OP(71, "cvtpi2pd %%mm1, %%xmm0\n\tmovhlps %%xmm0, %%xmm1\n\tmovq %%xmm1, %%rax")
        OP(72, "cvttps2pi %%xmm1, %%mm0")
        OP(73, "cvtps2pi %%xmm1, %%mm0")
        OP(74, "cvtpd2pi %%xmm1, %%mm0")
        OP(75, "movq %%mm1, (%%rsi)\n\tpaddw (%%rsi), %%mm0")
        OP(76, "movq %%mm1, (%%rsi)\n\tpunpcklbw (%%rsi), %%mm0")
        OP(77, "emms")
        OP(78, "pshufb %%mm1, %%mm0")
        OP(79, "phaddw %%mm1, %%mm0")
        OP(80, "phaddd %%mm1, %%mm0")
        OP(81, "phaddsw %%mm1, %%mm0")
        OP(82, "phsubw %%mm1, %%mm0")
        OP(83, "phsubd %%mm1, %%mm0")
        OP(84, "phsubsw %%mm1, %%mm0")
        OP(85, "pmaddubsw %%mm1, %%mm0")
        OP(86, "pmulhrsw %%mm1, %%mm0")
        OP(87, "psignb %%mm1, %%mm0")
        OP(88, "psignw %%mm1, %%mm0")
        OP(89, "psignd %%mm1, %%mm0")
        OP(90, "pabsb %%mm1, %%mm0")
        OP(91, "pabsw %%mm1, %%mm0")
        OP(92, "pabsd %%mm1, %%mm0")
        OP(93, "palignr $3, %%mm1, %%mm0")
    }
    return 0;
}

static const uint64_t edges[] = {
    0x0000000000000000UL, 0xffffffffffffffffUL, 0x7fff80007fff8000UL, 0x807f7f80ff0001feUL,
    0x00ff00ff00ff00ffUL, 0x8000000080000000UL, 0x7fffffff7fffffffUL, 0x0102030405060708UL,
    0x3f8000004f000000UL, 0xcf000001bfc00000UL, 0x41e0000000000000UL, 0x7ff8000000000000UL,
};
#define NEDGE ((int)(sizeof(edges) / sizeof(edges[0])))

int test_main(void) {
    uint64_t cr4, cr0;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 0x600;
    __asm__ volatile("mov %0, %%cr4" ::"r"(cr4));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 &= ~0xcUL;
    cr0 |= 0x22; /* MP, NE */
    __asm__ volatile("mov %0, %%cr0" ::"r"(cr0));

    uint32_t a1 = 1, b1, c1, d1;
    __asm__ volatile("cpuid" : "+a"(a1), "=b"(b1), "=c"(c1), "=d"(d1));
    int have_ssse3 = (c1 & (1u << 9)) != 0;
    serial_puts((d1 & (1u << 23)) ? "mmx yes\n" : "mmx no\n");
    serial_puts(have_ssse3 ? "ssse3 yes\n" : "ssse3 no\n");

    static struct mmx_case c;
    uint64_t seed = 0x9e3779b97f4a7c15UL;
    for (int op = 0; op < NOPS; op++) {
        if (!have_ssse3 && op >= FIRST_SSSE3) continue;
        for (int n = 0; n < 12; n++) {
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            c.a = (n & 3) == 0 ? seed ^ (seed >> 29) : edges[(seed >> 33) % NEDGE];
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            c.b = (n & 3) == 1 ? seed ^ (seed >> 31) : edges[(seed >> 35) % NEDGE];
            if (op == 45) c.b &= 0x3f;
            c.op = op;
            run_at_ring3(run_case, (uint64_t)&c);
            uint64_t v[6];
            v[0] = c.a;
            v[1] = c.b;
            v[2] = c.mm0;
            v[3] = c.rax;
            v[4] = c.xmm0;
            uint64_t empty = 0;
            for (int r = 0; r < 8; r++)
                if (((c.env[4] >> (2 * r)) & 3) == 3) empty |= 1u << r;
            v[5] = (uint64_t)((c.env[2] >> 11) & 7) | (empty << 16);
            serial_puts(names[op]);
            serial_putc('.');
            serial_print_dec(n);
            report_values("", v, 6);
        }
    }
    return 0;
}
