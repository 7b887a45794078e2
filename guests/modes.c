/*
 * modes.c - differential guest: the mode transitions of SDM Vol.3 ch.9/10 ("Processor
 * Management and Initialization", "Mode Switching"), at CPL 0, printed as value lines.
 *
 *   1. 64-bit -> compatibility mode by LRETQ into a 32-bit code segment: 32-bit code runs
 *      (0x48 decodes as DEC EAX there, not REX.W; PUSH is 4 bytes), RDMSR/MOV CR work; back to
 *      64-bit by a direct far JMP (valid in compatibility mode).
 *   2. 64-bit -> compatibility mode by an indirect far JMP (m16:32), then out of IA-32e mode as
 *      SDM 10.8.5.4 "Switching Out of IA-32e Mode Operation" says: clear CR0.PG (EFER.LMA
 *      drops), clear EFER.LME -> 32-bit protected mode, paging off;
 *   3. -> 16-bit protected mode (a 16-bit code segment with base 0x7000): PUSH is 2 bytes;
 *   4. -> real mode (CR0.PE=0, far JMP to 0x0700:x): INT 0x30 through the real-mode IVT, what
 *      the handler sees (FLAGS with IF/TF clear, the IP/CS/FLAGS frame), IRET, segment
 *      arithmetic (linear = segment * 16 + offset);
 *   5. -> back: CR0.PE=1, far JMP to 32-bit protected mode, EFER.LME=1, CR0.PG=1 (EFER.LMA
 *      comes back), far JMP to 64-bit mode.
 * Code that runs below 1 MiB (16-bit protected and real mode) is copied to 0x7000 first.
 * Every step stores what it saw in `mr[]`; test_main prints it back in 64-bit mode.
 */
#include "guest.h"

#define BLOB_BASE 0x7000UL

extern char blob_start[], blob_end[];
extern uint64_t modes_run(void);

/* Results, written by 64-bit, compatibility and 32-bit code (absolute addresses < 4 GiB). */
uint32_t mr[64];
/* Results written in 16-bit modes live in the blob (offsets from blob_start, below). */
#define BLOB_RESULTS 0x800

uint64_t modes_saved_rsp;
uint8_t modes_gdt_ptr[10], modes_idt_ptr[10];
uint64_t modes_gdt[12] __attribute__((aligned(16)));

