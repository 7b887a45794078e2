/**
 * Apply one column of the power-up/RESET/INIT state table (src/x86/reset-state.ts) to a
 * processor. The CPU applies architectural state only; what the hypervisor owns (the local
 * APIC, paravirtual MSRs, pins) is reset by the hypervisor.
 *
 * SMM: SMBASE follows its row (30000H on power-up/RESET, unchanged by INIT: SDM Vol.3 34.11).
 * Every event leaves SMM (the processor restarts in real mode at F000:FFF0) and clears NMI
 * blocking; a pending SMI is dropped by power-up/RESET and kept by INIT (whether INIT is
 * accepted in SMM at all is the hypervisor's decision: SDM Vol.3 34.5 blocks it there).
 */
import {
  RESET_STATE,
  initCr0,
  type ResetKind,
  type RowAction,
  type SegmentInit,
  type StateRow,
} from "../x86/reset-state.js";
import { SEG } from "../x86/segment.js";
import { MSR } from "../x86/msr.js";
import type { Cpu } from "./cpu.js";

function pick<T>(row: StateRow<T>, kind: ResetKind): RowAction<T> {
  return kind === "power-up" ? row.powerUp : kind === "reset" ? row.reset : row.init;
}

/** The value a row loads for `kind`, or undefined when the event leaves it unchanged. */
function value<T>(row: StateRow<T>, kind: ResetKind): T | undefined {
  const a = pick(row, kind);
  return a === "unchanged" ? undefined : a.set;
}

function loadSeg(cpu: Cpu, seg: number, s: SegmentInit): void {
  cpu.segSel[seg] = s.selector;
  cpu.segBase[seg] = s.base;
  cpu.segLimit[seg] = s.limit;
  cpu.segAttr[seg] = s.attr;
}

/**
 * Reset `cpu` as `kind` says. `signature` is the value for EDX (CPUID.01H:EAX of the
 * modelled processor). Returns nothing; afterwards the processor is in real mode at
 * F000:FFF0 (the caller parks APs in wait-for-SIPI after INIT).
 */
export function resetCpu(cpu: Cpu, kind: ResetKind, signature: number): void {
  const hw = kind !== "init";
  cpu.lo.fill(0);
  cpu.hi.fill(0);
  const T = RESET_STATE;
  cpu.lo.fill(value(T.otherGprs, kind) ?? 0);
  cpu.hi.fill(value(T.otherGprs, kind) ?? 0);
  cpu.lo[0] = value(T.eax, kind) ?? 0;
  cpu.lo[2] = signature;
  cpu.lazyMask = 0;
  cpu.eflags = value(T.eflags, kind) ?? 2;
  cpu.rip = value(T.rip, kind) ?? 0xfff0;
  const segs: [number, StateRow<SegmentInit>][] = [
    [SEG.CS, T.cs],
    [SEG.SS, T.ss],
    [SEG.DS, T.ds],
    [SEG.ES, T.es],
    [SEG.FS, T.fs],
    [SEG.GS, T.gs],
    [SEG.LDTR, T.ldtr],
    [SEG.TR, T.tr],
  ];
  for (const [seg, row] of segs) {
    const s = value(row, kind);
    if (s !== undefined) loadSeg(cpu, seg, s);
  }
  const gdtr = value(T.gdtr, kind);
  if (gdtr) {
    cpu.gdtrBase = gdtr.base;
    cpu.gdtrLimit = gdtr.limit;
  }
  const idtr = value(T.idtr, kind);
  if (idtr) {
    cpu.idtrBase = idtr.base;
    cpu.idtrLimit = idtr.limit;
  }
  cpu.cr0 = value(T.cr0, kind) ?? initCr0(cpu.cr0);
  cpu.cr2 = value(T.cr2, kind) ?? cpu.cr2;
  cpu.cr3 = value(T.cr3, kind) ?? cpu.cr3;
  cpu.cr3Hi = 0;
  cpu.cr4 = value(T.cr4, kind) ?? cpu.cr4;
  cpu.cr8 = value(T.cr8, kind) ?? cpu.cr8;
  cpu.efer = value(T.efer, kind) ?? cpu.efer;
  cpu.drLo.fill(value(T.dr0to3, kind) ?? 0);
  cpu.drHi.fill(0);
  cpu.drLo[6] = value(T.dr6, kind) ?? 0;
  cpu.drLo[7] = value(T.dr7, kind) ?? 0;
  cpu.cpl = 0;
  if (hw) {
    cpu.icount = 0;
    cpu.tscOffset = 0;
    cpu.xcr0 = value(T.xcr0, kind) ?? 1;
    cpu.kernelGsBase = 0;
    cpu.msrs.clear();
    const pat = value(T.pat, kind);
    if (pat) cpu.msrs.set(MSR.IA32_PAT, [pat[0], pat[1]]);
    cpu.resetExtendedState();
  } else {
    // INIT: TSC keeps counting (unchanged), so keep icount + offset; MSRs unchanged.
  }
  cpu.halted = false;
  cpu.shutdownState = false;
  cpu.interruptShadow = false;
  cpu.nmiPending = false;
  cpu.nmiBlocked = false;
  cpu.intrPending = false;
  cpu.smbase = value(T.smbase, kind) ?? cpu.smbase;
  cpu.inSmm = false;
  cpu.nmiBlockedAtSmi = false;
  if (hw) cpu.smiPending = false;
  cpu.lastExit = null;
  cpu.updateMode();
  cpu.flushTlb(false);
  cpu.flushCodeCache();
}
