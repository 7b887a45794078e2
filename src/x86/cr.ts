/**
 * Control-register, EFER and XCR0 bit definitions (SDM Vol.3 2.5 "Control Registers",
 * Vol.3 2.2.1 "Extended Feature Enable Register", Vol.1 13.3 XCR0).
 */

/** CR0 bits (SDM Vol.3 2.5, Figure 2-7). */
export const CR0 = {
  PE: 1 << 0,
  MP: 1 << 1,
  EM: 1 << 2,
  TS: 1 << 3,
  ET: 1 << 4,
  NE: 1 << 5,
  WP: 1 << 16,
  AM: 1 << 18,
  NW: 1 << 29,
  CD: 1 << 30,
  PG: 1 << 31,
} as const;

/**
 * CR0 bits that exist. MOV to CR0 ignores writes to the other bits of the low half (they read
 * as 0); only bits 63:32 raise #GP (SDM Vol.2 MOV CR, Vol.3 2.5; KVM behaves the same).
 */
export const CR0_DEFINED = 0xe005003f | 0;

/** CR4 bits (SDM Vol.3 2.5, Figure 2-7). */
export const CR4 = {
  VME: 1 << 0,
  PVI: 1 << 1,
  TSD: 1 << 2,
  DE: 1 << 3,
  PSE: 1 << 4,
  PAE: 1 << 5,
  MCE: 1 << 6,
  PGE: 1 << 7,
  PCE: 1 << 8,
  OSFXSR: 1 << 9,
  OSXMMEXCPT: 1 << 10,
  UMIP: 1 << 11,
  LA57: 1 << 12,
  VMXE: 1 << 13,
  SMXE: 1 << 14,
  FSGSBASE: 1 << 16,
  PCIDE: 1 << 17,
  OSXSAVE: 1 << 18,
  SMEP: 1 << 20,
  SMAP: 1 << 21,
  PKE: 1 << 22,
} as const;

/** EFER (MSR C000_0080H) bits (SDM Vol.3 2.2.1, Table 2-1 / Vol.4 Table 2-2). */
export const EFER = {
  SCE: 1 << 0,
  LME: 1 << 8,
  LMA: 1 << 10,
  NXE: 1 << 11,
} as const;

/** XCR0 state-component bits (SDM Vol.1 13.3). */
export const XCR0 = {
  X87: 1 << 0,
  SSE: 1 << 1,
  AVX: 1 << 2,
} as const;
