/*
 * ring3_alu.c - differential guest: integer ALU results and flags computed at CPL 3.
 *
 * Every case runs in its own run_at_ring3() call and prints one line
 *   <op>.<index> <a> <b> <rflags-in> <result> [<result2>] <rflags-out & defined-mask>
 * for add/sub/adc/sbb/and/xor (64- and 32-bit), shl/shr/sar/rol/ror, imul (two-operand and
 * one-operand) and div over a set of edge values, with the carry-in or the whole arithmetic
 * flag set given as input. Flags the SDM calls undefined for an instruction are masked out, so
 * any two conforming implementations (real hardware under KVM, TCG, pinvm) print the same
 * text. For div, <a> <b> are RAX and the divisor, and RDX-in follows <rflags-in>; its
 * divide-error cases print `div.<index> <rax> <divisor> <rflags-in> <rdx> fault <vector>`.
 */
#include "guest.h"

#define CF 0x001UL
#define PF 0x004UL
#define AF 0x010UL
#define ZF 0x040UL
#define SF 0x080UL
#define OF 0x800UL
#define ARITH_FLAGS (CF | PF | AF | ZF | SF | OF)

enum op {
    OP_ADD,
    OP_SUB,
    OP_ADC,
    OP_SBB,
    OP_AND,
    OP_XOR,
    OP_ADD32,
    OP_SUB32,
    OP_SHL,
    OP_SHR,
    OP_SAR,
    OP_ROL,
    OP_ROR,
    OP_IMUL2,
    OP_IMUL1,
    OP_DIV,
};

/* One case; run at ring 3, which fills in the outputs. */
struct alu_case {
    enum op op;
    uint64_t a, b, flags_in;
    uint64_t result, result2, flags_out;
};

#define BINOP(insn, out, in_b)                                                                 \
    __asm__ volatile("pushq %[fi]\n\tpopfq\n\t" insn " %[b], %[r]\n\tpushfq\n\tpopq %[fo]"   \
                     : [r] "+r"(out), [fo] "=&r"(c->flags_out)                                 \
                     : [b] "r"(in_b), [fi] "r"(c->flags_in)                                    \
                     : "cc")

#define SHIFTOP(insn)                                                                          \
    __asm__ volatile("pushq %[fi]\n\tpopfq\n\t" insn " %%cl, %[r]\n\tpushfq\n\tpopq %[fo]"    \
                     : [r] "+r"(r), [fo] "=&r"(c->flags_out)                                   \
                     : "c"(c->b), [fi] "r"(c->flags_in)                                        \
                     : "cc")

static uint64_t run_case(uint64_t arg) {
    struct alu_case *c = (struct alu_case *)arg;
    uint64_t r = c->a;
    uint32_t r32 = (uint32_t)c->a;
    switch (c->op) {
    case OP_ADD: BINOP("addq", r, c->b); break;
    case OP_SUB: BINOP("subq", r, c->b); break;
    case OP_ADC: BINOP("adcq", r, c->b); break;
    case OP_SBB: BINOP("sbbq", r, c->b); break;
    case OP_AND: BINOP("andq", r, c->b); break;
    case OP_XOR: BINOP("xorq", r, c->b); break;
    case OP_ADD32: BINOP("addl", r32, (uint32_t)c->b); r = r32; break;
    case OP_SUB32: BINOP("subl", r32, (uint32_t)c->b); r = r32; break;
    case OP_SHL: SHIFTOP("shlq"); break;
    case OP_SHR: SHIFTOP("shrq"); break;
    case OP_SAR: SHIFTOP("sarq"); break;
    case OP_ROL: SHIFTOP("rolq"); break;
    case OP_ROR: SHIFTOP("rorq"); break;
    case OP_IMUL2: BINOP("imulq", r, c->b); break;
    case OP_IMUL1: {
        uint64_t rdx;
        __asm__ volatile("pushq %[fi]\n\tpopfq\n\timulq %[b]\n\tpushfq\n\tpopq %[fo]"
                         : "+a"(r), "=d"(rdx), [fo] "=&r"(c->flags_out)
                         : [b] "r"(c->b), [fi] "r"(c->flags_in)
                         : "cc");
        c->result2 = rdx;
        break;
    }
    case OP_DIV: {
        /* a = RAX, result2 doubles as the RDX input; quotient in result, remainder in result2. */
        uint64_t rdx = c->result2;
        __asm__ volatile("pushq %[fi]\n\tpopfq\n\tdivq %[b]\n\tpushfq\n\tpopq %[fo]"
                         : "+a"(r), "+d"(rdx), [fo] "=&r"(c->flags_out)
                         : [b] "r"(c->b), [fi] "r"(c->flags_in)
                         : "cc");
        c->result2 = rdx;
        break;
    }
    }
    c->result = r;
    return 0;
}

/* Flags the SDM defines after the instruction (Vol.2 "Flags Affected" of each). */
static uint64_t defined_flags(const struct alu_case *c) {
    unsigned count = (unsigned)(c->b & 63);
    switch (c->op) {
    case OP_AND:
    case OP_XOR: return ARITH_FLAGS & ~AF; /* AF undefined */
    case OP_SHL:
    case OP_SHR:
    case OP_SAR:
        if (count == 0) return ARITH_FLAGS; /* unaffected */
        return ARITH_FLAGS & ~AF & ~(count == 1 ? 0 : OF);
    case OP_ROL:
    case OP_ROR:
        /* Only CF and OF are written; OF is undefined unless the count is 1. */
        return ARITH_FLAGS & ~(count == 1 || count == 0 ? 0 : OF);
    case OP_IMUL2:
    case OP_IMUL1: return CF | OF;
    case OP_DIV: return 0; /* all undefined */
    default: return ARITH_FLAGS;
    }
}

