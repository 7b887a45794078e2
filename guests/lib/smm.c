/*
 * smm.c - installing the SMM handler of smm_handler.S at SMBASE + 8000H (default SMBASE 30000H, SDM
 * Vol.3 "SMBASE") and triggering SMIs: a self-addressed IPI with delivery mode SMI (SDM Vol.3
 * ICR delivery mode 010B; physical destination = our own APIC ID, since the "self" shorthand
 * is only valid for fixed delivery) or a write to the APM control port B2H.
 */
#include "guest.h"

extern char smm_handler_start[], smm_handler_end[], smm_handler_config[], smm_handler_record[];

#define SMI_WAIT_LOOPS 1000000

static uint64_t installed_offset(const char *sym) {
    return SMM_HANDLER_ADDR + (uint64_t)(sym - smm_handler_start);
}

void smm_install_handler(const struct smm_handler_config *cfg) {
    memcpy((void *)SMM_HANDLER_ADDR, smm_handler_start, (size_t)(smm_handler_end - smm_handler_start));
    struct smm_handler_config zero = {0, 0, 0, 0};
    memcpy((void *)installed_offset(smm_handler_config), cfg ? cfg : &zero, sizeof(zero));
    memset((void *)installed_offset(smm_handler_record), 0, sizeof(struct smm_handler_record));
}

volatile struct smm_handler_record *smm_record(void) {
    return (volatile struct smm_handler_record *)installed_offset(smm_handler_record);
}

/* An SMI is taken at an instruction boundary; wait a little for the count to move. */
static int handler_ran_since(uint32_t before) {
    for (int n = 0; n < SMI_WAIT_LOOPS; n++) {
        if (smm_record()->count != before) return 1;
        __asm__ volatile("pause" ::: "memory");
    }
    return 0;
}

int smm_trigger_self_ipi(void) {
    uint32_t before = smm_record()->count;
    apic_init();
    apic_send_self_smi();
    return handler_ran_since(before);
}

int smm_trigger_apm(uint8_t cmd) {
    uint32_t before = smm_record()->count;
    outb(0xB2, cmd);
    return handler_ran_since(before);
}