__asm__(
    ".text\n"
    ".code64\n"
    ".globl modes_run\n"
    "modes_run:\n"
    "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
    "  mov %rsp, modes_saved_rsp\n"
    "  sidt modes_idt_ptr\n"
    "  mov $0x10, %eax\n  mov %eax, %ds\n  mov %eax, %es\n  mov %eax, %ss\n"
    /* ---- 1. compatibility mode by far return */
    "  pushq $0x40\n"
    "  lea compat1(%rip), %rax\n"
    "  pushq %rax\n"
    "  lretq\n"
    ".code32\n"
    "compat1:\n"
    "  mov %cs, %eax\n  mov %eax, mr+0\n"
    "  mov $5, %eax\n  .byte 0x48\n  mov %eax, mr+4\n" /* DEC EAX in 32-bit code */
    "  mov %esp, %ebx\n  push %eax\n  sub %esp, %ebx\n  pop %eax\n  mov %ebx, mr+8\n"
    "  mov $0xc0000080, %ecx\n  rdmsr\n  mov %eax, mr+12\n"
    "  mov %cr0, %eax\n  mov %eax, mr+16\n"
    "  mov $0x7fffffff, %eax\n  add $1, %eax\n  pushf\n  pop %eax\n  and $0x8d5, %eax\n  mov %eax, mr+20\n"
    "  ljmp $0x08, $back64_1\n"
    ".code64\n"
    "back64_1:\n"
    "  mov %cs, %eax\n  mov %eax, mr+24\n"
    /* ---- 2. compatibility mode by indirect far jump, then leave IA-32e mode */
    "  ljmp *far_to_compat2(%rip)\n"
    ".code32\n"
    "compat2:\n"
    "  mov %esp, mr+28\n"
    "  mov %cr0, %eax\n  and $0x7fffffff, %eax\n  mov %eax, %cr0\n" /* paging off: LMA=0 */
    "  mov $0xc0000080, %ecx\n  rdmsr\n  mov %eax, mr+32\n"
    "  and $0xfffffeff, %eax\n  wrmsr\n" /* LME off */
    "  rdmsr\n  mov %eax, mr+36\n"
    "  mov %cr0, %eax\n  mov %eax, mr+40\n"
    "  mov %cs, %eax\n  mov %eax, mr+44\n"
    "  mov $0x12345678, %eax\n  .byte 0x48\n  mov %eax, mr+48\n" /* still DEC EAX */
    /* ---- 3. 16-bit protected mode: GDT with a code16 (base 0x7000) and data16 */
    "  lgdt modes_gdt_ptr\n"
    "  lidt idt_real\n"
    "  ljmp $0x48, $(pm16 - blob_start)\n"
    /* ---- 5. back from real mode: 32-bit protected mode, then long mode */
    "pm32_back:\n"
    "  mov $0x10, %eax\n  mov %eax, %ds\n  mov %eax, %es\n  mov %eax, %ss\n  mov %eax, %fs\n  mov %eax, %gs\n"
    "  mov modes_saved_rsp, %esp\n"
    "  mov %cr0, %eax\n  mov %eax, mr+52\n"
    "  mov $0xc0000080, %ecx\n  rdmsr\n  or $0x100, %eax\n  wrmsr\n"
    "  mov %cr0, %eax\n  or $0x80000000, %eax\n  mov %eax, %cr0\n"
    "  mov $0xc0000080, %ecx\n  rdmsr\n  mov %eax, mr+56\n"
    "  ljmp $0x08, $back64_2\n"
    ".code64\n"
    "back64_2:\n"
    "  mov modes_saved_rsp, %rsp\n"
    "  lidt modes_idt_ptr\n"
    "  mov %cs, %eax\n  mov %eax, mr+60\n"
    "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    ".data\n"
    ".balign 8\n"
    "far_to_compat2:\n"
    "  .long compat2\n  .word 0x40\n"
    ".balign 8\n"
    "idt_real:\n"
    "  .word 0x3ff\n  .long 0\n"
    /* ---- the code that runs below 1 MiB: copied to BLOB_BASE, CS base = BLOB_BASE */
    ".balign 16\n"
    ".globl blob_start, blob_end\n"
    "blob_start:\n"
    ".code16\n"
    "pm16:\n"
    "  mov $0x50, %ax\n  mov %ax, %ds\n  mov %ax, %es\n  mov %ax, %ss\n"
    "  mov $0x7000 + 0x7f0, %sp\n" /* data16 has base 0: SP is a linear address here */
    "  mov %cs, %ax\n  mov %ax, 0x7000 + 0x800\n"
    "  mov %sp, %bx\n  push %ax\n  sub %sp, %bx\n  pop %ax\n  mov %bx, 0x7000 + 0x802\n"
    "  movl %cr0, %eax\n  movl %eax, 0x7000 + 0x804\n"
    "  mov $0x7fff, %ax\n  add $1, %ax\n  pushf\n  pop %ax\n  and $0x8d5, %ax\n  mov %ax, 0x7000 + 0x808\n"
    /* ---- 4. real mode */
    "  movl %cr0, %eax\n  andl $0xfffffffe, %eax\n  movl %eax, %cr0\n"
    "  ljmp $0x0700, $(real16 - blob_start)\n"
    "real16:\n"
    "  mov %cs, %ax\n  mov %ax, %ds\n  mov %ax, %ss\n  mov $0x7f0, %sp\n"
    "  mov %ax, 0x80a\n"
    "  xor %ax, %ax\n  mov %ax, %es\n"
    "  mov %es:0xc0, %ax\n  mov %ax, 0x840\n  mov %es:0xc2, %ax\n  mov %ax, 0x842\n" /* BIOS's */
    "  movw $(rhandler - blob_start), %es:0xc0\n  movw $0x0700, %es:0xc2\n"
    "  pushw $0x0cd7\n  popf\n" /* OF DF SF ZF AF PF CF, no IF/TF */
    "  mov $0x1234, %ax\n"
    "  int $0x30\n"
    "ret_point:\n"
    "  pushf\n  pop %bx\n  mov %bx, 0x81a\n"
    "  mov %ax, 0x81c\n"
    "  cld\n"
    "  mov %sp, 0x81e\n"
    "  mov 0x840, %ax\n  mov %ax, %es:0xc0\n  mov 0x842, %ax\n  mov %ax, %es:0xc2\n"
    /* segment arithmetic: 0x0600:0x1000 is linear 0x7000, the blob's first byte */
    "  mov $0x0600, %ax\n  mov %ax, %es\n  mov %es:0x1000, %al\n  mov %al, 0x820\n"
    "  mov $(ret_point - blob_start), %ax\n  mov %ax, 0x822\n"
    /* back to protected mode */
    "  movl %cr0, %eax\n  orl $1, %eax\n  movl %eax, %cr0\n"
    "  ljmpl $0x40, $pm32_back\n"
    "rhandler:\n"
    "  pushf\n  pop %bx\n  mov %bx, 0x80c\n"
    "  mov %sp, %bx\n"
    "  mov (%bx), %cx\n  mov %cx, 0x80e\n"  /* IP */
    "  mov 2(%bx), %cx\n  mov %cx, 0x810\n" /* CS */
    "  mov 4(%bx), %cx\n  mov %cx, 0x812\n" /* FLAGS */
    "  mov %sp, 0x814\n"
    "  mov %ax, 0x816\n"
    "  add $1, %ax\n"
    "  iret\n"
    "blob_end:\n"
    ".code64\n"
    ".text\n");