static const uint64_t values[] = {
    0x0000000000000000UL, 0x0000000000000001UL, 0x000000000000007fUL, 0x0000000080000000UL,
    0x00000000ffffffffUL, 0x7fffffffffffffffUL, 0x8000000000000000UL, 0xffffffffffffffffUL,
    0x123456789abcdef0UL,
};
#define VALUE_COUNT (sizeof(values) / sizeof(values[0]))

static const uint64_t counts[] = {0, 1, 2, 31, 32, 63, 64, 65, 255};
#define COUNT_COUNT (sizeof(counts) / sizeof(counts[0]))

static const char *const op_names[] = {
    "add", "sub", "adc", "sbb", "and", "xor", "add32", "sub32",
    "shl", "shr", "sar", "rol", "ror", "imul2", "imul1", "div",
};

static void print_case(const char *name, unsigned index, const struct alu_case *c, int two_results) {
    serial_puts(name);
    serial_putc('.');
    serial_print_dec(index);
    uint64_t inputs[3] = {c->a, c->b, c->flags_in};
    for (int i = 0; i < 3; i++) {
        serial_putc(' ');
        serial_print_hex(inputs[i]);
    }
    serial_putc(' ');
    serial_print_hex(c->result);
    if (two_results) {
        serial_putc(' ');
        serial_print_hex(c->result2);
    }
    serial_putc(' ');
    serial_print_hex(c->flags_out & defined_flags(c));
    serial_putc('\n');
}

static void run_binary(enum op op, int two_results, const uint64_t *flag_inputs, int flag_input_count) {
    unsigned index = 0;
    for (unsigned i = 0; i < VALUE_COUNT; i++)
        for (unsigned j = 0; j < VALUE_COUNT; j++)
            for (int f = 0; f < flag_input_count; f++) {
                struct alu_case c = {op, values[i], values[j], flag_inputs[f], 0, 0, 0};
                run_at_ring3(run_case, (uint64_t)&c);
                print_case(op_names[op], index++, &c, two_results);
            }
}

static void run_shift(enum op op) {
    static const uint64_t flag_inputs[] = {0, ARITH_FLAGS};
    unsigned index = 0;
    for (unsigned i = 0; i < VALUE_COUNT; i++)
        for (unsigned j = 0; j < COUNT_COUNT; j++)
            for (int f = 0; f < 2; f++) {
                struct alu_case c = {op, values[i], counts[j], flag_inputs[f], 0, 0, 0};
                run_at_ring3(run_case, (uint64_t)&c);
                print_case(op_names[op], index++, &c, 0);
            }
}

/* (RDX:RAX) / divisor cases, including #DE for a zero divisor and for quotient overflow. */
static void run_div(void) {
    static const uint64_t cases[][3] = {
        {0, 100, 7},
        {0, 0xffffffffffffffffUL, 1},
        {0, 0xffffffffffffffffUL, 0xffffffffffffffffUL},
        {1, 0, 2},
        {0x7fffffffffffffffUL, 0xffffffffffffffffUL, 0x8000000000000000UL},
        {0, 0x123456789abcdef0UL, 0x1000},
        {0, 5, 0},                  /* #DE: divide by zero */
        {1, 0, 1},                  /* #DE: quotient does not fit */
        {0xffffffffffffffffUL, 0, 0xffffffffffffffffUL}, /* #DE */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct alu_case c = {OP_DIV, cases[i][1], cases[i][2], 0, 0, cases[i][0], 0};
        struct fault_info info;
        serial_puts("div.");
        serial_print_dec(i);
        uint64_t inputs[4] = {c.a, c.b, c.flags_in, c.result2};
        for (int k = 0; k < 4; k++) {
            serial_putc(' ');
            serial_print_hex(inputs[k]);
        }
        if (expect_fault_ring3(run_case, (uint64_t)&c, &info)) {
            serial_puts(" fault ");
            serial_print_hex(info.vector);
            serial_putc('\n');
        } else {
            serial_putc(' ');
            serial_print_hex(c.result);
            serial_putc(' ');
            serial_print_hex(c.result2);
            serial_putc(' ');
            serial_print_hex(c.flags_out & defined_flags(&c));
            serial_putc('\n');
        }
    }
}

int test_main(void) {
    static const uint64_t no_flags[] = {0};
    static const uint64_t carry_in[] = {0, CF};
    run_binary(OP_ADD, 0, no_flags, 1);
    run_binary(OP_SUB, 0, no_flags, 1);
    run_binary(OP_ADC, 0, carry_in, 2);
    run_binary(OP_SBB, 0, carry_in, 2);
    run_binary(OP_AND, 0, no_flags, 1);
    run_binary(OP_XOR, 0, no_flags, 1);
    run_binary(OP_ADD32, 0, no_flags, 1);
    run_binary(OP_SUB32, 0, no_flags, 1);
    run_shift(OP_SHL);
    run_shift(OP_SHR);
    run_shift(OP_SAR);
    run_shift(OP_ROL);
    run_shift(OP_ROR);
    run_binary(OP_IMUL2, 0, no_flags, 1);
    run_binary(OP_IMUL1, 1, no_flags, 1);
    run_div();
    return 0;
}
