/**
 * Control and debug registers: MOV to/from CR0, CR2, CR3, CR4, CR8 (0F 20 / 0F 22), MOV
 * to/from DR0-DR7 (0F 21 / 0F 23), CLTS (0F 06), LMSW (0F 01 /6) and SMSW (0F 01 /4)
 * (SDM Vol.2 "MOV—Move to/from Control Registers", "MOV—Move to/from Debug Registers",
 * "CLTS", "LMSW", "SMSW"; Vol.3 2.5 "Control Registers", 2.8.x, 4.10.4.1, 10.8.5, 18.2).
 *
 * Every CR0/CR3/CR4 write passes the architectural checks first, then is offered to
 * `cpu.hooks.controlWrite` (unless cpu.cr0WriteExitMask / cr4WriteExitMask say the hypervisor
 * does not watch the bits it changes) with the instruction that made it ("mov", "lmsw", "clts"); a veto
 * becomes #GP(0) with all state unchanged. Only then are
 * the registers committed, EFER.LMA updated (Vol.3 10.8.5), the TLB flushed as Vol.3
 * 4.10.4.1 requires (plus the flushes our permission-caching TLB needs) and the mode
 * recomputed.
 *
 * Choices where the SDM leaves room:
 * - CR0 bits 31:0 that are reserved are ignored on write (read back as 0) and ET is
 *   hard-wired to 1 (Vol.3 2.5: ET "reserved and hardcoded to 1" on P6 and later; the MOV CR
 *   exception lists name no #GP for CR0[31:0] reserved bits). Bits 63:32 of CR0 → #GP(0).
 * - The ModRM.mod field of MOV CR/DR is ignored (Vol.2 MOV CR: "the 2 bits in the mod field
 *   are ignored"): a mod≠3 encoding is executed as the register form and its length is
 *   corrected (the decoder consumed displacement/SIB bytes that the processor does not).
 * - Invalid register numbers (#UD) are checked before the CPL (#GP): they are decode-class
 *   faults with higher priority (Vol.3 6.9, Table 6-2).
 * - MOV to CR3 always flushes the non-global TLB entries, even with CR4.PCIDE=1 and bit 63
 *   set: pinvm's TLB is not PCID-tagged, so entries of the old address space must go
 *   (flushing more than required is always permitted, Vol.3 4.10.4.3).
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, group, Imm, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { CR0, CR0_DEFINED, CR4, EFER } from "../../x86/cr.js";
import { SEG, ATTR } from "../../x86/segment.js";
import { MAXPHYADDR } from "../../x86/paging.js";
import type { ControlWriteSource } from "../hooks.js";

/**
 * CR4 bits pinvm supports; every other bit is reserved and setting it raises #GP(0)
 * (Vol.3 2.5; Vol.2 MOV CR). Not supported: VME, PVI, LA57, VMXE, SMXE, PKE (and later bits).
 * CPUID (ops/msr-cpuid.ts) advertises exactly the matching features (DE, PSE, PAE, MCE, PGE,
 * PCID, XSAVE, FSGSBASE, SMEP, SMAP, UMIP).
 */
export const CR4_SUPPORTED =
  CR4.TSD |
  CR4.DE |
  CR4.PSE |
  CR4.PAE |
  CR4.MCE |
  CR4.PGE |
  CR4.PCE |
  CR4.OSFXSR |
  CR4.OSXMMEXCPT |
  CR4.UMIP |
  CR4.FSGSBASE |
  CR4.PCIDE |
  CR4.OSXSAVE |
  CR4.SMEP |
  CR4.SMAP;

/** DR6 bits that read as 1 on a processor without RTM and bus-lock detection (Vol.3 18.2.3). */
export const DR6_FIXED1 = 0xffff0ff0 | 0;
/** DR6 bits software can write: B0-B3, BD, BS, BT (Vol.3 18.2.3). */
export const DR6_WRITABLE = 0xe00f;
/** DR7 bit 10 reads as 1 (Vol.3 18.2.4). */
export const DR7_FIXED1 = 0x400;
/** DR7 bits software can write: L0-G3, LE, GE, GD, R/W and LEN fields (bits 11, 12, 14, 15 are 0 without RTM). */
export const DR7_WRITABLE = 0xffff23ff | 0;

