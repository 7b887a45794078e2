/*
 * apic.c - the local xAPIC through its memory-mapped registers (SDM Vol.3 "Advanced
 * Programmable Interrupt Controller": register map, ICR, spurious-interrupt vector register).
 * The 4 KiB register page at IA32_APIC_BASE is mapped at its identity address with PCD|PWT
 * (uncached, as the SDM requires for APIC registers).
 */
#include "guest.h"

#define APIC_BASE_ADDR_MASK 0xFFFFFF000UL
#define APIC_SVR_ENABLE 0x100
#define IPI_WAIT_LOOPS 1000000

static volatile uint32_t *apic_regs;

uint64_t apic_init(void) {
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_ADDR_MASK;
    if (!apic_regs) {
        map_page(base, base, PTE_RW | PTE_PCD | PTE_PWT);
        apic_regs = (volatile uint32_t *)base;
    }
    apic_write(APIC_SVR, APIC_SVR_ENABLE | 0xFF);
    return base;
}

uint32_t apic_read(uint32_t reg) { return apic_regs[reg / 4]; }

void apic_write(uint32_t reg, uint32_t value) { apic_regs[reg / 4] = value; }

uint32_t apic_id(void) { return apic_read(APIC_ID) >> 24; }

int apic_send_ipi(uint32_t dest_apic_id, uint32_t icr_low) {
    apic_write(APIC_ICR_HIGH, dest_apic_id << 24);
    apic_write(APIC_ICR_LOW, icr_low);
    for (int n = 0; n < IPI_WAIT_LOOPS; n++) {
        if (!(apic_read(APIC_ICR_LOW) & APIC_DELIVERY_PENDING)) return 0;
        __asm__ volatile("pause");
    }
    return -1;
}

/* MP spec B.4: INIT level assert, then INIT level de-assert (ignored by modern processors). */
int apic_send_init(uint32_t dest_apic_id) {
    int r = apic_send_ipi(dest_apic_id, APIC_DM_INIT | APIC_LEVEL_ASSERT | APIC_TRIGGER_LEVEL);
    r |= apic_send_ipi(dest_apic_id, APIC_DM_INIT | APIC_TRIGGER_LEVEL);
    return r;
}

int apic_send_sipi(uint32_t dest_apic_id, uint8_t vector) {
    return apic_send_ipi(dest_apic_id, APIC_DM_STARTUP | APIC_LEVEL_ASSERT | vector);
}

/* The "self" shorthand is valid only with fixed delivery (SDM Vol.3 ICR, valid combinations),
 * so an SMI to ourselves names our own APIC ID as the physical destination. */
int apic_send_self_smi(void) { return apic_send_ipi(apic_id(), APIC_DM_SMI | APIC_LEVEL_ASSERT); }
