/**
 * RSM — Resume from System Management Mode (0F AA; SDM Vol.2 "RSM", Vol.3 34.13 "Resuming
 * from SMM"; AMD APM Vol.2 10.3.3): #UD outside SMM; otherwise the whole processor state is
 * reloaded from the SMRAM state-save area (smm.ts), which the SMI handler may have edited,
 * including SMBASE (34.11 "SMBASE Relocation": the new value is used by the next SMI).
 *
 * Order: read the area; offer CR0/CR4 to `hooks.rsm` (which may replace them, or abandon the
 * RSM with "exit" — nothing changes, the processor stays in SMM on this instruction); check
 * the state; commit it, or enter shutdown when it is invalid (SDM Vol.2 RSM: "The processor
 * then enters shutdown if ... any reserved bit of CR4 is set to 1 ... any illegal combination
 * of bits in CR0"). Control-register writes made by RSM are not offered to controlWrite.
 *
 * Checked (each an invalid state → shutdown):
 * - CR0[63:32] ≠ 0; CR0.PG=1 with PE=0; CR0.NW=1 with CD=0 (Vol.2 RSM);
 * - CR4[63:32] ≠ 0 or a CR4 bit pinvm does not support (Vol.2 RSM: reserved CR4 bits);
 * - EFER reserved bits; EFER.LME=1 and CR0.PG=1 without CR4.PAE, or with CS.L=1 and CS.D=1;
 *   CR4.PCIDE=1 outside IA-32e mode (the MOV CR rules of Vol.3 10.8.5 and 4.10.1 that the
 *   APM 10.3.3 list of RSM checks names);
 * - CR3 bits at or above MAXPHYADDR (reserved, Vol.3 4.5);
 * - choices: a non-canonical RIP when returning to 64-bit mode, and a non-canonical FS, GS,
 *   LDTR, TR, GDTR or IDTR base (pinvm keeps these as exact numbers).
 * EFER.LMA is recomputed as LME AND PG; reserved CR0 bits 31:0 are ignored as MOV CR0
 * ignores them (control-regs.ts); CPL is SS.DPL (APM 10.3.3: CPL comes from SS attributes).
 * NMI blocking is what it was when the SMI was taken (Vol.3 34.8).
 */
import type { Cpu } from "../cpu.js";
import { CANON_HIGH, CANON_LOW } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, Imm, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { InstructionExit } from "../hooks.js";
import { SaveArea, SMRAM, gprOffset, segmentRecord } from "../smm.js";
import { CR0, CR0_DEFINED, CR4, EFER } from "../../x86/cr.js";
import { ATTR, SEG } from "../../x86/segment.js";
import { MAXPHYADDR } from "../../x86/paging.js";
import { FLAGS } from "../../x86/eflags.js";
import { CR4_SUPPORTED, DR6_FIXED1, DR6_WRITABLE, DR7_FIXED1, DR7_WRITABLE } from "./control-regs.js";
import { EFER_SUPPORTED } from "./msr-cpuid.js";

const TWO32 = 4294967296;

/** A qword of the save area as a signed number when it is canonical, else null. */
function canonicalAt(a: SaveArea, off: number): number | null {
  const lo = a.get64(off);
  const v = (a.hi | 0) * TWO32 + lo;
  return v >= CANON_LOW && v < CANON_HIGH ? v : null;
}

/** The state RSM loads, decoded and checked; or the reason it is invalid. */
interface RestoredState {
  cr0: number;
  cr3: number;
  cr3Hi: number;
  cr4: number;
  efer: number;
  rip: number;
  rflags: number;
  sel: number[];
  base: number[];
  limit: number[];
  attr: number[];
  gdtr: [number, number];
  idtr: [number, number];
  dr6: number;
  dr7: number;
  smbase: number;
  autoHalt: boolean;
}