const TWO32 = 4294967296;
/** CR4 bits whose change flushes the whole TLB (global entries included). */
const CR4_FLUSH_ALL = CR4.PGE | CR4.PAE | CR4.PSE | CR4.SMEP | CR4.SMAP;
/** CR4 bits whose change alters the paging-structure format (and so linear→physical mapping). */
const CR4_MAPPING = CR4.PAE | CR4.PSE | CR4.PGE;
/** CR4 bits whose change makes MOV CR4 reload the PDPTEs in PAE paging (Vol.3 4.4.1). */
const CR4_PDPTE_RELOAD = CR4.PAE | CR4.PGE | CR4.PSE | CR4.SMEP;

function gp0(): never {
  throw new CpuFault(13, 0);
}

function ud(): never {
  throw new CpuFault(6, -1);
}

/**
 * Check the four PDPTEs that a control-register load makes the processor load in PAE paging
 * (Vol.3 4.4.1): a present PDPTE with a reserved bit set (bits 2:1, 8:5, 63:MAXPHYADDR)
 * raises #GP(0) (Vol.2 MOV CR, "If any of the reserved bits are set in the page-directory
 * pointers table").
 */
export function checkPdptes(cpu: Cpu, cr3: number): void {
  const base = (cr3 & 0xffffffe0) >>> 0;
  for (let n = 0; n < 4; n++) {
    const lo = cpu.mem.read32(base + n * 8);
    const hi = cpu.mem.read32(base + n * 8 + 4);
    if (lo & 1 && (lo & 0x1e6 || hi >>> (MAXPHYADDR - 32))) gp0();
  }
}

/** True when the given CR0/CR4/EFER values select PAE paging (Vol.3 4.1.1, Table 4-1). */
function paePaging(cr0: number, cr4: number, efer: number): boolean {
  return (cr0 & CR0.PG) !== 0 && (cr0 & CR0.PE) !== 0 && (cr4 & CR4.PAE) !== 0 && (efer & EFER.LMA) === 0;
}

/**
 * Write CR0 (MOV CR0, LMSW, CLTS) with all the checks of Vol.2 MOV CR and Vol.3 2.5 / 10.8.5:
 * bits 63:32 nonzero, PG without PE, NW without CD, clearing PG in 64-bit mode or with
 * CR4.PCIDE=1, enabling IA-32e mode without CR4.PAE or with CS.L=1, and bad PDPTEs → #GP(0);
 * then the hypervisor hook; then commit with the EFER.LMA transition, TLB flush (PG/WP/PE
 * changes flush everything: Vol.3 4.10.4.1, and the TLB caches WP-derived permissions) and
 * mode update. `source` is the instruction, for the hook.
 */
export function writeCr0(cpu: Cpu, value: number, valueHi = 0, source: ControlWriteSource = "mov"): void {
  if (valueHi !== 0) gp0();
  const old = cpu.cr0 >>> 0;
  const nv = ((value & CR0_DEFINED) | CR0.ET) >>> 0;
  if (nv & CR0.PG && !(nv & CR0.PE)) gp0();
  if (nv & CR0.NW && !(nv & CR0.CD)) gp0();
  let efer = cpu.efer;
  const pgSet = (old & CR0.PG) === 0 && (nv & CR0.PG) !== 0;
  const pgClear = (old & CR0.PG) !== 0 && (nv & CR0.PG) === 0;
  if (pgClear) {
    if (cpu.long64) gp0();
    if (cpu.cr4 & CR4.PCIDE) gp0();
    efer &= ~EFER.LMA;
  }
  if (pgSet && efer & EFER.LME) {
    // Activating IA-32e mode (Vol.3 10.8.5): PAE must be on and CS.L must be 0.
    if ((cpu.cr4 & CR4.PAE) === 0) gp0();
    if (cpu.segAttr[SEG.CS] & ATTR.L) gp0();
    efer |= EFER.LMA;
  }
  if ((old ^ nv) & (CR0.PG | CR0.CD | CR0.NW) && paePaging(nv, cpu.cr4, efer)) checkPdptes(cpu, cpu.cr3);
  const watched0 = cpu.cr0WriteExitMask;
  if (
    (watched0 === -1 || ((old ^ nv) & watched0) !== 0) &&
    !cpu.hooks.controlWrite("cr0", old, 0, nv, 0, source)
  ) {
    gp0();
  }
  cpu.cr0 = nv;
  cpu.efer = efer;
  const changed = old ^ nv;
  if (changed & (CR0.PG | CR0.WP | CR0.PE)) cpu.flushTlb(false);
  if (changed & (CR0.PG | CR0.PE)) cpu.flushCodeCache();
  cpu.updateMode();
}

