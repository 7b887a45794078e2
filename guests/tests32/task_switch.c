/*
 * task_switch.c - conformance suite: hardware task switching in 32-bit protected mode (SDM
 * Vol.3 chapter 7: 7.2.1 the 32-bit TSS, 7.3 "Task Switching", 7.4 task linking, 7.6 the
 * 16-bit TSS; Vol.2 CALL/JMP TASK-STATE-SEGMENT and TASK-GATE, INT n TASK-GATE, IRET
 * TASK-RETURN), on the guests/lib32 runtime, paging off.
 *
 * The suite copies the runtime's GDT into a larger one with a second 32-bit TSS (B), a task
 * gate to it, a #GP/#DF handler TSS, a 16-bit TSS and a 16-bit code segment, then checks:
 * - CALL to a TSS: TR, NT=1 and CR0.TS in the new task, the link field, both tasks busy; the
 *   IRET back clears NT, frees B and saves B's EIP after its IRET;
 * - JMP to a TSS and JMP back: no NT, link untouched, the old task freed while B runs;
 * - CALL through a task gate in the GDT and INT n through a task gate in the IDT;
 * - CALL to a 16-bit TSS and IRET back from 16-bit code;
 * - #GP through an IDT task gate: the error code on the handler task's stack and the faulting
 *   EIP in the old TSS (the handler steps over the instruction and IRETs back);
 * - #DF through an IDT task gate (the classic use): a #GP whose gate is not present.
 */
#include "guest32.h"

#define SEL_TSS_B 0x30
#define SEL_GATE_B 0x38
#define SEL_TSS_H 0x40
#define SEL_TSS16 0x48
#define SEL_CODE16 0x50
#define GDT_ENTRIES 11

#define EFLAGS_NT (1U << 14)
#define CR0_TS (1U << 3)
#define DESC_BUSY (1U << 9)

struct tss32_t {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
};

struct tss16_t {
    uint16_t link, sp0, ss0, sp1, ss1, sp2, ss2, ip, flags, ax, cx, dx, bx, sp, bp, si, di, es, cs, ss, ds, ldt;
};

extern uint64_t gdt32[];
static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));
static struct tss32_t tss_b __attribute__((aligned(128)));
static struct tss32_t tss_h __attribute__((aligned(128)));
static struct tss16_t tss16 __attribute__((aligned(64)));
static uint8_t stack_b[4096] __attribute__((aligned(16)));
static uint8_t stack_h[4096] __attribute__((aligned(16)));

/* What the tasks record. */
uint32_t b_eflags, b_tr, b_cr0, b_busy_a, b_busy_b, b_use_jmp, t16_tr, t16_flag;
uint32_t h_error, h_tr, h_link, h_saved_eip;
uint64_t *idt;
uint64_t saved_gate13;

/* Task B (32-bit): records, then IRETs back (CALL/INT) or JMPs back to the runtime's task. */
extern char task_b_entry[], task_b_after_iret[], task_b_after_jmp[];
/* The 16-bit task: records, then IRETs back. */
extern char task16_entry[], task16_after_iret[];
/* The #GP/#DF handler task: pops the error code, calls handler_fixup, IRETs back. */
extern char task_h_entry[];
/* Helpers run in the runtime's task; the *_after labels are the EIPs saved in its TSS. */
void call_b(void);
void jmp_b(void);
void call_gate_b(void);
void int_b(void);
void call_16(void);
void gp_trigger(void);
extern char call_b_after[], jmp_b_after[], int_b_after[], gp_insn[];
void handler_fixup(void);

