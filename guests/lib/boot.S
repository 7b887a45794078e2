/*
 * boot.S - Multiboot v1 entry of the pinvm guest runtime, and its low-level trap glue.
 *
 * The loader enters _start in 32-bit protected mode (flat segments, paging off,
 * EAX=0x2BADB002, EBX=physical address of the multiboot info). We zero .bss, load our own
 * GDT, build 4-level page tables identity-mapping 0..1 GiB with 2 MiB pages (U/S=1, R/W=1),
 * enable CR4.PAE, EFER.LME and CR0.PG, far-jump to 64-bit code, and call runtime_start()
 * (runtime.c), which never returns.
 *
 * Also here: the 256 interrupt stubs (16 bytes each, at isr_stubs + 16*vector), the common
 * trap entry that builds a struct trap_frame and calls trap_dispatch(), the ring-3 entry
 * and trampoline, and a setjmp-like context_save/context_restore pair.
 *
 * _start first records what the loader left in the registers (boot_entry_state): the
 * reset/INIT conformance suite compares it across a reset.
 */

#define MULTIBOOT_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0x00000002 /* bit 1: please give us mem_lower/mem_upper */

#define CR0_PE 0x00000001
#define CR0_ET 0x00000010
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xC0000080
#define MSR_APIC_BASE 0x1B
#define MSR_PAT 0x277
#define EFER_LME 0x00000100

/* Offsets in struct entry_state (guest.h). */
#define ES_EAX 0
#define ES_EBX 4
#define ES_CR0 8
#define ES_CR4 12
#define ES_EFER 16
#define ES_DR6 24
#define ES_DR7 28
#define ES_TSC 32
#define ES_APIC_BASE 40
#define ES_PAT 48
#define ES_EFLAGS 56
#define ES_SIZE 60

#define PTE_PRESENT 0x001
#define PTE_WRITE 0x002
#define PTE_USER 0x004
#define PTE_LARGE 0x080

/* ---------------------------------------------------------------- multiboot header */
    .section .multiboot, "a"
    .balign 4
multiboot_header:
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

/* ---------------------------------------------------------------- 32-bit entry */
    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    /* Record the state the loader (or firmware) left, before anything changes it: EAX, EBX,
     * CR0, CR4, EFER, DR6, DR7, TSC, IA32_APIC_BASE, IA32_PAT, EFLAGS (boot_entry_state,
     * struct entry_state in guest.h). It lives in .data, which .bss zeroing leaves alone. */
    movl %eax, boot_entry_state + ES_EAX
    movl %ebx, boot_entry_state + ES_EBX
    movl $boot_stack_top, %esp      /* Multiboot leaves ESP undefined */
    pushfl
    popl boot_entry_state + ES_EFLAGS
    cli
    cld
    movl %eax, multiboot_magic
    movl %ebx, multiboot_info
    movl %cr0, %eax
    movl %eax, boot_entry_state + ES_CR0
    movl %cr4, %eax
    movl %eax, boot_entry_state + ES_CR4
    movl %dr6, %eax
    movl %eax, boot_entry_state + ES_DR6
    movl %dr7, %eax
    movl %eax, boot_entry_state + ES_DR7
    rdtsc
    movl %eax, boot_entry_state + ES_TSC
    movl %edx, boot_entry_state + ES_TSC + 4
    movl $MSR_EFER, %ecx
    rdmsr
    movl %eax, boot_entry_state + ES_EFER
    movl %edx, boot_entry_state + ES_EFER + 4
    movl $MSR_APIC_BASE, %ecx
    rdmsr
    movl %eax, boot_entry_state + ES_APIC_BASE
    movl %edx, boot_entry_state + ES_APIC_BASE + 4
    movl $MSR_PAT, %ecx
    rdmsr
    movl %eax, boot_entry_state + ES_PAT
    movl %edx, boot_entry_state + ES_PAT + 4

    /* Zero .bss (page tables and stacks live there). */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    movl $boot_stack_top, %esp

    lgdt gdt_pointer
    ljmp $0x40, $1f
1:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs

    /* PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] -> 2 MiB page i. */
    movl $page_pdpt, %eax
    orl $(PTE_PRESENT | PTE_WRITE | PTE_USER), %eax
    movl %eax, page_pml4
    movl $page_pd, %eax
    orl $(PTE_PRESENT | PTE_WRITE | PTE_USER), %eax
    movl %eax, page_pdpt
    xorl %ecx, %ecx