/**
 * Write CR3 (Vol.2 MOV CR; Vol.3 4.10.4.1). In IA-32e mode the value is 64 bits: with
 * CR4.PCIDE=1 bit 63 is the "no flush" hint and is not stored; bits 63:MAXPHYADDR are
 * reserved (#GP(0)). In PAE paging the PDPTEs are checked. Non-global TLB entries are
 * flushed (see the module comment for PCIDE).
 */
export function writeCr3(cpu: Cpu, lo: number, hi = 0): void {
  let h = hi >>> 0;
  if (cpu.efer & EFER.LMA) {
    if (cpu.cr4 & CR4.PCIDE) h &= 0x7fffffff;
    if (h >>> (MAXPHYADDR - 32)) gp0();
  } else {
    h = 0;
  }
  const l = lo >>> 0;
  if (paePaging(cpu.cr0, cpu.cr4, cpu.efer)) checkPdptes(cpu, l);
  if (!cpu.hooks.controlWrite("cr3", cpu.cr3 >>> 0, cpu.cr3Hi >>> 0, l, h, "mov")) gp0();
  cpu.cr3 = l;
  cpu.cr3Hi = h;
  cpu.flushTlb(true);
}

/**
 * Write CR4 (Vol.2 MOV CR; Vol.3 2.5, 4.10.1, 4.10.4.1): bits 63:32 or unsupported bits,
 * clearing PAE while IA-32e mode is active, and setting PCIDE outside IA-32e mode or with
 * CR3[11:0]≠0 raise #GP(0); PDPTEs are checked when PAE paging results. Changes of
 * PGE/PAE/PSE/SMEP/SMAP and PCIDE 1→0 flush the whole TLB.
 */
export function writeCr4(cpu: Cpu, value: number, valueHi = 0): void {
  if (valueHi !== 0) gp0();
  const nv = value >>> 0;
  const old = cpu.cr4 >>> 0;
  if (nv & ~CR4_SUPPORTED) gp0();
  const lma = (cpu.efer & EFER.LMA) !== 0;
  if (lma && !(nv & CR4.PAE)) gp0();
  if (nv & CR4.PCIDE && !(old & CR4.PCIDE) && (!lma || (cpu.cr3 & 0xfff) !== 0)) gp0();
  const changed = old ^ nv;
  if (changed & CR4_PDPTE_RELOAD && paePaging(cpu.cr0, nv, cpu.efer)) checkPdptes(cpu, cpu.cr3);
  const watched4 = cpu.cr4WriteExitMask;
  if (
    (watched4 === -1 || ((old ^ nv) & watched4) !== 0) &&
    !cpu.hooks.controlWrite("cr4", old, 0, nv, 0, "mov")
  ) {
    gp0();
  }
  cpu.cr4 = nv;
  if (changed & CR4_FLUSH_ALL || (old & CR4.PCIDE && !(nv & CR4.PCIDE))) cpu.flushTlb(false);
  if (changed & CR4_MAPPING && cpu.paging) cpu.flushCodeCache();
}

/** The general register named by ModRM.rm for MOV CR/DR, whatever ModRM.mod says. */
function rmRegister(i: Instr): number {
  return (i.rm & 7) | ((i.rex & 1) << 3);
}

/**
 * MOV CR/DR ignore ModRM.mod; when mod≠3 the decoder consumed SIB/displacement bytes the
 * processor does not have. Count them (SDM Vol.2 Tables 2-1..2-3) so RIP can be corrected.
 */
