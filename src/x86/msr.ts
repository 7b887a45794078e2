/** Model-specific register indices (SDM Vol.4, Chapter 2 "Model-Specific Registers"). */

/** Architectural MSR indices used by pinvm. */
export const MSR = {
  IA32_TIME_STAMP_COUNTER: 0x10,
  IA32_PLATFORM_ID: 0x17,
  IA32_APIC_BASE: 0x1b,
  IA32_FEATURE_CONTROL: 0x3a,
  IA32_TSC_ADJUST: 0x3b,
  IA32_SPEC_CTRL: 0x48,
  IA32_BIOS_SIGN_ID: 0x8b,
  IA32_MTRRCAP: 0xfe,
  IA32_SYSENTER_CS: 0x174,
  IA32_SYSENTER_ESP: 0x175,
  IA32_SYSENTER_EIP: 0x176,
  IA32_MCG_CAP: 0x179,
  IA32_MCG_STATUS: 0x17a,
  IA32_MISC_ENABLE: 0x1a0,
  IA32_PAT: 0x277,
  IA32_MTRR_DEF_TYPE: 0x2ff,
  /** IA32_MTRR_PHYSBASE0; PHYSBASEn = 200H + 2n, PHYSMASKn = 201H + 2n (SDM Vol.3 11.11.2.3). */
  IA32_MTRR_PHYSBASE0: 0x200,
  IA32_MTRR_PHYSMASK0: 0x201,
  IA32_XSS: 0xda0,
  IA32_EFER: 0xc0000080,
  IA32_STAR: 0xc0000081,
  IA32_LSTAR: 0xc0000082,
  IA32_CSTAR: 0xc0000083,
  IA32_FMASK: 0xc0000084,
  IA32_FS_BASE: 0xc0000100,
  IA32_GS_BASE: 0xc0000101,
  IA32_KERNEL_GS_BASE: 0xc0000102,
  IA32_TSC_AUX: 0xc0000103,
} as const;

/** Power-up value of IA32_PAT (SDM Vol.3 11.12.4, Table 11-12). */
export const PAT_RESET_LO = 0x00070406;
/** High half of the power-up IA32_PAT value. */
export const PAT_RESET_HI = 0x00070406;

/** Number of variable-range MTRR pairs pinvm implements (IA32_MTRRCAP.VCNT). */
export const MTRR_VARIABLE_COUNT = 8;