__asm__(".text\n"
        ".globl task_b_entry, task_b_after_iret, task_b_after_jmp\n"
        "task_b_entry:\n"
        "    pushfl\n"
        "    popl b_eflags\n"
        "    str %ax\n"
        "    movzwl %ax, %eax\n"
        "    movl %eax, b_tr\n"
        "    movl %cr0, %eax\n"
        "    movl %eax, b_cr0\n"
        "    movl gdt + 0x2c, %eax\n"
        "    movl %eax, b_busy_a\n"
        "    movl gdt + 0x34, %eax\n"
        "    movl %eax, b_busy_b\n"
        "    cmpl $0, b_use_jmp\n"
        "    jne 1f\n"
        "    iret\n"
        "task_b_after_iret:\n"
        "    jmp task_b_entry\n"
        "1:  ljmp $0x28, $0\n"
        "task_b_after_jmp:\n"
        "    jmp task_b_entry\n"
        ".code16\n"
        ".globl task16_entry, task16_after_iret\n"
        "task16_entry:\n"
        "    str %ax\n"
        "    addr32 movw %ax, t16_tr\n"
        "    addr32 movw $0x1616, t16_flag\n"
        "    iret\n"
        "task16_after_iret:\n"
        "    jmp task16_entry\n"
        ".code32\n"
        ".globl task_h_entry\n"
        "task_h_entry:\n"
        "    popl h_error\n"
        "    str %ax\n"
        "    movzwl %ax, %eax\n"
        "    movl %eax, h_tr\n"
        "    movzwl tss_h, %eax\n"
        "    movl %eax, h_link\n"
        "    call handler_fixup\n"
        "    iret\n"
        "    jmp task_h_entry\n"
        ".globl call_b, call_b_after, jmp_b, jmp_b_after, call_gate_b, int_b, int_b_after\n"
        "call_b:\n"
        "    lcall $0x30, $0\n"
        "call_b_after:\n"
        "    ret\n"
        "jmp_b:\n"
        "    ljmp $0x30, $0\n"
        "jmp_b_after:\n"
        "    ret\n"
        "call_gate_b:\n"
        "    lcall $0x38, $0\n"
        "    ret\n"
        "int_b:\n"
        "    int $0x40\n"
        "int_b_after:\n"
        "    ret\n"
        ".globl call_16, gp_trigger, gp_insn\n"
        "call_16:\n"
        "    lcall $0x48, $0\n"
        "    ret\n"
        "gp_trigger:\n"
        "    movw $0x28, %ax\n"
        "gp_insn:\n"
        "    .byte 0x8e, 0xd8\n" /* mov %eax, %ds: #GP(28H), a TSS is not a data segment */
        "    ret\n");

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint32_t type, int s, int db) {
    uint32_t lo = (base << 16) | (limit & 0xffff);
    uint32_t hi = ((base >> 16) & 0xff) | (type << 8) | ((uint32_t)s << 12) | (1U << 15) | (limit & 0xf0000) |
                  ((uint32_t)db << 22) | (base & 0xff000000);
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t task_gate(uint32_t tss_sel) { return ((uint64_t)0x8500 << 32) | (tss_sel << 16); }

static uint32_t str(void) {
    uint16_t v;
    __asm__ volatile("str %0" : "=r"(v));
    return v;
}

static uint32_t busy(uint32_t sel) { return (uint32_t)(gdt[sel >> 3] >> 32) & DESC_BUSY; }

static struct tss32_t *tss_a(void) {
    uint64_t d = gdt[0x28 >> 3];
    return (struct tss32_t *)(uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000));
}

static void init_tss32(struct tss32_t *t, char *entry, uint8_t *stack_top) {
    memset(t, 0, sizeof(*t));
    t->cr3 = read_cr3();
    t->eip = (uint32_t)entry;
    t->eflags = 2;
    t->esp = (uint32_t)stack_top;
    t->cs = SEL32_CODE;
    t->es = t->ss = t->ds = t->fs = t->gs = SEL32_DATA;
    t->iomap_base = sizeof(*t);
}

static void clts(void) { __asm__ volatile("clts"); }

/* Runs in the handler task: records the old task's saved EIP, steps it over the 2-byte MOV DS
 * and puts the runtime's #GP gate back. */
void handler_fixup(void) {
    h_saved_eip = tss_a()->eip;
    tss_a()->eip += 2;
    idt[13] = saved_gate13;
}

static void test_call(void) {
    init_tss32(&tss_b, task_b_entry, stack_b + sizeof(stack_b));
    b_use_jmp = 0;
    call_b();
    clts();
    check_eq("call-tr-in-b", b_tr, SEL_TSS_B);
    check_eq("call-eflags-in-b", b_eflags, 0x4002);
    check_eq("call-cr0-ts", b_cr0 & CR0_TS, CR0_TS);
    check_eq("call-a-busy-in-b", b_busy_a & DESC_BUSY, DESC_BUSY);
    check_eq("call-b-busy-in-b", b_busy_b & DESC_BUSY, DESC_BUSY);
    check_eq("call-link", tss_b.link, 0x28);
    check_eq("call-a-saved-eip", tss_a()->eip, (uint32_t)call_b_after);
    check_eq("iret-tr", str(), 0x28);
    check_eq("iret-nt", read_eflags() & EFLAGS_NT, 0);
    check_eq("iret-b-free", busy(SEL_TSS_B), 0);
    check_eq("iret-a-busy", busy(0x28), DESC_BUSY);
    check_eq("iret-b-saved-eip", tss_b.eip, (uint32_t)task_b_after_iret);
    check_eq("iret-b-saved-nt", tss_b.eflags & EFLAGS_NT, 0);
}

static void test_jmp(void) {
    init_tss32(&tss_b, task_b_entry, stack_b + sizeof(stack_b));
    tss_b.link = 0x1234;
    b_use_jmp = 1;
    jmp_b();
    clts();
    check_eq("jmp-tr-in-b", b_tr, SEL_TSS_B);
    check_eq("jmp-eflags-in-b", b_eflags, 2);
    check_eq("jmp-a-free-in-b", b_busy_a & DESC_BUSY, 0);
    check_eq("jmp-b-busy-in-b", b_busy_b & DESC_BUSY, DESC_BUSY);
    check_eq("jmp-link-untouched", tss_b.link, 0x1234);
    check_eq("jmp-a-saved-eip", tss_a()->eip, (uint32_t)jmp_b_after);
    check_eq("jmp-back-tr", str(), 0x28);
    check_eq("jmp-back-b-free", busy(SEL_TSS_B), 0);
    check_eq("jmp-back-a-busy", busy(0x28), DESC_BUSY);
    check_eq("jmp-b-saved-eip", tss_b.eip, (uint32_t)task_b_after_jmp);
}

