/*
 * boot32.S - Multiboot v1 entry of the pinvm 32-bit protected-mode guest runtime, and its
 * trap glue.
 *
 * The loader enters _start in 32-bit protected mode (flat segments, paging off,
 * EAX=0x2BADB002, EBX=physical address of the multiboot info; Multiboot spec 3.2). We stay in
 * that mode: zero .bss, load our own flat GDT (SDM Vol.3 3.4.5), reload the segment registers,
 * set up the stack and call runtime32_start() (runtime32.c), which never returns.
 *
 * Also here: the 32 exception stubs for vectors 0-31 (16 bytes each, at isr32_stubs +
 * 16*vector) that push a dummy error code where the CPU pushes none (SDM Vol.3 6.13, Table
 * 6-1), the common trap entry that hands a struct trap32_frame to trap32_dispatch(), and
 * expect_fault32 with its resume point.
 */

#define MULTIBOOT_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0x00000002 /* bit 1: mem_lower/mem_upper wanted */

/* ---------------------------------------------------------------- multiboot header */
    .section .multiboot, "a"
    .balign 4
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

/* ---------------------------------------------------------------- 32-bit entry */
    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    movl $boot32_stack_top, %esp    /* Multiboot leaves ESP undefined */
    movl %eax, multiboot32_magic    /* .data: the .bss zeroing leaves them */
    movl %ebx, multiboot32_info

    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    lgdt gdt32_pointer
    ljmp $0x08, $1f
1:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $boot32_stack_top, %esp
    call runtime32_start
2:
    hlt
    jmp 2b

/* ---------------------------------------------------------------- exception stubs */
/* Vectors with a CPU-pushed error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14, #AC 17,
 * #CP 21, #VC 29, #SX 30 (SDM Vol.3 Table 6-1). */
.macro STUB v
    .balign 16
    .if (\v == 8) || (\v == 10) || (\v == 11) || (\v == 12) || (\v == 13) || (\v == 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
    pushl $\v
    .else
    pushl $0
    pushl $\v
    .endif
    jmp trap32_common
.endm

    .text
    .balign 16
    .globl isr32_stubs
isr32_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    STUB \v
    .endr
/* Vector 80H (isr32_stubs + 16*32): the way back from ring 3 (expect_fault32_ring3). */
    STUB 0x80

/* Stack on entry: vector, error code, EIP, CS, EFLAGS, and ESP, SS when the trap came from
 * ring 3 (SDM Vol.3 6.12.1, Figure 6-4; then on the TSS's ESP0 stack). PUSHA completes struct
 * trap32_frame (runtime32.c); the data segments are reloaded (ring 3 left 0x23 there). */
trap32_common:
    pushal
    cld
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movl %esp, %eax
    pushl %eax
    call trap32_dispatch            /* does not return */
1:
    hlt
    jmp 1b

/* ---------------------------------------------------------------- expect_fault32 */
/* int expect_fault32(guest32_fn fn, uint32_t arg, struct fault_info32 *info) */
    .globl expect_fault32
expect_fault32:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    pushfl
    movl %esp, recover32_esp
    movl 32(%esp), %eax             /* info: 5 saved dwords + return address + fn + arg */
    movl %eax, recover32_info
    movl $1, recover32_active
    pushl 28(%esp)                  /* arg */
    call *28(%esp)                  /* fn (ESP moved by the push) */
    addl $4, %esp
    movl $0, recover32_active
    movl recover32_info, %ecx
    movl %eax, 24(%ecx)             /* info->result */
    xorl %eax, %eax
    jmp 1f
/* void expect_fault32_resume(uint32_t rc): trap32_dispatch jumps here after filling *info;
 * expect_fault32 (or expect_fault32_ring3) then returns rc to its caller. */
    .globl expect_fault32_resume
expect_fault32_resume:
    movl 4(%esp), %eax
    movl recover32_esp, %esp
1:
    popfl
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

/* int expect_fault32_ring3(guest32_fn fn, uint32_t arg, struct fault_info32 *info): fn(arg)
 * at CPL 3. IRET to ring 3 (SDM Vol.3 6.12.1: IRET to an outer level pops EIP, CS, EFLAGS,
 * ESP, SS) with CS 0x1b, SS/DS/ES/FS/GS 0x23, EFLAGS 2 (IF=0), on user32_stack holding arg and
 * the return address ring3_return32, which executes INT 80H (a DPL-3 gate) to come back. */
    .globl expect_fault32_ring3
expect_fault32_ring3:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    pushfl
    movl %esp, recover32_esp
    movl 32(%esp), %eax             /* info */
    movl %eax, recover32_info
    movl $1, recover32_active
    movl $1, recover32_ring3
    movl 24(%esp), %ecx             /* fn */
    movl 28(%esp), %edx             /* arg */
    movl $user32_stack_top - 8, %eax
    movl %edx, 4(%eax)
    movl $ring3_return32, (%eax)
    pushl $0x23                     /* SS */
    pushl %eax                      /* ESP */
    pushl $0x2                      /* EFLAGS */
    pushl $0x1b                     /* CS */
    pushl %ecx                      /* EIP */
    movw $0x23, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    iretl
    .globl ring3_return32
ring3_return32:
    int $0x80                       /* EAX = fn's result */
    ud2

/* ---------------------------------------------------------------- data */
    .data
    .balign 8
/* Flat GDT: null, ring-0 code (base 0, limit 4 GiB, 32-bit, execute/read), ring-0 data
 * (read/write) - SDM Vol.3 3.4.5, Figure 3-8. */
    .globl gdt32
gdt32:
    .quad 0
    .quad 0x00CF9A000000FFFF        /* 0x08: code, DPL 0, D=1, G=1 */
    .quad 0x00CF92000000FFFF        /* 0x10: data, DPL 0, B=1, G=1 */
    .quad 0x00CFFA000000FFFF        /* 0x18: code, DPL 3 (selector 0x1b) */
    .quad 0x00CFF2000000FFFF        /* 0x20: data, DPL 3 (selector 0x23) */
    .quad 0                         /* 0x28: 32-bit TSS, filled in by runtime32.c */
gdt32_end:
    .globl gdt32_pointer
gdt32_pointer:
    .word gdt32_end - gdt32 - 1
    .long gdt32

    .globl multiboot32_magic, multiboot32_info, recover32_active, recover32_info, recover32_ring3
recover32_ring3: .long 0
multiboot32_magic: .long 0
multiboot32_info: .long 0
recover32_active: .long 0
recover32_info: .long 0
recover32_esp: .long 0

    .bss
    .balign 16
boot32_stack:
    .skip 16384
boot32_stack_top:
/* Ring-0 stack for traps from ring 3 (TSS ESP0) and the ring-3 stack. */
    .globl trap32_stack_top, user32_stack_top
    .balign 16
    .skip 8192
trap32_stack_top:
    .balign 16
    .skip 8192
user32_stack_top:
