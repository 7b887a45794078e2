/*
 * paging.c - editing the runtime's 4-level page tables (SDM Vol.3 4.5, IA-32e paging):
 * map/unmap a 4 KiB page, find and update a PTE, split a 2 MiB page of the identity map, and
 * the kernel/user split (paging_split_user) that SMEP/SMAP tests need (SDM Vol.3 4.6).
 *
 * All tables are identity-mapped (the runtime maps 0..1 GiB, and the pool below sits in the
 * image), so a table's physical address is also its pointer.
 */
#include "guest.h"

#define TABLE_POOL_PAGES 64
#define ENTRIES 512
/* Rights of the non-leaf entries we create: the leaf alone decides (SDM Vol.3 4.6: an access
 * is allowed only if every level allows it). */
#define UPPER_FLAGS (PTE_P | PTE_RW | PTE_US)
/* Bit 12 of a 2 MiB PDE is PAT (SDM Vol.3 Table 4-17); the 4 KiB PTE has PAT in bit 7. */
#define PDE_PAT_LARGE (1UL << 12)
#define PTE_PAT_SMALL (1UL << 7)

static uint64_t table_pool[TABLE_POOL_PAGES][ENTRIES] __attribute__((aligned(4096)));
static int table_pool_used;

/* One spare user page (guest.h). */
uint8_t user_page[4096] __attribute__((aligned(4096), section(".user.data")));

static uint64_t *alloc_table(void) {
    if (table_pool_used >= TABLE_POOL_PAGES) return 0;
    uint64_t *t = table_pool[table_pool_used++];
    memset(t, 0, PAGE_SIZE);
    return t;
}

static uint64_t *entry_table(uint64_t entry) { return (uint64_t *)(entry & PTE_ADDR_MASK); }

static int canonical(uint64_t va) {
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1FFFF;
}

/* Replaces the 2 MiB page in *pde by a page table of 512 4 KiB pages with the same rights. */
static int split_large_pde(uint64_t *pde) {
    uint64_t *pt = alloc_table();
    if (!pt) return -1;
    uint64_t large = *pde;
    uint64_t base = large & PTE_ADDR_MASK & ~(PDE_PAT_LARGE | 0x1FF000UL);
    uint64_t flags = (large & 0x7FUL) | (large & PTE_G) | (large & PTE_XD) |
                     ((large & PDE_PAT_LARGE) ? PTE_PAT_SMALL : 0);
    for (int i = 0; i < ENTRIES; i++) pt[i] = (base + (uint64_t)i * PAGE_SIZE) | flags;
    *pde = (uint64_t)pt | UPPER_FLAGS;
    tlb_flush_all();
    return 0;
}

/* Walks to va's PTE; create = 1 allocates missing tables and splits a 2 MiB page. */
static uint64_t *walk(uint64_t va, int create) {
    if (!canonical(va)) return 0;
    uint64_t *table = (uint64_t *)(read_cr3() & PTE_ADDR_MASK);
    static const int shifts[3] = {39, 30, 21};
    for (int level = 0; level < 3; level++) {
        uint64_t *e = &table[(va >> shifts[level]) & 511];
        if (!(*e & PTE_P)) {
            if (!create) return 0;
            uint64_t *t = alloc_table();
            if (!t) return 0;
            *e = (uint64_t)t | UPPER_FLAGS;
        } else if (*e & PTE_PS) {
            if (level != 2 || !create) return 0; /* 1 GiB pages are not used by the runtime */
            if (split_large_pde(e)) return 0;
        }
        table = entry_table(*e);
    }
    return &table[(va >> 12) & 511];
}

int map_page(uint64_t va, uint64_t pa, uint64_t flags) {
    uint64_t *pte = walk(va, 1);
    if (!pte) return -1;
    *pte = (pa & PTE_ADDR_MASK) | flags | PTE_P;
    invlpg_page(va);
    return 0;
}

void unmap_page(uint64_t va) {
    uint64_t *pte = walk(va, 0);
    if (!pte) return;
    *pte = 0;
    invlpg_page(va);
}

uint64_t *get_pte(uint64_t va) { return walk(va, 0); }

uint64_t update_pte(uint64_t va, uint64_t set, uint64_t clear) {
    uint64_t *pte = walk(va, 1);
    if (!pte) return 0;
    *pte = (*pte & ~clear) | set;
    invlpg_page(va);
    return *pte;
}

static int in_user_range(uint64_t pa) {
    return pa >= (uint64_t)__user_start && pa < (uint64_t)__user_end;
}

int paging_split_user(void) {
    uint64_t user_first = (uint64_t)__user_start & ~0x1FFFFFUL;
    uint64_t user_last = ((uint64_t)__user_end - 1) & ~0x1FFFFFUL;
    uint64_t *pml4 = (uint64_t *)(read_cr3() & PTE_ADDR_MASK);
    uint64_t *pd = entry_table(entry_table(pml4[0])[0]);
    for (uint64_t i = 0; i < ENTRIES; i++) {
        uint64_t va = i << 21;
        if (!(pd[i] & PTE_P)) continue;
        if ((pd[i] & PTE_PS) && va >= user_first && va <= user_last && split_large_pde(&pd[i]))
            return -1;
        if (pd[i] & PTE_PS) {
            pd[i] &= ~PTE_US;
            continue;
        }
        uint64_t *pt = entry_table(pd[i]);
        for (uint64_t j = 0; j < ENTRIES; j++) {
            uint64_t page = va + (j << 12);
            if (in_user_range(page)) pt[j] |= PTE_US;
            else pt[j] &= ~PTE_US;
        }
    }
    tlb_flush_all();
    return 0;
}
