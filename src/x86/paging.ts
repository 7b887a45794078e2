/** Paging-structure entry bits (SDM Vol.3 4.3-4.5, Tables 4-4 .. 4-20). */

/** Bits of a paging-structure entry (low 32 bits). */
export const PTE = {
  P: 1 << 0,
  RW: 1 << 1,
  US: 1 << 2,
  PWT: 1 << 3,
  PCD: 1 << 4,
  A: 1 << 5,
  D: 1 << 6,
  /** PS in PDE/PDPTE; PAT in a 4K PTE. */
  PS: 1 << 7,
  G: 1 << 8,
} as const;

/** XD (execute-disable) is bit 63, i.e. bit 31 of the high half. */
export const PTE_HI_XD = 1 << 31;

/** MAXPHYADDR of the modelled processor (CPUID.80000008H:EAX[7:0]). */
export const MAXPHYADDR = 40;
