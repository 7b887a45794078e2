/**
 * Model-specific registers, the time-stamp counter, CPUID and the FS/GS-base instructions:
 * RDMSR/WRMSR (0F 32 / 0F 30), RDTSC (0F 31), CPUID (0F A2), RDFSBASE/RDGSBASE/WRFSBASE/
 * WRGSBASE (F3 0F AE /0-/3) (SDM Vol.2 "RDMSR", "WRMSR", "RDTSC", "CPUID",
 * "RDFSBASE/RDGSBASE", "WRFSBASE/WRGSBASE"; Vol.4 chapter 2 for the MSRs; Vol.3 2.2.1 EFER,
 * 10.8.5 IA-32e mode, 11.12 PAT, 11.11 MTRRs, 17.17 TSC).
 *
 * The CPU owns the MSRs listed in `CPU_MSRS`; every other index goes to
 * `cpu.hooks.rdmsr/wrmsr` (the hypervisor decides: APIC base, pinning MSRs, ...). EFER writes
 * are also offered to `hooks.controlWrite("efer", ...)`.
 *
 * CPUID answers with exactly what pinvm implements (see `cpuidNative`), then
 * `hooks.cpuid(leaf, subleaf, native)` may change it (the hypervisor adds its 4000_00xxH
 * leaves and the hypervisor-present bit). Features that depend on instructions other groups
 * provide (CMPXCHG8B, CMOV, POPCNT, LAHF/SAHF, CLFLUSH) are advertised only when their opcode
 * is registered in the opcode table, so CPUID follows the implementation.
 *
 * Choices: EFER.LMA is read-only (the written value of bit 10 is ignored). STAR and
 * SYSENTER_CS keep all 64 bits. Canonical checks (#GP(0)) apply to FS_BASE, GS_BASE,
 * KERNEL_GS_BASE, LSTAR, CSTAR, SYSENTER_ESP, SYSENTER_EIP. MISC_ENABLE has only bit 0
 * (fast strings) writable; other bits must be written unchanged. MTRRs: MTRRCAP reports no
 * variable ranges and no fixed ones (VCNT = 8, FIX = 0, WC = 0; read-only) and CPUID.MTRR = 1;
 * the ranges are kept for software to read back (pinvm has no caches for them to affect).
 */
import { CANON_HIGH, CANON_LOW, type Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, Imm, OPF_TERMINAL, OPCODES, Mandatory, type OpDef } from "../optable.js";
import { CpuFault } from "../fault.js";
import { CR4, EFER, XCR0 } from "../../x86/cr.js";
import { MSR, MTRR_VARIABLE_COUNT, PAT_RESET_HI, PAT_RESET_LO } from "../../x86/msr.js";
import { MAXPHYADDR } from "../../x86/paging.js";
import { SEG } from "../../x86/segment.js";
import type { CpuidResult } from "../hooks.js";

const TWO32 = 4294967296;

function gp0(): never {
  throw new CpuFault(13, 0);
}

function ud(): never {
  throw new CpuFault(6, -1);
}

/** XCR0 bits pinvm supports: x87 and SSE state (no AVX; SDM Vol.1 13.3). */
export const XCR0_SUPPORTED = XCR0.X87 | XCR0.SSE;
/** EFER bits that exist: SCE, LME, LMA (read-only), NXE (SDM Vol.4 Table 2-2). */
export const EFER_SUPPORTED = EFER.SCE | EFER.LME | EFER.LMA | EFER.NXE;
/** Processor signature (CPUID.1:EAX): family 6, model 15, stepping 1. */
export const CPUID_SIGNATURE = 0x000006f1;
/** Highest basic CPUID leaf. */
export const CPUID_MAX_BASIC = 0xd;
/** Highest extended CPUID leaf. */
export const CPUID_MAX_EXTENDED = 0x80000008;
/** Linear-address width reported in CPUID.80000008H:EAX[15:8]. */
export const LINEAR_ADDRESS_BITS = 48;
/** IA32_MISC_ENABLE power-up value: fast strings, BTS and PEBS unavailable (Vol.4 Table 2-2). */
export const MISC_ENABLE_RESET = 1 | (1 << 11) | (1 << 12);
/** IA32_MISC_ENABLE bits software may change. */
const MISC_ENABLE_WRITABLE = 1;