function phantomBytes(i: Instr): number {
  if (i.mod === 3) return 0;
  const rm = i.rm & 7;
  if (i.asize === 2) {
    if (i.mod === 0) return rm === 6 ? 2 : 0;
    return i.mod === 1 ? 1 : 2;
  }
  let n = 0;
  if (rm === 4) {
    n = 1;
    if (i.mod === 0 && i.base === -1) n += 4;
  } else if (i.mod === 0 && rm === 5) {
    n = 4;
  }
  if (i.mod === 1) n += 1;
  else if (i.mod === 2) n += 4;
  return n;
}

/** Finish a MOV CR/DR: the next instruction starts after the real (register-form) length. */
function finishRegForm(cpu: Cpu, i: Instr): void {
  const extra = phantomBytes(i);
  if (extra !== 0) cpu.nextRip = cpu.rip + i.len - extra;
}

/** #UD for CR1, CR5-CR7, CR9-CR15 (REX.R selects CR8 only; Vol.2 MOV CR #UD list). */
function checkCrNumber(n: number): void {
  if (n !== 0 && n !== 2 && n !== 3 && n !== 4 && n !== 8) ud();
}

/** Read control register `n` as (lo, hi in cpu.rhi). */
export function readCr(cpu: Cpu, n: number): number {
  switch (n) {
    case 0:
      cpu.rhi = 0;
      return cpu.cr0 >>> 0;
    case 2:
      cpu.rhi = Math.floor(cpu.cr2 / TWO32) >>> 0;
      return cpu.cr2 >>> 0;
    case 3:
      cpu.rhi = cpu.cr3Hi >>> 0;
      return cpu.cr3 >>> 0;
    case 4:
      cpu.rhi = 0;
      return cpu.cr4 >>> 0;
    default:
      cpu.rhi = 0;
      return cpu.cr8 & 0xf;
  }
}

/** MOV r32/r64, CRn (0F 20 /r): CPL 0; 64-bit operand in 64-bit mode, else 32-bit. */
function movFromCr(cpu: Cpu, i: Instr): void {
  checkCrNumber(i.reg);
  if (cpu.cpl !== 0) gp0();
  const lo = readCr(cpu, i.reg);
  if (cpu.long64) cpu.setReg(rmRegister(i), 8, lo, cpu.rhi);
  else cpu.setReg(rmRegister(i), 4, lo);
  finishRegForm(cpu, i);
}

/** MOV CRn, r32/r64 (0F 22 /r). */
function movToCr(cpu: Cpu, i: Instr): void {
  checkCrNumber(i.reg);
  if (cpu.cpl !== 0) gp0();
  const r = rmRegister(i);
  const lo = cpu.lo[r] >>> 0;
  const hi = cpu.long64 ? cpu.hi[r] >>> 0 : 0;
  switch (i.reg) {
    case 0:
      writeCr0(cpu, lo, hi);
      break;
    case 2:
      // CR2 holds any value; pinvm keeps it as a number (exact for |value| < 2^53).
      cpu.cr2 = cpu.long64 ? (hi | 0) * TWO32 + lo : lo;
      break;
    case 3:
      writeCr3(cpu, lo, hi);
      break;
    case 4:
      writeCr4(cpu, lo, hi);
      break;
    default:
      // CR8: TPR[7:4]; bits 63:4 reserved (Vol.3 10.8.6.1, Vol.2 MOV CR 64-bit #GP list).
      if (hi !== 0 || lo & ~0xf) gp0();
      cpu.cr8 = lo;
  }
  finishRegForm(cpu, i);
}

/** Map a debug-register number to DR0-3/6/7: DR4/DR5 alias DR6/DR7 unless CR4.DE (#UD; Vol.3 18.2.2). */
function drNumber(cpu: Cpu, n: number): number {
  if (n > 7) ud();
  if (n === 4 || n === 5) {
    if (cpu.cr4 & CR4.DE) ud();
    return n + 2;
  }
  return n;
}

/** Read debug register n (0-3, 6, 7) with the fixed bits applied; high half in cpu.rhi. */
export function readDr(cpu: Cpu, n: number): number {
  if (n === 6) {
    cpu.rhi = 0;
    return ((cpu.drLo[6] & DR6_WRITABLE) | DR6_FIXED1) >>> 0;
  }
  if (n === 7) {
    cpu.rhi = 0;
    return ((cpu.drLo[7] & DR7_WRITABLE) | DR7_FIXED1) >>> 0;
  }
  cpu.rhi = cpu.drHi[n] >>> 0;
  return cpu.drLo[n] >>> 0;
}