static void put(const char *name, const uint64_t *v, int n) { report_values(name, v, n); }

int test_main(void) {
    /* GDT: the runtime's first entries, a 16-bit code segment based at BLOB_BASE, 16-bit data. */
    extern uint64_t gdt[];
    for (int i = 0; i < 9; i++) modes_gdt[i] = gdt[i];
    modes_gdt[6] = modes_gdt[7] = 0; /* no TSS needed while interrupts stay off */
    modes_gdt[9] = 0x00009A000000FFFFUL | (BLOB_BASE << 16);   /* 0x48 code16, base 0x7000 */
    modes_gdt[10] = 0x000092000000FFFFUL;                      /* 0x50 data16, base 0 */
    uint16_t limit = sizeof modes_gdt - 1;
    uint64_t base = (uint64_t)modes_gdt;
    memcpy(modes_gdt_ptr, &limit, 2);
    memcpy(modes_gdt_ptr + 2, &base, 8);

    uint64_t n = (uint64_t)(blob_end - blob_start);
    check("blob-fits", n < 0x7f0 - 0x100);
    uint8_t *low = (uint8_t *)BLOB_BASE;
    memcpy(low, blob_start, n);
    memset(low + BLOB_RESULTS, 0, 0x60);

    /* Load the original GDT back afterwards (the runtime's TSS stays in TR). */
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } old;
    __asm__ volatile("sgdt %0" : "=m"(old));
    modes_run();
    __asm__ volatile("lgdt %0" ::"m"(old));

    uint64_t v[8];
    v[0] = mr[0], v[1] = mr[1], v[2] = mr[2], v[3] = mr[3], v[4] = mr[4], v[5] = mr[5], v[6] = mr[6];
    put("compat1.cs-dec-pushsize-efer-cr0-flags-cs64", v, 7);
    v[0] = mr[11], v[1] = mr[8], v[2] = mr[9], v[3] = mr[10], v[4] = mr[12];
    put("pm32.cs-efer-after-pg-off-efer-after-lme-off-cr0-dec", v, 5);
    const uint16_t *r16 = (const uint16_t *)(BLOB_BASE + BLOB_RESULTS);
    v[0] = r16[0], v[1] = r16[1], v[2] = (uint64_t)r16[2] | (uint64_t)r16[3] << 16, v[3] = r16[4];
    put("pm16.cs-pushsize-cr0-flags", v, 4);
    v[0] = r16[5], v[1] = r16[6], v[2] = r16[7], v[3] = r16[8], v[4] = r16[9], v[5] = r16[10], v[6] = r16[11];
    put("real.cs-hflags-ip-cs-flags-hsp-ax", v, 7);
    v[0] = r16[13], v[1] = r16[14], v[2] = r16[15], v[3] = ((const uint8_t *)r16)[0x20], v[4] = r16[0x11];
    put("real.after-flags-ax-sp-segbyte-retip", v, 5);
    v[0] = mr[13], v[1] = mr[14], v[2] = mr[15], v[3] = read_cr0(), v[4] = read_cr4(), v[5] = rdmsr(0xc0000080);
    put("back.cr0-pm32-efer-cs64-cr0-cr4-efer", v, 6);
    check("stack-back", modes_saved_rsp != 0);
    return 0;
}
