/**
 * The local APIC register map as data: the xAPIC MMIO offsets (SDM Vol.3 10.4.1, Table 10-1
 * "Local APIC Register Address Map"), the x2APIC MSR indices (SDM Vol.3 10.12.1.2, Table
 * 10-6 "Local APIC Register Address Map Supported by x2APIC"), and the bit fields of
 * IA32_APIC_BASE, the LVT entries, the ICR, the ESR, the SVR and the divide configuration
 * register. No behaviour lives here.
 */

/** xAPIC MMIO register offsets within the 4-KByte APIC page (SDM Vol.3 Table 10-1). */
export const APIC_OFFSET = {
  ID: 0x020,
  VERSION: 0x030,
  TPR: 0x080,
  APR: 0x090,
  PPR: 0x0a0,
  EOI: 0x0b0,
  RRD: 0x0c0,
  LDR: 0x0d0,
  DFR: 0x0e0,
  SVR: 0x0f0,
  ISR: 0x100,
  TMR: 0x180,
  IRR: 0x200,
  ESR: 0x280,
  LVT_CMCI: 0x2f0,
  ICR_LOW: 0x300,
  ICR_HIGH: 0x310,
  LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330,
  LVT_PERF: 0x340,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_INITIAL_COUNT: 0x380,
  TIMER_CURRENT_COUNT: 0x390,
  TIMER_DIVIDE_CONFIG: 0x3e0,
} as const;

/**
 * x2APIC MSR indices (SDM Vol.3 10.12.1.2, Table 10-6): MSR = 800H + (MMIO offset >> 4),
 * except that the ICR is one 64-bit MSR (830H) and 831H, the DFR (80EH), the APR (809H)
 * and the remote read register (80CH) do not exist; SELF IPI (83FH) exists only here.
 */
export const X2APIC_MSR = {
  FIRST: 0x800,
  LAST: 0x8ff,
  ID: 0x802,
  VERSION: 0x803,
  TPR: 0x808,
  PPR: 0x80a,
  EOI: 0x80b,
  LDR: 0x80d,
  SVR: 0x80f,
  ISR: 0x810,
  TMR: 0x818,
  IRR: 0x820,
  ESR: 0x828,
  LVT_CMCI: 0x82f,
  ICR: 0x830,
  LVT_TIMER: 0x832,
  LVT_THERMAL: 0x833,
  LVT_PERF: 0x834,
  LVT_LINT0: 0x835,
  LVT_LINT1: 0x836,
  LVT_ERROR: 0x837,
  TIMER_INITIAL_COUNT: 0x838,
  TIMER_CURRENT_COUNT: 0x839,
  TIMER_DIVIDE_CONFIG: 0x83e,
  SELF_IPI: 0x83f,
} as const;

/** IA32_TSC_DEADLINE (MSR 6E0H), the TSC-deadline timer target (SDM Vol.3 10.5.4.1). */
export const IA32_TSC_DEADLINE = 0x6e0;

/** IA32_APIC_BASE (MSR 1BH) fields (SDM Vol.3 10.4.4, Figure 10-5; 10.12.1 for EXTD). */
export const APIC_BASE = {
  /** Processor is the bootstrap processor (bit 8). */
  BSP: 0x100n,
  /** x2APIC mode enable (bit 10). */
  EXTD: 0x400n,
  /** APIC global enable (bit 11). */
  EN: 0x800n,
  /** The default APIC page physical address after power-up or reset. */
  DEFAULT_ADDRESS: 0xfee00000n,
} as const;

/**
 * The Local Vector Table, in MMIO-offset order. The index of an entry in this list is its
 * slot in the APIC's LVT array. 7 entries (CMCI included) give Max LVT Entry = 6.
 */
export const LVT_ENTRIES = ["cmci", "timer", "thermal", "perf", "lint0", "lint1", "error"] as const;

/** One of the LVT entries (SDM Vol.3 10.5.1, Figure 10-8). */
export type LvtName = (typeof LVT_ENTRIES)[number];

/** LVT slot numbers (positions in LVT_ENTRIES). */
export const LVT = {
  CMCI: 0,
  TIMER: 1,
  THERMAL: 2,
  PERF: 3,
  LINT0: 4,
  LINT1: 5,
  ERROR: 6,
} as const;

/** MMIO offset of each LVT slot. */
export const LVT_OFFSETS: readonly number[] = [
  APIC_OFFSET.LVT_CMCI,
  APIC_OFFSET.LVT_TIMER,
  APIC_OFFSET.LVT_THERMAL,
  APIC_OFFSET.LVT_PERF,
  APIC_OFFSET.LVT_LINT0,
  APIC_OFFSET.LVT_LINT1,
  APIC_OFFSET.LVT_ERROR,
];

/** LVT entry bit fields (SDM Vol.3 10.5.1, Figure 10-8). */
export const LVT_BITS = {
  VECTOR: 0xff,
  DELIVERY_MODE: 0x700,
  DELIVERY_STATUS: 0x1000,
  PIN_POLARITY: 0x2000,
  REMOTE_IRR: 0x4000,
  TRIGGER_LEVEL: 0x8000,
  MASK: 0x10000,
  /** Timer mode, bits 18:17: 00 one-shot, 01 periodic, 10 TSC-deadline, 11 reserved. */
  TIMER_MODE: 0x60000,
  TIMER_MODE_SHIFT: 17,
} as const;

