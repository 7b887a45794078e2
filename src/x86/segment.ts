/** Segment selector and descriptor layout (SDM Vol.3 3.4.2, 3.4.5, Figure 3-8; 5.x gates). */

/** Segment register indices, in the encoding order of the ModRM sreg field. */
export const SEG = {
  ES: 0,
  CS: 1,
  SS: 2,
  DS: 3,
  FS: 4,
  GS: 5,
  /** Not segment registers, but stored alongside them. */
  LDTR: 6,
  TR: 7,
} as const;

/**
 * Access-rights word as held in pinvm's hidden segment state: bits 8..23 of a descriptor's
 * high dword shifted down by 8 (type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15).
 */
export const ATTR = {
  TYPE_MASK: 0xf,
  /** Accessed (type bit 0). */
  A: 1 << 0,
  /** Writable for data / readable for code (type bit 1). */
  RW: 1 << 1,
  /** Expand-down for data / conforming for code (type bit 2). */
  EC: 1 << 2,
  /** Code (type bit 3). */
  CODE: 1 << 3,
  S: 1 << 4,
  DPL_SHIFT: 5,
  P: 1 << 7,
  AVL: 1 << 12,
  L: 1 << 13,
  DB: 1 << 14,
  G: 1 << 15,
} as const;

/** System-descriptor types (S=0) (SDM Vol.3 3.5, Table 3-2). */
export const SYS_TYPE = {
  TSS16_AVAIL: 1,
  LDT: 2,
  TSS16_BUSY: 3,
  CALL_GATE16: 4,
  TASK_GATE: 5,
  INT_GATE16: 6,
  TRAP_GATE16: 7,
  TSS32_AVAIL: 9,
  TSS32_BUSY: 11,
  CALL_GATE32: 12,
  INT_GATE32: 14,
  TRAP_GATE32: 15,
} as const;