static void test_gates(void) {
    init_tss32(&tss_b, task_b_entry, stack_b + sizeof(stack_b));
    b_use_jmp = 0;
    b_tr = 0;
    call_gate_b();
    clts();
    check_eq("gdt-gate-tr-in-b", b_tr, SEL_TSS_B);
    check_eq("gdt-gate-link", tss_b.link, 0x28);
    init_tss32(&tss_b, task_b_entry, stack_b + sizeof(stack_b));
    b_tr = 0;
    uint64_t old = idt[0x40];
    idt[0x40] = task_gate(SEL_TSS_B);
    int_b();
    idt[0x40] = old;
    clts();
    check_eq("int-gate-tr-in-b", b_tr, SEL_TSS_B);
    check_eq("int-gate-eflags-in-b", b_eflags, 0x4002);
    check_eq("int-gate-a-saved-eip", tss_a()->eip, (uint32_t)int_b_after);
    check_eq("int-gate-b-esp", tss_b.esp, (uint32_t)(stack_b + sizeof(stack_b)));
    check_eq("int-gate-back-tr", str(), 0x28);
}

static void test_16(void) {
    memset(&tss16, 0, sizeof(tss16));
    tss16.ip = 0;
    tss16.flags = 2;
    tss16.cs = SEL_CODE16;
    tss16.ss = tss16.ds = tss16.es = SEL32_DATA;
    tss16.sp = 0x1000;
    call_16();
    clts();
    check_eq("tss16-tr", t16_tr, SEL_TSS16);
    check_eq("tss16-flag", t16_flag, 0x1616);
    check_eq("tss16-link", tss16.link, 0x28);
    check_eq("tss16-saved-ip", tss16.ip, (uint32_t)(task16_after_iret - task16_entry));
    check_eq("tss16-saved-flags", tss16.flags, 2);
    check_eq("tss16-back-tr", str(), 0x28);
    check_eq("tss16-free", busy(SEL_TSS16), 0);
}

static void test_gp_task(void) {
    init_tss32(&tss_h, task_h_entry, stack_h + sizeof(stack_h));
    saved_gate13 = idt[13];
    idt[13] = task_gate(SEL_TSS_H);
    h_error = 0xffff;
    gp_trigger();
    clts();
    check_eq("gp-task-error", h_error, 0x28);
    check_eq("gp-task-tr", h_tr, SEL_TSS_H);
    check_eq("gp-task-link", h_link, 0x28);
    check_eq("gp-task-saved-eip", h_saved_eip, (uint32_t)gp_insn);
    check_eq("gp-task-back-tr", str(), 0x28);
    check_eq("gp-task-h-free", busy(SEL_TSS_H), 0);
}

static void test_df_task(void) {
    init_tss32(&tss_h, task_h_entry, stack_h + sizeof(stack_h));
    uint64_t old8 = idt[8];
    idt[8] = task_gate(SEL_TSS_H);
    saved_gate13 = idt[13];
    idt[13] &= ~(1ULL << 47); /* #GP gate not present: #NP while delivering #GP -> #DF */
    h_error = 0xffff;
    gp_trigger();
    idt[8] = old8;
    clts();
    check_eq("df-task-error", h_error, 0);
    check_eq("df-task-tr", h_tr, SEL_TSS_H);
    check_eq("df-task-link", h_link, 0x28);
    check_eq("df-task-saved-eip", h_saved_eip, (uint32_t)gp_insn);
    check_eq("df-task-back-tr", str(), 0x28);
}

int test_main(void) {
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } gdtr, idtr;
    for (int n = 0; n < GDT32_ENTRIES; n++) gdt[n] = gdt32[n];
    gdt[SEL_TSS_B >> 3] = seg_desc((uint32_t)&tss_b, sizeof(tss_b) - 1, 9, 0, 0);
    gdt[SEL_GATE_B >> 3] = task_gate(SEL_TSS_B);
    gdt[SEL_TSS_H >> 3] = seg_desc((uint32_t)&tss_h, sizeof(tss_h) - 1, 9, 0, 0);
    gdt[SEL_TSS16 >> 3] = seg_desc((uint32_t)&tss16, sizeof(tss16) - 1, 1, 0, 0);
    gdt[SEL_CODE16 >> 3] = seg_desc((uint32_t)task16_entry, 0xffff, 0xb, 1, 0);
    gdtr.limit = sizeof(gdt) - 1;
    gdtr.base = (uint32_t)gdt;
    __asm__ volatile("lgdt %0" ::"m"(gdtr) : "memory");
    __asm__ volatile("sidt %0" : "=m"(idtr));
    idt = (uint64_t *)idtr.base;

    test_call();
    test_jmp();
    test_gates();
    test_16();
    test_gp_task();
    test_df_task();
    return report_summary();
}
