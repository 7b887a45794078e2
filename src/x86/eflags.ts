/** EFLAGS/RFLAGS bit definitions (SDM Vol.1 3.4.3, Figure 3-8). */

/** RFLAGS bits. */
export const FLAGS = {
  CF: 1 << 0,
  /** Bit 1 is reserved and always reads 1. */
  FIXED1: 1 << 1,
  PF: 1 << 2,
  AF: 1 << 4,
  ZF: 1 << 6,
  SF: 1 << 7,
  TF: 1 << 8,
  IF: 1 << 9,
  DF: 1 << 10,
  OF: 1 << 11,
  IOPL: 3 << 12,
  NT: 1 << 14,
  RF: 1 << 16,
  VM: 1 << 17,
  AC: 1 << 18,
  VIF: 1 << 19,
  VIP: 1 << 20,
  ID: 1 << 21,
} as const;

/** The six arithmetic status flags. */
export const STATUS_FLAGS = 0x8d5;

/** Bits of RFLAGS that exist on this processor (everything else reads 0, except bit 1). */
export const FLAGS_DEFINED = 0x3f7fd5;

/** Shift of the IOPL field. */
export const IOPL_SHIFT = 12;