/** Bits software can write in each LVT slot (SDM Vol.3 Figure 10-8), timer without bit 18. */
export const LVT_WRITABLE: readonly number[] = [
  0x107ff, // CMCI: vector, delivery mode, mask
  0x300ff, // timer: vector, mask, timer mode bit 17 (bit 18 added when TSC-deadline exists)
  0x107ff, // thermal
  0x107ff, // performance counter
  0x1a7ff, // LINT0: vector, delivery mode, polarity, trigger mode, mask
  0x1a7ff, // LINT1
  0x100ff, // error: vector, mask
];

/** Read-only LVT bits that a write leaves alone (delivery status, remote IRR). */
export const LVT_READ_ONLY = LVT_BITS.DELIVERY_STATUS | LVT_BITS.REMOTE_IRR;

/** The value of every LVT entry after power-up, reset or INIT: only the mask bit set (10.4.7.1). */
export const LVT_RESET_VALUE = LVT_BITS.MASK;

/** Delivery-mode encodings of the LVT and the ICR (SDM Vol.3 10.5.1, 10.6.1). */
export const DELIVERY_MODE_CODE = {
  FIXED: 0b000,
  LOWEST_PRIORITY: 0b001,
  SMI: 0b010,
  NMI: 0b100,
  INIT: 0b101,
  STARTUP: 0b110,
  EXTINT: 0b111,
} as const;

/** Interrupt Command Register fields, low doubleword (SDM Vol.3 10.6.1, Figure 10-12). */
export const ICR_BITS = {
  VECTOR: 0xff,
  DELIVERY_MODE: 0x700,
  DELIVERY_MODE_SHIFT: 8,
  DESTINATION_LOGICAL: 0x800,
  DELIVERY_STATUS: 0x1000,
  LEVEL_ASSERT: 0x4000,
  TRIGGER_LEVEL: 0x8000,
  SHORTHAND: 0xc0000,
  SHORTHAND_SHIFT: 18,
  /** Writable bits of the low doubleword (vector .. shorthand, without the status bit). */
  WRITABLE_LOW: 0x000ccfff,
  /** Writable bits of ICR[63:32] in xAPIC mode: the 8-bit destination in bits 63:56. */
  WRITABLE_HIGH_XAPIC: 0xff000000,
} as const;

/** Error Status Register bits (SDM Vol.3 10.5.3, Figure 10-9); bits 0-3 are P6/Pentium only. */
export const ESR_BITS = {
  REDIRECTABLE_IPI: 0x10,
  SEND_ILLEGAL_VECTOR: 0x20,
  RECEIVE_ILLEGAL_VECTOR: 0x40,
  ILLEGAL_REGISTER_ADDRESS: 0x80,
} as const;

/** Spurious-Interrupt Vector Register fields (SDM Vol.3 10.9, Figure 10-23). */
export const SVR_BITS = {
  VECTOR: 0xff,
  APIC_SOFTWARE_ENABLE: 0x100,
  /** Focus processor checking: stored and read back, not modelled. */
  FOCUS_PROCESSOR_CHECKING: 0x200,
  /** Bits that software can write (EOI-broadcast suppression, bit 12, is not implemented). */
  WRITABLE: 0x3ff,
  RESET_VALUE: 0xff,
} as const;

/** Destination Format Register (SDM Vol.3 10.6.2.2, Figure 10-14). */
export const DFR_BITS = {
  MODEL: 0xf0000000,
  /** Model 1111B: flat. */
  FLAT: 0xf0000000,
  /** Model 0000B: cluster. */
  CLUSTER: 0x00000000,
  /** Bits 27:0 are reserved and read as all ones. */
  RESERVED_ONES: 0x0fffffff,
  RESET_VALUE: 0xffffffff,
} as const;

/** Divide Configuration Register: bits 0, 1 and 3 (SDM Vol.3 10.5.4, Figure 10-10). */
export const DIVIDE_CONFIG_WRITABLE = 0xb;

/**
 * Divide value per DCR encoding ((bit 3) << 2 | bits 1:0), SDM Vol.3 Figure 10-10:
 * 000 -> 2, 001 -> 4, 010 -> 8, 011 -> 16, 100 -> 32, 101 -> 64, 110 -> 128, 111 -> 1.
 */
export const DIVIDE_VALUES: readonly number[] = [2, 4, 8, 16, 32, 64, 128, 1];

/**
 * The Local APIC Version Register (SDM Vol.3 10.4.8, Figure 10-7): version 14H (an
 * integrated APIC), Max LVT Entry = 6 (bits 23:16: 7 entries including CMCI, as on current
 * parts), bit 24 (EOI-broadcast suppression) clear. Value 00060014H.
 */
export const APIC_VERSION = 0x14 | ((LVT_ENTRIES.length - 1) << 16);