/** MSR indices the CPU implements itself (everything else goes to the hooks). */
export const CPU_MSRS: readonly number[] = [
  MSR.IA32_TIME_STAMP_COUNTER,
  MSR.IA32_MTRRCAP,
  MSR.IA32_SYSENTER_CS,
  MSR.IA32_SYSENTER_ESP,
  MSR.IA32_SYSENTER_EIP,
  MSR.IA32_MISC_ENABLE,
  MSR.IA32_PAT,
  MSR.IA32_MTRR_DEF_TYPE,
  MSR.IA32_XSS,
  MSR.IA32_EFER,
  MSR.IA32_STAR,
  MSR.IA32_LSTAR,
  MSR.IA32_CSTAR,
  MSR.IA32_FMASK,
  MSR.IA32_FS_BASE,
  MSR.IA32_GS_BASE,
  MSR.IA32_KERNEL_GS_BASE,
  MSR.IA32_TSC_AUX,
  ...Array.from({ length: 2 * MTRR_VARIABLE_COUNT }, (_, n) => MSR.IA32_MTRR_PHYSBASE0 + n),
];

/** True when the 64-bit value (lo, hi) is canonical for 48-bit linear addresses. */
function canonical(hi: number): boolean {
  const s = (hi | 0) >> 15;
  return s === 0 || s === -1;
}

