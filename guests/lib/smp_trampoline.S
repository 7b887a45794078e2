/*
 * smp_trampoline.S - the application-processor start-up path (SDM Vol.3 "MP Initialization": INIT-SIPI-
 * SIPI; "Switching to Protected Mode"; "Initializing IA-32e Mode").
 *
 * smp_trampoline_start..smp_trampoline_end is copied by smp.c to SMP_TRAMPOLINE_ADDR (below
 * 1 MiB, 4 KiB aligned); a SIPI with vector SMP_TRAMPOLINE_ADDR >> 12 starts the AP there in
 * real mode at CS = vector << 8, IP = 0. Before changing anything, the trampoline records the
 * AP's registers in its record area (layout: TR_* below, decoded by smp.c). It then loads the
 * BSP's GDT (patched in by smp.c), sets CR0.PE and jumps to ap_pm32_entry (32-bit code in the
 * image), which enables PAE, loads the BSP's CR3, sets EFER.LME (and NXE if the BSP has it),
 * enables paging and jumps to ap_long_entry (64-bit) on the stack smp.c chose; that calls
 * smp_ap_main() and halts when it returns.
 */

#define TR_EAX 0
#define TR_EBX 4
#define TR_ECX 8
#define TR_EDX 12
#define TR_ESI 16
#define TR_EDI 20
#define TR_EBP 24
#define TR_ESP 28
#define TR_EFLAGS 32
#define TR_CS 36
#define TR_DS 40
#define TR_ES 44
#define TR_FS 48
#define TR_GS 52
#define TR_SS 56
#define TR_IP 60
#define TR_CR0 64
#define TR_CR2 68
#define TR_CR3 72
#define TR_CR4 76
#define TR_DR6 80
#define TR_DR7 84
#define TR_EFER 88
#define TR_GDTR 96
#define TR_IDTR 104
#define TR_FCW 112
#define TR_FSW 114
#define TR_TSC 120
#define TR_ENV 128 /* 14-byte FNSTENV image (16-bit format) */
#define TR_SIZE 160

#define T(x) ((x) - smp_trampoline_start)
#define REC(off) T(smp_trampoline_record) + (off)

    .section .rodata
    .code16
    .balign 16
    .globl smp_trampoline_start, smp_trampoline_end, smp_trampoline_record, smp_trampoline_gdtr
smp_trampoline_start:
    movl %eax, %cs:REC(TR_EAX)
    movl %ebx, %cs:REC(TR_EBX)
    movl %ecx, %cs:REC(TR_ECX)
    movl %edx, %cs:REC(TR_EDX)
    movl %esi, %cs:REC(TR_ESI)
    movl %edi, %cs:REC(TR_EDI)
    movl %ebp, %cs:REC(TR_EBP)
    movl %esp, %cs:REC(TR_ESP)
    movw %cs, %cs:REC(TR_CS)
    movw %ds, %cs:REC(TR_DS)
    movw %es, %cs:REC(TR_ES)
    movw %fs, %cs:REC(TR_FS)
    movw %gs, %cs:REC(TR_GS)
    movw %ss, %cs:REC(TR_SS)
    movl %cr0, %eax
    movl %eax, %cs:REC(TR_CR0)
    movl %cr2, %eax
    movl %eax, %cs:REC(TR_CR2)
    movl %cr3, %eax
    movl %eax, %cs:REC(TR_CR3)
    movl %cr4, %eax
    movl %eax, %cs:REC(TR_CR4)
    movl %dr6, %eax
    movl %eax, %cs:REC(TR_DR6)
    movl %dr7, %eax
    movl %eax, %cs:REC(TR_DR7)
    movl $0xC0000080, %ecx
    rdmsr
    movl %eax, %cs:REC(TR_EFER)
    movl %edx, %cs:REC(TR_EFER + 4)
    rdtsc
    movl %eax, %cs:REC(TR_TSC)
    movl %edx, %cs:REC(TR_TSC + 4)
    sgdtl %cs:REC(TR_GDTR)
    sidtl %cs:REC(TR_IDTR)
    fnstcw %cs:REC(TR_FCW)
    fnstsw %cs:REC(TR_FSW)
    fnstenv %cs:REC(TR_ENV)
    fldenv %cs:REC(TR_ENV)          /* FNSTENV masked the exceptions: put the state back */
    /* A stack inside the trampoline page; EFLAGS and IP need one. */
    movw %cs, %ax
    movw %ax, %ds
    movw %ax, %ss
    movw $T(smp_trampoline_stack_top), %sp
    pushfl
    popl REC(TR_EFLAGS)
    call 1f
1:  popw %ax
    subw $T(1b), %ax                /* IP of smp_trampoline_start */
    movw %ax, REC(TR_IP)

    lgdtl T(smp_trampoline_gdtr)
    movl %cr0, %eax
    orl $1, %eax                    /* CR0.PE */
    movl %eax, %cr0
    ljmpl $0x40, $ap_pm32_entry     /* ring-0 code32 of the runtime's GDT */

    .balign 8
smp_trampoline_gdtr:
    .word 0
    .long 0
    .balign 16
smp_trampoline_record:
    .skip TR_SIZE
    .balign 16
    .skip 256
smp_trampoline_stack_top:
smp_trampoline_end:

/* ---------------------------------------------------------------- 32-bit, then 64-bit */
    .section .text
    .code32
ap_pm32_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl ap_boot_cr4, %eax
    movl %eax, %cr4
    movl ap_boot_cr3, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl ap_boot_efer, %eax
    wrmsr
    movl ap_boot_cr0, %eax
    movl %eax, %cr0
    ljmp $0x08, $ap_long_entry

    .code64
ap_long_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq ap_boot_stack(%rip), %rsp
    xorl %ebp, %ebp
    call smp_ap_main
2:  cli
    hlt
    jmp 2b

    .section .data
    .balign 8
    .globl ap_boot_stack, ap_boot_cr3, ap_boot_cr0, ap_boot_cr4, ap_boot_efer
ap_boot_stack:
    .quad 0
ap_boot_cr3:
    .long 0
ap_boot_cr0:
    .long 0
ap_boot_cr4:
    .long 0
ap_boot_efer:
    .long 0

    .section .note.GNU-stack, "", @progbits