/** MOV r, DRn (0F 21 /r; Vol.2 "MOV—Move to/from Debug Registers"). DR7.GD is not modelled. */
function movFromDr(cpu: Cpu, i: Instr): void {
  const n = drNumber(cpu, i.reg);
  if (cpu.cpl !== 0) gp0();
  const lo = readDr(cpu, n);
  if (cpu.long64) cpu.setReg(rmRegister(i), 8, lo, cpu.rhi);
  else cpu.setReg(rmRegister(i), 4, lo);
  finishRegForm(cpu, i);
}

/** MOV DRn, r (0F 23 /r): in 64-bit mode bits 63:32 of DR6/DR7 must be 0 (#GP(0)). */
function movToDr(cpu: Cpu, i: Instr): void {
  const n = drNumber(cpu, i.reg);
  if (cpu.cpl !== 0) gp0();
  const r = rmRegister(i);
  const lo = cpu.lo[r];
  const hi = cpu.long64 ? cpu.hi[r] : 0;
  if (n >= 6) {
    if (hi !== 0) gp0();
    cpu.drLo[n] = n === 6 ? (lo & DR6_WRITABLE) | DR6_FIXED1 : (lo & DR7_WRITABLE) | DR7_FIXED1;
    cpu.drHi[n] = 0;
  } else {
    cpu.drLo[n] = lo;
    cpu.drHi[n] = hi;
  }
  finishRegForm(cpu, i);
}

/**
 * UMIP (Vol.3 2.5 CR4.UMIP): SGDT, SIDT, SLDT, SMSW and STR raise #GP(0) when CPL > 0 and
 * CR4.UMIP = 1.
 */
export function checkUmip(cpu: Cpu): void {
  if (cpu.cr4 & CR4.UMIP && cpu.cpl > 0) gp0();
}

op(0x120, "mov", movFromCr, true, Imm.None, OPF_TERMINAL);
op(0x122, "mov", movToCr, true, Imm.None, OPF_TERMINAL);
op(0x121, "mov", movFromDr, true, Imm.None, OPF_TERMINAL);
op(0x123, "mov", movToDr, true, Imm.None, OPF_TERMINAL);

// CLTS (0F 06): clears CR0.TS; CPL 0 (Vol.2 CLTS). A CR0 write, so it is offered to the hook.
op(
  0x106,
  "clts",
  (cpu) => {
    if (cpu.cpl !== 0) gp0();
    writeCr0(cpu, cpu.cr0 & ~CR0.TS, 0, "clts");
  },
  false,
  Imm.None,
  OPF_TERMINAL,
);

// SMSW (0F 01 /4): CR0[15:0] to memory (16 bits); a register receives all of CR0 (the SDM
// leaves bits above 15 undefined for 32/64-bit registers; this is what processors store).
group(
  0x101,
  4,
  "smsw",
  (cpu, i) => {
    checkUmip(cpu);
    const cr0 = cpu.cr0 >>> 0;
    if (i.mod !== 3) cpu.write(i.seg, cpu.ea(i), 2, cr0 & 0xffff);
    else if (i.osize === 2) cpu.setReg(i.rm, 2, cr0);
    else cpu.setReg(i.rm, i.osize, cr0, 0);
  },
  Imm.None,
  OPF_TERMINAL,
);

// LMSW (0F 01 /6): loads CR0[3:0] (PE MP EM TS) from a 16-bit operand; can set PE but never
// clear it (Vol.2 LMSW).
group(
  0x101,
  6,
  "lmsw",
  (cpu, i) => {
    if (cpu.cpl !== 0) gp0();
    const src = cpu.readRM(i, 2);
    const old = cpu.cr0 >>> 0;
    writeCr0(cpu, (old & ~0xf) | (src & 0xf) | (old & CR0.PE), 0, "lmsw");
  },
  Imm.None,
  OPF_TERMINAL,
);