/** A 64-bit (lo, hi) value as a signed number (exact for canonical addresses). */
function toNumber(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/** Split a signed number into (lo, hi) with hi in cpu.rhi. */
function split(cpu: Cpu, v: number): number {
  cpu.rhi = Math.floor(v / TWO32) >>> 0;
  return v >>> 0;
}

function stored(cpu: Cpu, index: number, lo = 0, hi = 0): number {
  const v = cpu.msrs.get(index);
  cpu.rhi = v === undefined ? hi : v[1] >>> 0;
  return v === undefined ? lo : v[0] >>> 0;
}

/** True when every byte of a PAT value holds a valid memory type (0, 1, 4, 5, 6, 7; Vol.3 11.12.2). */
function validPat(v: number): boolean {
  for (let n = 0; n < 4; n++) {
    const b = (v >>> (n * 8)) & 0xff;
    if (b > 7 || b === 2 || b === 3) return false;
  }
  return true;
}

/** A valid MTRR memory type (UC, WC, WT, WP, WB; Vol.3 Table 11-8). */
function validMtrrType(t: number): boolean {
  return t === 0 || t === 1 || t === 4 || t === 5 || t === 6;
}

/**
 * RDMSR semantics: the value of MSR `index` (low half; high half in cpu.rhi), or #GP(0) for
 * an MSR that neither the CPU nor the hypervisor implements.
 */
export function readMsr(cpu: Cpu, index: number): number {
  switch (index) {
    case MSR.IA32_TIME_STAMP_COUNTER:
      return cpu.readTsc();
    case MSR.IA32_MTRRCAP:
      cpu.rhi = 0;
      return MTRR_VARIABLE_COUNT; // VCNT; FIX, WC, SMRR = 0 (SDM Vol.3 11.11.1, Figure 11-5)
    case MSR.IA32_MISC_ENABLE:
      return stored(cpu, index, MISC_ENABLE_RESET);
    case MSR.IA32_PAT:
      return stored(cpu, index, PAT_RESET_LO, PAT_RESET_HI);
    case MSR.IA32_XSS:
      cpu.rhi = 0;
      return 0;
    case MSR.IA32_EFER:
      cpu.rhi = 0;
      return cpu.efer >>> 0;
    case MSR.IA32_FS_BASE:
      return split(cpu, cpu.segBase[SEG.FS]);
    case MSR.IA32_GS_BASE:
      return split(cpu, cpu.segBase[SEG.GS]);
    case MSR.IA32_KERNEL_GS_BASE:
      return split(cpu, cpu.kernelGsBase);
    case MSR.IA32_SYSENTER_CS:
    case MSR.IA32_SYSENTER_ESP:
    case MSR.IA32_SYSENTER_EIP:
    case MSR.IA32_MTRR_DEF_TYPE:
    case MSR.IA32_STAR:
    case MSR.IA32_LSTAR:
    case MSR.IA32_CSTAR:
    case MSR.IA32_FMASK:
    case MSR.IA32_TSC_AUX:
      return stored(cpu, index);
    default: {
      if (isVariableMtrr(index)) return stored(cpu, index);
      const r = cpu.hooks.rdmsr(index);
      if (r === "gp") gp0();
      cpu.rhi = r.hi >>> 0;
      return r.lo >>> 0;
    }
  }
}

/**
 * Write EFER (WRMSR C000_0080H; SDM Vol.3 2.2.1, 10.8.5): reserved bits → #GP(0); changing
 * LME while paging is enabled → #GP(0); LMA is read-only. Offered to
 * hooks.controlWrite("efer", ...). A change of NXE flushes the TLB (it caches execute rights).
 */
export function writeEfer(cpu: Cpu, lo: number, hi: number): void {
  if (hi !== 0 || lo & ~EFER_SUPPORTED) gp0();
  const old = cpu.efer >>> 0;
  const nv = ((lo & ~EFER.LMA) | (old & EFER.LMA)) >>> 0;
  if ((old ^ nv) & EFER.LME && cpu.paging) gp0();
  if (!cpu.hooks.controlWrite("efer", old, 0, nv, 0, "wrmsr")) gp0();
  cpu.efer = nv;
  if ((old ^ nv) & EFER.NXE) cpu.flushTlb(false);
  cpu.updateMode();
}

/** WRMSR semantics: write (lo, hi) to MSR `index`, or #GP(0) (SDM Vol.2 WRMSR). */
export function writeMsr(cpu: Cpu, index: number, lo: number, hi: number): void {
  lo >>>= 0;
  hi >>>= 0;
  switch (index) {
    case MSR.IA32_TIME_STAMP_COUNTER:
      // Writing the TSC sets the offset so that it now reads the written value (Vol.3 17.17).
      cpu.tscOffset = hi * TWO32 + lo - cpu.icount;
      return;
    case MSR.IA32_MTRRCAP:
      gp0(); // read-only
      return;
    case MSR.IA32_MISC_ENABLE: {
      const cur = stored(cpu, index, MISC_ENABLE_RESET);
      if ((cur ^ lo) & ~MISC_ENABLE_WRITABLE || hi !== cpu.rhi) gp0();
      cpu.msrs.set(index, [lo, hi]);
      return;
    }
    case MSR.IA32_PAT:
      if (!validPat(lo) || !validPat(hi)) gp0();
      cpu.msrs.set(index, [lo, hi]);
      return;
    case MSR.IA32_MTRR_DEF_TYPE:
      // Type (7:0) and E (11); FE (10) is reserved because MTRRCAP.FIX = 0.
      if (hi !== 0 || lo & ~0x8ff || !validMtrrType(lo & 0xff)) gp0();
      cpu.msrs.set(index, [lo, 0]);
      return;
    case MSR.IA32_XSS:
      if (lo !== 0 || hi !== 0) gp0(); // no supervisor state components
      return;
    case MSR.IA32_EFER:
      writeEfer(cpu, lo, hi);
      return;
    case MSR.IA32_FS_BASE:
    case MSR.IA32_GS_BASE:
      if (!canonical(hi)) gp0();
      cpu.segBase[index === MSR.IA32_FS_BASE ? SEG.FS : SEG.GS] = toNumber(lo, hi);
      return;
    case MSR.IA32_KERNEL_GS_BASE:
      if (!canonical(hi)) gp0();
      cpu.kernelGsBase = toNumber(lo, hi);
      return;
    case MSR.IA32_LSTAR:
    case MSR.IA32_CSTAR:
    case MSR.IA32_SYSENTER_ESP:
    case MSR.IA32_SYSENTER_EIP:
      if (!canonical(hi)) gp0();
      cpu.msrs.set(index, [lo, hi]);
      return;
    case MSR.IA32_FMASK:
    case MSR.IA32_TSC_AUX:
      if (hi !== 0) gp0(); // bits 63:32 reserved
      cpu.msrs.set(index, [lo, 0]);
      return;
    case MSR.IA32_SYSENTER_CS:
    case MSR.IA32_STAR:
      cpu.msrs.set(index, [lo, hi]);
      return;
    default:
      if (isVariableMtrr(index)) {
        writeVariableMtrr(cpu, index, lo, hi);
        return;
      }
      if (!cpu.hooks.wrmsr(index, lo, hi)) gp0();
  }
}

/** True for IA32_MTRR_PHYSBASEn / PHYSMASKn of an implemented pair. */
function isVariableMtrr(index: number): boolean {
  return index >= MSR.IA32_MTRR_PHYSBASE0 && index < MSR.IA32_MTRR_PHYSBASE0 + 2 * MTRR_VARIABLE_COUNT;
}

/**
 * WRMSR to a variable-range MTRR (SDM Vol.3 11.11.2.3, Figure 11-7): PHYSBASE holds a memory
 * type in bits 7:0 (a valid type) and the base in bits MAXPHYADDR-1:12; PHYSMASK holds V in
 * bit 11 and the mask in bits MAXPHYADDR-1:12. Every other bit is reserved: #GP(0).
 */
function writeVariableMtrr(cpu: Cpu, index: number, lo: number, hi: number): void {
  const isMask = (index - MSR.IA32_MTRR_PHYSBASE0) & 1;
  const hiReserved = MAXPHYADDR >= 64 ? 0 : ~((2 ** (MAXPHYADDR - 32) - 1) | 0);
  if (hi & hiReserved) gp0();
  if (isMask ? lo & 0x7ff : lo & 0xf00 || !validMtrrType(lo & 0xff)) gp0();
  cpu.msrs.set(index, [lo, hi]);
}

// RDMSR / WRMSR (0F 32 / 0F 30): CPL 0, ECX selects the MSR, EDX:EAX holds the value.
op(
  0x132,
  "rdmsr",
  (cpu) => {
    if (cpu.cpl !== 0) gp0();
    const lo = readMsr(cpu, cpu.lo[1] >>> 0);
    const hi = cpu.rhi;
    cpu.setReg(0, 4, lo);
    cpu.setReg(2, 4, hi);
  },
  false,
  Imm.None,
  0,
);
op(
  0x130,
  "wrmsr",
  (cpu) => {
    if (cpu.cpl !== 0) gp0();
    writeMsr(cpu, cpu.lo[1] >>> 0, cpu.lo[0], cpu.lo[2]);
  },
  false,
  Imm.None,
  OPF_TERMINAL,
);

// RDTSC (0F 31): #GP(0) when CR4.TSD = 1 and CPL > 0 (SDM Vol.2 RDTSC). Terminal so that the
// retired-instruction count the TSC derives from is current.
op(
  0x131,
  "rdtsc",
  (cpu) => {
    if (cpu.cr4 & CR4.TSD && cpu.cpl > 0) gp0();
    const lo = cpu.readTsc();
    const hi = cpu.rhi;
    cpu.setReg(0, 4, lo);
    cpu.setReg(2, 4, hi);
  },
  false,
  Imm.None,
  OPF_TERMINAL,
);

// ---------------------------------------------------------------- CPUID

/** True when the opcode table holds a handler for this opcode (and prefix / ModRM.reg). */
function implemented(opcode: number, prefix = -1, reg = -1): boolean {
  let d: OpDef | undefined = OPCODES[opcode];
  if (d === undefined) return false;
  if (prefix >= 0 && d.prefixed !== undefined) d = d.prefixed[prefix];
  if (d !== undefined && d.group !== undefined) d = reg >= 0 ? d.group[reg] : undefined;
  return d !== undefined && d.exec !== undefined;
}

function bit(cond: boolean, n: number): number {
  return cond ? (1 << n) >>> 0 : 0;
}

/** Four ASCII characters as a little-endian dword. */
function ascii4(s: string, at: number): number {
  let v = 0;
  for (let n = 0; n < 4; n++) v |= (at + n < s.length ? s.charCodeAt(at + n) : 0) << (8 * n);
  return v >>> 0;
}

const BRAND = "pinvm virtual CPU";

/**
 * The processor's own CPUID answer (SDM Vol.2 CPUID, Tables 3-8 .. 3-20), before the
 * hypervisor hook. Leaves above the maximum return the highest basic leaf, as Intel
 * processors do.
 */
export function cpuidNative(cpu: Cpu, leaf: number, subleaf: number): CpuidResult {
  leaf >>>= 0;
  subleaf >>>= 0;
  if ((leaf > CPUID_MAX_BASIC && leaf < 0x80000000) || leaf > CPUID_MAX_EXTENDED) leaf = CPUID_MAX_BASIC;
  const r: CpuidResult = { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  const clflush = implemented(0x1ae, Mandatory.None, 7);
  switch (leaf) {
    case 0:
      r.eax = CPUID_MAX_BASIC;
      r.ebx = ascii4("GenuineIntel", 0);
      r.edx = ascii4("GenuineIntel", 4);
      r.ecx = ascii4("GenuineIntel", 8);
      break;
    case 1:
      r.eax = CPUID_SIGNATURE;
      r.ebx = clflush ? 8 << 8 : 0; // CLFLUSH line size in 8-byte units; initial APIC ID 0
      r.edx =
        bit(implemented(0xd9), 0) | // FPU (x87, ops/x87.ts)
        bit(true, 2) | // DE
        bit(true, 3) | // PSE
        bit(true, 4) | // TSC
        bit(true, 5) | // MSR
        bit(true, 6) | // PAE
        bit(true, 7) | // MCE (CR4.MCE)
        bit(implemented(0x1c7, -1, 1), 8) | // CX8
        bit(true, 9) | // APIC (the hypervisor may clear it)
        bit(true, 12) | // MTRR (variable ranges only)
        bit(true, 11) | // SEP
        bit(true, 13) | // PGE
        bit(implemented(0x140), 15) | // CMOV
        bit(true, 16) | // PAT
        bit(true, 17) | // PSE-36 (4-MByte pages map physical bits 39:32, mmu.ts)
        bit(clflush, 19) | // CLFSH
        bit(implemented(0x177, Mandatory.None), 23) | // MMX (EMMS..., ops/mmx.ts)
        bit(implemented(0x1ae, Mandatory.None, 0), 24) | // FXSR (ops/xsave.ts)
        bit(implemented(0x158, Mandatory.None), 25) | // SSE (ops/sse-fp.ts)
        bit(implemented(0x158, Mandatory.PF2), 26); // SSE2
      r.ecx =
        bit(implemented(0x1d0, Mandatory.PF2), 0) | // SSE3 (ADDSUBPS...)
        bit(implemented(0x200, Mandatory.P66), 9) | // SSSE3 (PSHUFB..., ops/sse4.ts)
        bit(implemented(0x1c7, -1, 1), 13) | // CX16 (CMPXCHG16B shares 0F C7 /1 with CMPXCHG8B)
        bit(true, 17) | // PCID
        bit(implemented(0x217, Mandatory.P66), 19) | // SSE4.1 (PTEST...)
        bit(implemented(0x363, Mandatory.P66), 20) | // SSE4.2 (PCMPISTRI...)
        bit(implemented(0x1b8, Mandatory.PF3), 23) | // POPCNT
        bit(true, 26) | // XSAVE (XCR0, XGETBV/XSETBV)
        bit((cpu.cr4 & CR4.OSXSAVE) !== 0, 27); // OSXSAVE mirrors CR4
      r.ecx >>>= 0;
      r.edx >>>= 0;
      break;
    case 7:
      if (subleaf === 0) {
        r.ebx = bit(true, 0) | bit(true, 7) | bit(true, 20); // FSGSBASE, SMEP, SMAP
        r.ecx = bit(true, 2); // UMIP
      }
      break;
    case 0xd:
      if (subleaf === 0) {
        r.eax = XCR0_SUPPORTED;
        r.ebx = 576; // legacy region (512) + XSAVE header (64): x87 and SSE live in the legacy region
        r.ecx = 576;
      } else if (subleaf === 1) {
        // XSAVEOPT (0), XSAVEC (1), XSAVES/XRSTORS + IA32_XSS (3); compacted size for XCR0|XSS.
        r.eax =
          bit(implemented(0x1ae, Mandatory.None, 6), 0) |
          bit(implemented(0x1c7, -1, 4), 1) |
          bit(implemented(0x1c7, -1, 5), 3);
        r.ebx = 576;
      }
      break;
    case 0x80000000:
      r.eax = CPUID_MAX_EXTENDED;
      break;
    case 0x80000001:
      // LAHF/SAHF in 64-bit mode; ABM (LZCNT, bit 5). BMI1 (leaf 7) is not advertised: its VEX
      // instructions do not exist here — F3 0F BC still executes as TZCNT, as on BMI1 parts.
      r.ecx = (bit(implemented(0x9e) && implemented(0x9f), 0) | bit(implemented(0x1bd), 5)) >>> 0;
      r.edx = (bit(true, 11) | bit(true, 20) | bit(true, 26) | bit(true, 27) | bit(true, 29)) >>> 0; // SYSCALL NX 1GB RDTSCP LM
      break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const at = (leaf - 0x80000002) * 16;
      r.eax = ascii4(BRAND, at);
      r.ebx = ascii4(BRAND, at + 4);
      r.ecx = ascii4(BRAND, at + 8);
      r.edx = ascii4(BRAND, at + 12);
      break;
    }
    case 0x80000008:
      r.eax = (LINEAR_ADDRESS_BITS << 8) | MAXPHYADDR;
      break;
    default:
      // Leaves 2-6, 8-0xC, 8000_0005H-8000_0007H: nothing to report.
      break;
  }
  return r;
}

// CPUID (0F A2): EAX = leaf, ECX = subleaf; 64-bit mode clears the upper halves.
op(
  0x1a2,
  "cpuid",
  (cpu) => {
    const leaf = cpu.lo[0] >>> 0;
    const subleaf = cpu.lo[1] >>> 0;
    const r = cpu.hooks.cpuid(leaf, subleaf, cpuidNative(cpu, leaf, subleaf));
    cpu.setReg(0, 4, r.eax >>> 0);
    cpu.setReg(3, 4, r.ebx >>> 0);
    cpu.setReg(1, 4, r.ecx >>> 0);
    cpu.setReg(2, 4, r.edx >>> 0);
  },
  false,
  Imm.None,
  0,
);

// ---------------------------------------------------------------- FS/GS base

/**
 * RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (F3 0F AE /0../3, register operand): 64-bit mode only
 * and CR4.FSGSBASE = 1, else #UD; 32-bit operand size zero-extends, 64-bit writes must be
 * canonical (#GP(0)).
 */
function fsgsbase(which: number): (cpu: Cpu, i: Instr) => void {
  const seg = which & 1 ? SEG.GS : SEG.FS;
  const write = which >= 2;
  return (cpu, i) => {
    if (!cpu.long64 || i.mod !== 3 || (cpu.cr4 & CR4.FSGSBASE) === 0) ud();
    const wide = (i.rex & 8) !== 0;
    if (!write) {
      const base = cpu.segBase[seg];
      if (wide) cpu.setReg(i.rm, 8, base >>> 0, Math.floor(base / TWO32) | 0);
      else cpu.setReg(i.rm, 4, base >>> 0);
      return;
    }
    const lo = cpu.lo[i.rm] >>> 0;
    if (!wide) {
      cpu.segBase[seg] = lo;
      return;
    }
    const v = toNumber(lo, cpu.hi[i.rm]);
    if (v < CANON_LOW || v >= CANON_HIGH) gp0();
    cpu.segBase[seg] = v;
  };
}

/**
 * Install the F3-prefixed members of group 0F AE. The entry at 0F AE becomes a mandatory-
 * prefix entry; whatever was registered without a prefix (an FXSAVE/LFENCE... group) is kept
 * for the no-prefix and 66 forms.
 */
function installFsGsBase(): void {
  const existing = OPCODES[0x1ae];
  let entry: OpDef;
  if (existing !== undefined && existing.prefixed !== undefined) {
    entry = existing;
  } else {
    entry = {
      modrm: true,
      imm: Imm.None,
      flags: 0,
      prefixed: [existing, existing, undefined, undefined],
      name: "pfx1ae",
    };
    OPCODES[0x1ae] = entry;
  }
  const g: OpDef = {
    modrm: true,
    imm: Imm.None,
    flags: 0,
    group: new Array(8).fill(undefined),
    name: "grp-f3-0fae",
  };
  const names = ["rdfsbase", "rdgsbase", "wrfsbase", "wrgsbase"];
  for (let n = 0; n < 4; n++)
    g.group![n] = { exec: fsgsbase(n), modrm: true, imm: Imm.None, flags: 0, name: names[n] };
  entry.prefixed![Mandatory.PF3] = g;
}
installFsGsBase();
