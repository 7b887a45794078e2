/*
 * smm_handler.S - a small SMM handler (SDM Vol.3 "System Management Mode"). smm.c copies
 * smm_handler_start..smm_handler_end to SMBASE + 8000H for the default SMBASE 30000H. On an
 * SMI the processor saves its state at SMBASE + FE00H..FFFFH and enters the handler in SMM
 * (real-address-like "big real mode": CS base = SMBASE, IP = 8000H, 4 GiB limits). The handler
 * counts its entry, records the save area's revision identifier (SMBASE + 7EFCH + 8000H) and
 * the CR0/CR4 images, applies the configured set/clear masks to those images and executes
 * RSM, which reloads the (possibly modified) state.
 *
 * Save-area layout by revision identifier: bits 7:0 = 64H is the AMD64 layout (AMD APM Vol.2
 * "SMM Save State", used by QEMU and pinvm: CR4 at FF48H, CR0 at FF58H); anything else is
 * taken as the Intel 64 layout (SDM Vol.3 "SMRAM State Save Map": CR4 at 7E40H + 8000H, CR0
 * at 7FF8H + 8000H).
 */

#define H(x) (0x8000 + ((x) - smm_handler_start))

    .section .rodata
    .code16
    .balign 16
    .globl smm_handler_start, smm_handler_end, smm_handler_config, smm_handler_record
smm_handler_start:
    incl %cs:H(smm_handler_record)            /* record.count */
    movl %cs:0xFEFC, %eax                     /* revision identifier */
    movl %eax, %cs:H(smm_handler_record + 4)
    cmpb $0x64, %al
    jne 1f
    movw $0xFF58, %si                         /* AMD64: CR0 */
    movw $0xFF48, %di                         /* AMD64: CR4 */
    jmp 2f
1:  movw $0xFFF8, %si                         /* Intel 64: CR0 */
    movw $0xFE40, %di                         /* Intel 64: CR4 */
2:  movl %cs:(%si), %eax
    movl %eax, %cs:H(smm_handler_record + 8)
    movl %cs:H(smm_handler_config + 4), %ebx  /* cr0_clear */
    notl %ebx
    andl %ebx, %eax
    orl %cs:H(smm_handler_config + 0), %eax   /* cr0_set */
    movl %eax, %cs:(%si)
    movl %cs:(%di), %eax
    movl %eax, %cs:H(smm_handler_record + 12)
    movl %cs:H(smm_handler_config + 12), %ebx /* cr4_clear */
    notl %ebx
    andl %ebx, %eax
    orl %cs:H(smm_handler_config + 8), %eax   /* cr4_set */
    movl %eax, %cs:(%di)
    rsm

    .balign 16
smm_handler_config:                           /* struct smm_handler_config */
    .long 0, 0, 0, 0
smm_handler_record:                           /* struct smm_handler_record */
    .long 0, 0, 0, 0
smm_handler_end:

    .section .note.GNU-stack, "", @progbits