/** Decode and check the save area with CR0/CR4 as decided; a string names what is invalid. */
function decode(
  a: SaveArea,
  cr0In: number,
  cr0Hi: number,
  cr4: number,
  cr4Hi: number,
): RestoredState | string {
  if (cr0Hi !== 0) return "CR0[63:32] not zero";
  const cr0 = ((cr0In & CR0_DEFINED) | CR0.ET) >>> 0;
  if (cr0 & CR0.PG && !(cr0 & CR0.PE)) return "CR0.PG=1 with CR0.PE=0";
  if (cr0 & CR0.NW && !(cr0 & CR0.CD)) return "CR0.NW=1 with CR0.CD=0";
  if (cr4Hi !== 0 || cr4 & ~CR4_SUPPORTED) return "reserved CR4 bit set";
  const eferIn = a.get64(SMRAM.EFER);
  if (a.hi !== 0 || eferIn & ~EFER_SUPPORTED) return "reserved EFER bit set";
  const paging = (cr0 & CR0.PG) !== 0;
  const lma = paging && (eferIn & EFER.LME) !== 0;
  const efer = ((eferIn & ~EFER.LMA) | (lma ? EFER.LMA : 0)) >>> 0;
  const sel: number[] = [];
  const base: number[] = [];
  const limit: number[] = [];
  const attr: number[] = [];
  for (let s = 0; s <= SEG.TR; s++) {
    const r = segmentRecord(s);
    sel.push(a.get16(r));
    attr.push(a.get16(r + 2) & 0xf0ff);
    limit.push(a.get32(r + 4));
    if (s === SEG.FS || s === SEG.GS || s === SEG.LDTR || s === SEG.TR) {
      const b = canonicalAt(a, r + 8);
      if (b === null) return `non-canonical segment base (${["FS", "GS", "LDTR", "TR"][s - SEG.FS]})`;
      base.push(b);
    } else {
      base.push(a.get64(r + 8)); // 32-bit bases: the high half is ignored
    }
  }
  const long64 = lma && (attr[SEG.CS] & ATTR.L) !== 0;
  if (lma) {
    if ((cr4 & CR4.PAE) === 0) return "IA-32e mode without CR4.PAE";
    if (long64 && attr[SEG.CS] & ATTR.DB) return "CS.L=1 with CS.D=1";
  }
  if (cr4 & CR4.PCIDE && !lma) return "CR4.PCIDE=1 outside IA-32e mode";
  const cr3 = a.get64(SMRAM.CR3);
  const cr3Hi = lma && cr4 & CR4.PCIDE ? a.hi & 0x7fffffff : a.hi;
  if (cr3Hi >>> (MAXPHYADDR - 32)) return "CR3 bits above MAXPHYADDR set";
  const gdtrBase = canonicalAt(a, SMRAM.GDTR + 8);
  const idtrBase = canonicalAt(a, SMRAM.IDTR + 8);
  if (gdtrBase === null || idtrBase === null) return "non-canonical GDTR/IDTR base";
  let rip: number;
  if (long64) {
    const r = canonicalAt(a, SMRAM.RIP);
    if (r === null) return "non-canonical RIP";
    rip = r;
  } else {
    rip = a.get64(SMRAM.RIP);
  }
  return {
    cr0,
    cr3,
    cr3Hi: lma ? cr3Hi : 0,
    cr4,
    efer,
    rip,
    rflags: a.get64(SMRAM.RFLAGS),
    sel,
    base,
    limit,
    attr,
    gdtr: [gdtrBase, a.get32(SMRAM.GDTR + 4) & 0xffff],
    idtr: [idtrBase, a.get32(SMRAM.IDTR + 4) & 0xffff],
    dr6: (a.get64(SMRAM.DR6) & DR6_WRITABLE) | DR6_FIXED1,
    dr7: (a.get64(SMRAM.DR7) & DR7_WRITABLE) | DR7_FIXED1,
    smbase: a.get32(SMRAM.SMBASE),
    autoHalt: (a.get8(SMRAM.AUTO_HALT_RESTART) & 1) !== 0,
  };
}

/** Load a decoded state and leave SMM. */
function commit(cpu: Cpu, a: SaveArea, st: RestoredState): void {
  for (let n = 0; n < 16; n++) {
    cpu.lo[n] = a.get64(gprOffset(n));
    cpu.hi[n] = a.hi;
  }
  for (let s = 0; s <= SEG.TR; s++) {
    cpu.segSel[s] = st.sel[s];
    cpu.segBase[s] = st.base[s];
    cpu.segLimit[s] = st.limit[s];
    cpu.segAttr[s] = st.attr[s];
  }
  [cpu.gdtrBase, cpu.gdtrLimit] = st.gdtr;
  [cpu.idtrBase, cpu.idtrLimit] = st.idtr;
  cpu.cr0 = st.cr0 | 0;
  cpu.cr3 = st.cr3;
  cpu.cr3Hi = st.cr3Hi;
  cpu.cr4 = st.cr4;
  cpu.efer = st.efer;
  cpu.drLo[6] = st.dr6;
  cpu.drHi[6] = 0;
  cpu.drLo[7] = st.dr7;
  cpu.drHi[7] = 0;
  cpu.smbase = st.smbase;
  cpu.inSmm = false;
  cpu.nmiBlocked = cpu.nmiBlockedAtSmi;
  cpu.nmiBlockedAtSmi = false;
  cpu.setEflags(st.rflags | FLAGS.FIXED1);
  cpu.updateMode();
  if (cpu.protectedMode && !cpu.v86) {
    cpu.cpl = (st.attr[SEG.SS] >> ATTR.DPL_SHIFT) & 3;
    cpu.updateAccessMode();
  }
  cpu.nextRip = st.rip;
  cpu.flushTlb(false);
  cpu.flushCodeCache();
  if (st.autoHalt) {
    cpu.halted = true;
    cpu.hooks.halt();
  }
}

/** RSM (0F AA). */
export function rsm(cpu: Cpu, _i: Instr): void {
  if (!cpu.inSmm) throw new CpuFault(6, -1);
  const a = SaveArea.read(cpu);
  let cr0 = a.get64(SMRAM.CR0);
  let cr0Hi = a.hi;
  let cr4 = a.get64(SMRAM.CR4);
  let cr4Hi = a.hi;
  const decision = cpu.hooks.rsm?.(cr0, cr4) ?? "continue";
  if (decision === "exit") throw new InstructionExit("rsm");
  if (decision !== "continue") {
    if (typeof decision !== "object" || decision === null || !isU32(decision.cr0) || !isU32(decision.cr4)) {
      throw new TypeError(
        'hooks.rsm must return "continue", "exit" or { cr0, cr4 } with unsigned 32-bit values',
      );
    }
    cr0 = decision.cr0;
    cr4 = decision.cr4;
    cr0Hi = 0;
    cr4Hi = 0;
  }
  const st = decode(a, cr0, cr0Hi, cr4, cr4Hi);
  if (typeof st === "string") {
    cpu.nextRip = cpu.rip;
    cpu.enterShutdown(`RSM: invalid state in SMRAM (${st})`);
    return;
  }
  commit(cpu, a, st);
}

function isU32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

op(0x1aa, "rsm", rsm, false, Imm.None, OPF_TERMINAL);
