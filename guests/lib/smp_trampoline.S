/*
 * smp_trampoline.S - the application-processor start-up path (SDM Vol.3 "MP Initialization": INIT-SIPI-
 * SIPI; "Switching to Protected Mode"; "Initializing IA-32e Mode").
 *
 * smp_trampoline_start..smp_trampoline_end is copied by smp.c to SMP_TRAMPOLINE_ADDR (below
 * 1 MiB, 4 KiB aligned); a SIPI with vector SMP_TRAMPOLINE_ADDR >> 12 starts the AP there in
 * real mode at CS = vector << 8, IP = 0. Before changing anything, the trampoline records the
 * AP's registers in its record area (layout: TR_* below, decoded by smp.c). Then it probes the
 * data-segment state INIT left (state table: selector 0, base 0, limit FFFFH): with a handler of
 * its own for #SS and #GP in the real-mode IVT (entries 12 and 13 at 30H, restored after), it
 * reads DS:34H, FS:34H, GS:34H (base 0: the IVT entry it just wrote) and, for DS, ES, FS, GS and
 * SS, a byte at offset FFFFH (inside the limit) and one at 10000H (beyond it: #GP, #SS for SS;
 * SDM Vol.2 MOV, "Real-Address Mode Exceptions"), recording the vector or 0. It then loads the
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
#define TR_IVT_SAVED 144    /* IVT entries 12 and 13 as found (8 bytes) */
#define TR_IVT_MARKER 152   /* IVT entry 13 as the trampoline wrote it (CS:handler) */
#define TR_BASE_PROBE 156   /* DS:34H, FS:34H, GS:34H (3 x 4 bytes) */
#define TR_LIMIT_PROBE 168  /* vector or 0, per segment DS ES FS GS SS: offset FFFFH, 10000H */
#define TR_RESUME 178       /* where the fault handler resumes (16 bits) */
#define TR_LAST_VECTOR 180  /* the fault handler's vector, 0 when none */
#define TR_SIZE 192

#define T(x) ((x) - smp_trampoline_start)
#define REC(off) T(smp_trampoline_record) + (off)

/* One probe: a byte read at seg:off with a 32-bit address; records in TR_LIMIT_PROBE + slot the
 * vector of the fault it raised (through smp_trampoline_fault12/13), or 0. */
.macro PROBE seg, off, slot
    movw $T(9f), %cs:REC(TR_RESUME)
    movb $0, %cs:REC(TR_LAST_VECTOR)
    addr32 movb %\seg:\off, %al
9:  movb %cs:REC(TR_LAST_VECTOR), %al
    movb %al, %cs:REC(TR_LIMIT_PROBE + \slot)
.endm

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
    /* A stack inside the trampoline page (a MOV to SS in real mode sets its base, not its limit);
     * EFLAGS, IP and the probes' faults need one. DS, ES, FS, GS are not touched yet. */
    movw %cs, %ax
    movw %ax, %ss
    movw $T(smp_trampoline_stack_top), %sp
    pushfl
    popl %cs:REC(TR_EFLAGS)

    /* Segment probes. ES base 0 (a real-mode load; its limit stays INIT's) to reach the IVT. */
    xorw %ax, %ax
    movw %ax, %es
    movl %es:0x30, %eax
    movl %eax, %cs:REC(TR_IVT_SAVED)
    movl %es:0x34, %eax
    movl %eax, %cs:REC(TR_IVT_SAVED + 4)
    movw $T(smp_trampoline_fault12), %es:0x30
    movw %cs, %es:0x32
    movw $T(smp_trampoline_fault13), %es:0x34
    movw %cs, %es:0x36
    movl %es:0x34, %eax
    movl %eax, %cs:REC(TR_IVT_MARKER)
    movl %ds:0x34, %eax
    movl %eax, %cs:REC(TR_BASE_PROBE)
    movl %fs:0x34, %eax
    movl %eax, %cs:REC(TR_BASE_PROBE + 4)
    movl %gs:0x34, %eax
    movl %eax, %cs:REC(TR_BASE_PROBE + 8)
    PROBE ds, 0xFFFF, 0
    PROBE ds, 0x10000, 1
    PROBE es, 0xFFFF, 2
    PROBE es, 0x10000, 3
    PROBE fs, 0xFFFF, 4
    PROBE fs, 0x10000, 5
    PROBE gs, 0xFFFF, 6
    PROBE gs, 0x10000, 7
    PROBE ss, 0xFFFF, 8
    PROBE ss, 0x10000, 9
    movl %cs:REC(TR_IVT_SAVED), %eax
    movl %eax, %es:0x30
    movl %cs:REC(TR_IVT_SAVED + 4), %eax
    movl %eax, %es:0x34

    movw %cs, %ax
    movw %ax, %ds
    call 1f
1:  popw %ax
    subw $T(1b), %ax                /* IP of smp_trampoline_start */
    movw %ax, REC(TR_IP)

    lgdtl T(smp_trampoline_gdtr)
    movl %cr0, %eax
    orl $1, %eax                    /* CR0.PE */
    movl %eax, %cr0
    ljmpl $0x40, $ap_pm32_entry     /* ring-0 code32 of the runtime's GDT */

    /* Real-mode handlers of the probes' #SS (12) and #GP (13): record the vector, resume at
     * TR_RESUME (the frame is IP, CS, FLAGS on SS:SP). */
smp_trampoline_fault12:
    movb $12, %cs:REC(TR_LAST_VECTOR)
    jmp 2f
smp_trampoline_fault13:
    movb $13, %cs:REC(TR_LAST_VECTOR)
2:  pushw %bp
    movw %sp, %bp
    pushw %ax
    movw %cs:REC(TR_RESUME), %ax
    movw %ax, 2(%bp)
    popw %ax
    popw %bp
    iret

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
