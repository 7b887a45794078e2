/**
 * The processor state after power-up, RESET# and INIT, as data (SDM Vol.3 "IA-32 and Intel
 * 64 Processor States Following Power-up, Reset, or INIT", Table 9-1 in older editions;
 * AMD APM Vol.2 Table 14-1). Sources and the ways KVM, QEMU and Bochs differ are collected
 * in shared/context/reset-init-state.md; where that file records an ambiguity, the choice
 * made here is noted on the row.
 *
 * Each row says, per event, either a value to load or "unchanged".
 */

/** The three events that (re)initialize a processor. */
export type ResetKind = "power-up" | "reset" | "init";

/** What an event does to one piece of state. */
export type RowAction<T> = { set: T } | "unchanged";

/** A segment register's visible and hidden parts. */
export interface SegmentInit {
  selector: number;
  base: number;
  limit: number;
  /** Access rights in pinvm's ATTR layout (descriptor high dword bits 8..23 >> 8). */
  attr: number;
}

/** One row of the state table. */
export interface StateRow<T> {
  /** Value or action for power-up, RESET# and INIT. */
  powerUp: RowAction<T>;
  reset: RowAction<T>;
  init: RowAction<T>;
  /** Where the row comes from / what was chosen. */
  note: string;
}

const same = <T>(v: T, note: string): StateRow<T> => ({
  powerUp: { set: v },
  reset: { set: v },
  init: { set: v },
  note,
});
const hwOnly = <T>(v: T, note: string): StateRow<T> => ({
  powerUp: { set: v },
  reset: { set: v },
  init: "unchanged",
  note,
});

/** Data segment after reset: selector 0, base 0, limit FFFFH, present read/write accessed (93H). */
const DATA_SEG: SegmentInit = { selector: 0, base: 0, limit: 0xffff, attr: 0x93 };

/** The state table. Values are 32-bit numbers unless noted (64-bit MSRs as [lo, hi]). */
export const RESET_STATE = {
  eflags: same(0x00000002, "SDM table: EFLAGS 00000002H for all three events"),
  rip: same(0x0000fff0, "SDM table: EIP 0000FFF0H"),
  cs: same<SegmentInit>(
    { selector: 0xf000, base: 0xffff0000, limit: 0xffff, attr: 0x9b },
    "SDM: selector F000H, base FFFF0000H, limit FFFFH; type set to execute/read accessed code (9BH) as KVM and QEMU do — the SDM's 'present, R/W, accessed' is satisfied",
  ),
  ss: same(DATA_SEG, "SDM table"),
  ds: same(DATA_SEG, "SDM table"),
  es: same(DATA_SEG, "SDM table"),
  fs: same(DATA_SEG, "SDM table"),
  gs: same(DATA_SEG, "SDM table"),
  /** EDX holds the processor signature (CPUID.1.EAX); the vCPU fills in its own value. */
  edx: same<"signature">("signature", "SDM 9.1.2: EDX = family/model/stepping (CPUID.01H:EAX)"),
  eax: same(0, "0: no BIST requested"),
  otherGprs: same(0, "EBX, ECX, ESI, EDI, EBP, ESP, R8-R15 = 0"),
  cr0: {
    powerUp: { set: 0x60000010 },
    reset: { set: 0x60000010 },
    init: "unchanged",
    note: "60000010H on power-up/RESET; INIT keeps CD and NW, sets ET, clears the rest (APM Tbl 14-1, bare metal, KVM 4c72ab5aa6e0) — applied by initCr0()",
  } as StateRow<number>,
  cr2: same(0, "SDM table"),
  cr3: same(0, "SDM table"),
  cr4: same(0, "SDM table"),
  cr8: same(0, "TPR cleared by INIT and RESET (SDM 10.4.7.3)"),
  efer: same(0, "APM Tbl 14-1: EFER = 0 on INIT too (INIT from long mode lands in real mode)"),
  gdtr: same({ base: 0, limit: 0xffff }, "SDM table"),
  idtr: same({ base: 0, limit: 0xffff }, "SDM table"),
  ldtr: same<SegmentInit>({ selector: 0, base: 0, limit: 0xffff, attr: 0x82 }, "SDM table: present LDT"),
  tr: same<SegmentInit>(
    { selector: 0, base: 0, limit: 0xffff, attr: 0x8b },
    "SDM table: present TSS; busy 32-bit type as KVM VMX uses",
  ),
  dr0to3: same(0, "SDM table"),
  dr6: same(0xffff0ff0, "SDM table"),
  dr7: same(0x00000400, "SDM table"),
  x87: hwOnly(
    { fcw: 0x0040, fsw: 0, ftw: 0x5555, registersZero: true },
    "SDM table: FCW 0040H, FSW 0, FTW 5555H on power-up/RESET; INIT leaves x87 state unchanged",
  ),
  mxcsr: hwOnly(0x1f80, "SDM Vol.1: MXCSR 1F80H on power-up/RESET; unchanged by INIT"),
  xmm: hwOnly(0, "XMM registers 0 on power-up/RESET; unchanged by INIT"),
  tsc: hwOnly(0, "TSC 0 on power-up/RESET; unchanged by INIT"),
  tscAux: hwOnly(0, "IA32_TSC_AUX 0; unchanged by INIT"),
  pat: hwOnly<[number, number]>([0x00070406, 0x00070406], "IA32_PAT 0007040600070406H; unchanged by INIT"),
  xcr0: hwOnly(1, "XCR0 = 1 (x87 only) on power-up/RESET; unchanged by INIT"),
  apicBase: hwOnly(
    0xfee00800,
    "IA32_APIC_BASE FEE00000H with EN; BSP bit (8) set on the bootstrap processor only; unchanged by INIT",
  ),
  smbase: hwOnly(0x30000, "SMBASE 30000H; unchanged by INIT"),
  mtrr: hwOnly(
    0,
    "Fixed and variable MTRRs and IA32_MTRR_DEF_TYPE: disabled (0) on power-up/RESET; unchanged by INIT (SDM 9.1: 'the internal caches, MSRs, MTRRs, and x87 FPU state are left unchanged')",
  ),
  otherMsrs: {
    powerUp: { set: 0 },
    reset: { set: 0 },
    init: "unchanged",
    note: "SDM: all other MSRs undefined after power-up/RESET (pinvm: 0), unchanged by INIT — so the CR-pinning MSRs survive INIT",
  } as StateRow<number>,
  tlb: same("flush", "INIT invalidates TLBs like RESET (SDM 9.1 text; KVM flushes on INIT)"),
} as const;

/** CR0 after INIT: CD and NW kept, ET set, everything else 0. */
export function initCr0(oldCr0: number): number {
  return (oldCr0 & 0x60000000) | 0x10;
}
