/*
 * paging32.c - 32-bit paging for 32-bit guests (guests/lib32): one page directory and two
 * page tables identity-mapping 0..8 MiB with 4 KiB pages (SDM Vol.3 4.3, CR4.PSE=0 and
 * CR4.PAE=0), and PTE editing with INVLPG.
 */
#include "guest32.h"

#define PT_COUNT (PAGING32_LIMIT >> 22) /* one page table maps 4 MiB */

static uint32_t page_directory[1024] __attribute__((aligned(4096)));
static uint32_t page_tables[PT_COUNT][1024] __attribute__((aligned(4096)));

void paging32_enable(uint32_t flags) {
    for (uint32_t t = 0; t < PT_COUNT; t++) {
        for (uint32_t i = 0; i < 1024; i++) page_tables[t][i] = ((t * 1024 + i) << 12) | PTE32_P | flags;
    }
    for (uint32_t i = 0; i < 1024; i++) page_directory[i] = 0;
    /* PDE: P, R/W, U/S all 1 so the PTE alone decides the rights (SDM Vol.3 4.6.1). */
    for (uint32_t t = 0; t < PT_COUNT; t++) page_directory[t] = (uint32_t)page_tables[t] | PTE32_P | PTE32_RW | PTE32_US;
    load_cr4(read_cr4() & ~(CR4_PSE | CR4_PAE));
    load_cr3((uint32_t)page_directory);
    load_cr0(read_cr0() | CR0_PG);
}

void paging32_disable(void) { load_cr0(read_cr0() & ~CR0_PG); }

uint32_t *pte32(uint32_t va) {
    if (va >= PAGING32_LIMIT) return 0;
    return &page_tables[va >> 22][(va >> 12) & 1023];
}

int map_page32(uint32_t va, uint32_t pa, uint32_t flags) {
    uint32_t *pte = pte32(va);
    if (!pte) return -1;
    *pte = (pa & ~0xFFFU) | PTE32_P | flags;
    invlpg32(va);
    return 0;
}

void unmap_page32(uint32_t va) {
    uint32_t *pte = pte32(va);
    if (!pte) return;
    *pte = 0;
    invlpg32(va);
}

uint32_t update_pte32(uint32_t va, uint32_t set, uint32_t clear) {
    uint32_t *pte = pte32(va);
    if (!pte) return 0;
    *pte = (*pte & ~clear) | set;
    invlpg32(va);
    return *pte;
}