2:
    movl %ecx, %eax
    shll $21, %eax
    orl $(PTE_PRESENT | PTE_WRITE | PTE_USER | PTE_LARGE), %eax
    movl %eax, page_pd(, %ecx, 8)
    movl $0, page_pd + 4(, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jb 2b

    movl $page_pml4, %eax
    movl %eax, %cr3
    movl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl $(CR0_PG | CR0_WP | CR0_ET | CR0_PE), %eax
    movl %eax, %cr0
    ljmp $0x08, $long_mode_entry

/* ---------------------------------------------------------------- 64-bit entry */
    .code64
long_mode_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    call runtime_start
3:
    cli
    hlt
    jmp 3b

/* ---------------------------------------------------------------- GDT */
    .section .data
    .balign 16
    .globl gdt
gdt:
    .quad 0                         /* 0x00 null */
    .quad 0x00209A0000000000        /* 0x08 ring 0 code, 64-bit */
    .quad 0x00CF92000000FFFF        /* 0x10 ring 0 data, flat */
    .quad 0x00CFFA000000FFFF        /* 0x18 ring 3 code, 32-bit (SYSRET layout) */
    .quad 0x00CFF2000000FFFF        /* 0x20 ring 3 data, flat */
    .quad 0x0020FA0000000000        /* 0x28 ring 3 code, 64-bit */
    .quad 0, 0                      /* 0x30 TSS (16 bytes), filled in by runtime.c */
    .quad 0x00CF9A000000FFFF        /* 0x40 ring 0 code, 32-bit (boot only) */
gdt_end:

    .balign 8
    .globl gdt_pointer
gdt_pointer:
    .word gdt_end - gdt - 1
    .quad gdt

    .globl multiboot_magic, multiboot_info
    .balign 4
multiboot_magic:
    .long 0
multiboot_info:
    .long 0

    .globl boot_entry_state
    .balign 8
boot_entry_state:
    .skip ES_SIZE

/* ---------------------------------------------------------------- page tables, stacks */
    .section .bss
    .balign 4096
page_pml4:
    .skip 4096
page_pdpt:
    .skip 4096
page_pd:
    .skip 4096

    .balign 16
    .skip 65536
    .globl boot_stack_top
boot_stack_top:

/* ---------------------------------------------------------------- interrupt stubs */
    .section .text
    .code64
    .balign 16
    .globl isr_stubs
isr_stubs:
    .set vector, 0
    .rept 256
    .balign 16
    /* Vectors for which the CPU pushes an error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX. */
    .if (vector == 8) || (vector == 10) || (vector == 11) || (vector == 12) || (vector == 13) || (vector == 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp trap_common
    .set vector, vector + 1
    .endr

/*
 * Stack on entry: vector, error code, RIP, CS, RFLAGS, RSP, SS. We push the general
 * registers so that memory from RSP upward matches struct trap_frame in runtime.c.
 */
trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    cld
    call trap_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

/*
 * enter_ring3(fn, arg, user_stack_top): IRETQ to ring3_trampoline at CPL 3 with
 * RFLAGS=0x2 (IF clear). Does not return; run_at_ring3 comes back via context_restore.
 */
    .globl enter_ring3
enter_ring3:
    pushq $0x23
    pushq %rdx
    pushq $0x2
    pushq $0x2b
    leaq ring3_trampoline(%rip), %rax
    pushq %rax
    iretq

/* Runs at CPL 3: rax = fn(arg), then int 0x80 with the result in RDI. In the user section
 * so that it stays executable at CPL 3 after paging_split_user(). */
    .section .user.text, "ax"
    .globl ring3_trampoline
ring3_trampoline:
    movq %rdi, %rax
    movq %rsi, %rdi
    call *%rax
    movq %rax, %rdi
    int $0x80
    ud2

    .section .text
/*
 * int context_save(struct jump_context *ctx): saves callee-saved registers, RSP, the
 * return address and RFLAGS; returns 0. context_restore(ctx, value) resumes there with
 * context_save returning value (which must be non-zero).
 * Layout: rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags.
 */
    .globl context_save
context_save:
    movq %rbx, 0(%rdi)
    movq %rbp, 8(%rdi)
    movq %r12, 16(%rdi)
    movq %r13, 24(%rdi)
    movq %r14, 32(%rdi)
    movq %r15, 40(%rdi)
    leaq 8(%rsp), %rax
    movq %rax, 48(%rdi)
    movq (%rsp), %rax
    movq %rax, 56(%rdi)
    pushfq
    popq %rax
    movq %rax, 64(%rdi)
    xorl %eax, %eax
    ret

    .globl context_restore
context_restore:
    movq 0(%rdi), %rbx
    movq 8(%rdi), %rbp
    movq 16(%rdi), %r12
    movq 24(%rdi), %r13
    movq 32(%rdi), %r14
    movq 40(%rdi), %r15
    movq 48(%rdi), %rsp
    pushq 64(%rdi)
    popfq
    movl %esi, %eax
    jmpq *56(%rdi)

    .section .note.GNU-stack, "", @progbits
