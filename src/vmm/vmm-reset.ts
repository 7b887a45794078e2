/**
 * RESET of a vCPU done by the VMM, the way the 2019 review thread settled it and the way QEMU
 * does it with KVM (kvm_arch_put_registers at KVM_PUT_RESET_STATE): the VMM knows the RESET
 * state and writes every piece of it through the host set-APIs — registers, segment caches,
 * control registers, FPU/SSE, debug registers, XCR0, every MSR in the index list (the CR-pin
 * MSRs zeroed with host-initiated writes), the local APIC, the mp state and the pending
 * events. The values come from the power-up/RESET/INIT table in src/x86/reset-state.ts and
 * from SDM Vol.3 10.4.7.1 for the local APIC; nothing is read back from the vCPU except the
 * APIC state object's shape and the vCPU's own identity (APIC ID, BSP).
 *
 * A test (test/vmm/reset-styles.test.ts) runs a guest through a reset this way and through
 * `vcpu.reset("reset")` and compares the complete vCPU state bit for bit.
 */
import { MSR_SMBASE, MSR_TSC_DEADLINE, type Segment, type Vcpu } from "../hv/index.js";
import { MSR } from "../x86/msr.js";
import { RESET_STATE, type SegmentInit } from "../x86/reset-state.js";

/** The "reset" column value of a state-table row. */
function resetValue<T>(row: { reset: { set: T } | "unchanged" }): T {
  if (row.reset === "unchanged") throw new Error("state table: RESET leaves this row unchanged");
  return row.reset.set;
}

/** A table segment as the API's Segment. */
function segment(s: SegmentInit): Segment {
  const attr = s.attr;
  return {
    selector: s.selector,
    base: BigInt(s.base),
    limit: s.limit,
    type: attr & 0xf,
    s: (attr >> 4) & 1,
    dpl: (attr >> 5) & 3,
    present: (attr >> 7) & 1,
    avl: 0,
    l: 0,
    db: 0,
    g: 0,
  };
}

/** IA32_MISC_ENABLE at RESET: fast strings, BTS and PEBS unavailable (SDM Vol.4 Table 2-2). */
const MISC_ENABLE_RESET = 0x1801n;
/** IA32_MTRRCAP is read-only: the VMM does not write it. */
const READ_ONLY_MSRS = new Set<number>([MSR.IA32_MTRRCAP]);

/** MSR values at RESET that are not 0 (everything else in the index list is written as 0). */
function msrResetValue(index: number): bigint {
  const T = RESET_STATE;
  switch (index) {
    case MSR.IA32_PAT: {
      const [lo, hi] = resetValue(T.pat);
      return (BigInt(hi) << 32n) | BigInt(lo);
    }
    case MSR.IA32_MISC_ENABLE:
      return MISC_ENABLE_RESET;
    case MSR_SMBASE:
      return BigInt(resetValue(T.smbase));
    case MSR.IA32_TIME_STAMP_COUNTER:
      return BigInt(resetValue(T.tsc));
    case MSR.IA32_TSC_AUX:
      return BigInt(resetValue(T.tscAux));
    default:
      return 0n;
  }
}

/**
 * The local APIC at RESET (SDM Vol.3 10.4.7.1): IA32_APIC_BASE = FEE00000H | EN | BSP, APIC
 * ID = the initial ID, IRR/ISR/TMR/ICR/LDR/TPR/timer 0, DFR all ones, every LVT masked,
 * SVR = FFH (software-disabled), no latched events.
 */
function lapicResetState(vcpu: Vcpu): unknown {
  const current = vcpu.getLapic() as Record<string, unknown>;
  const apicId = current.apicId as number;
  const lvt = current.lvt as number[];
  const apicBase = BigInt(resetValue(RESET_STATE.apicBase)) | (vcpu.id === 0 ? 0x100n : 0n);
  return {
    ...current,
    apicBase,
    xapicId: apicId,
    tpr: 0,
    ldr: 0,
    dfr: 0xffff_ffff,
    svr: 0xff,
    esr: 0,
    pendingEsr: 0,
    icrLow: 0,
    icrHigh: 0,
    irr: new Array(8).fill(0),
    isr: new Array(8).fill(0),
    tmr: new Array(8).fill(0),
    lvt: lvt.map(() => 0x10000),
    timer: { divideConfig: 0, initialCount: 0, running: false, startTime: 0, countStart: 0, tscDeadline: 0n },
    events: { init: false, sipi: -1, nmi: false, smi: false, extInt: false },
    lint: [false, false],
  };
}

/** Writes the complete RESET state into `vcpu` through the host set-APIs. */
export function resetVcpuThroughSetApis(vcpu: Vcpu): void {
  const T = RESET_STATE;
  // Leave SMM and drop pending events first (KVM_SET_VCPU_EVENTS), so nothing below is
  // interpreted in SMM.
  vcpu.setVcpuEvents({
    exception: null,
    interruptShadow: false,
    nmi: { pending: false, masked: false },
    smi: { smm: false, pending: false, latchedInit: false },
    sipiVector: -1,
  });
  const gdtr = resetValue(T.gdtr);
  const idtr = resetValue(T.idtr);
  vcpu.setSregs({
    cs: segment(resetValue(T.cs)),
    ds: segment(resetValue(T.ds)),
    es: segment(resetValue(T.es)),
    fs: segment(resetValue(T.fs)),
    gs: segment(resetValue(T.gs)),
    ss: segment(resetValue(T.ss)),
    tr: segment(resetValue(T.tr)),
    ldt: segment(resetValue(T.ldtr)),
    gdt: { base: BigInt(gdtr.base), limit: gdtr.limit },
    idt: { base: BigInt(idtr.base), limit: idtr.limit },
    cr0: BigInt(resetValue(T.cr0)),
    cr2: BigInt(resetValue(T.cr2)),
    cr3: BigInt(resetValue(T.cr3)),
    cr4: BigInt(resetValue(T.cr4)),
    cr8: BigInt(resetValue(T.cr8)),
    efer: BigInt(resetValue(T.efer)),
  });
  const gpr = BigInt(resetValue(T.otherGprs));
  // EDX = the processor signature, CPUID.01H:EAX as this vCPU reports it (SDM 9.1.2).
  const leaf1 = vcpu.getSupportedCpuid().find((e) => e.function === 1 && e.index === 0);
  vcpu.setRegs({
    rax: BigInt(resetValue(T.eax)),
    rbx: gpr,
    rcx: gpr,
    rdx: BigInt(leaf1?.eax ?? 0),
    rsi: gpr,
    rdi: gpr,
    rsp: gpr,
    rbp: gpr,
    r8: gpr,
    r9: gpr,
    r10: gpr,
    r11: gpr,
    r12: gpr,
    r13: gpr,
    r14: gpr,
    r15: gpr,
    rip: BigInt(resetValue(T.rip)),
    rflags: BigInt(resetValue(T.eflags)),
  });
  const x87 = resetValue(T.x87);
  const xmm = resetValue(T.xmm);
  vcpu.setFpu({
    fcw: x87.fcw,
    fsw: x87.fsw,
    ftw: x87.ftw,
    fop: 0,
    fip: 0n,
    fcs: 0,
    fdp: 0n,
    fds: 0,
    st: Array.from({ length: 8 }, () => new Uint8Array(10)),
    xmm: Array.from({ length: 16 }, () => new Uint8Array(16).fill(xmm)),
    mxcsr: resetValue(T.mxcsr),
  });
  const dr = BigInt(resetValue(T.dr0to3));
  vcpu.setDebugRegs({ db: [dr, dr, dr, dr], dr6: BigInt(resetValue(T.dr6)), dr7: BigInt(resetValue(T.dr7)) });
  vcpu.setXcr0(BigInt(resetValue(T.xcr0)));
  // The local APIC before the MSRs: IA32_APIC_BASE and TSC_DEADLINE live in it.
  vcpu.setLapic(lapicResetState(vcpu));
  const roles = vcpu.pinning.vm.spec.msrs;
  const entries = vcpu
    .getMsrIndexList()
    .filter((index) => !READ_ONLY_MSRS.has(index))
    .filter((index) => index !== MSR.IA32_EFER && index !== MSR.IA32_APIC_BASE && index !== MSR_TSC_DEADLINE)
    // CR-pin ALLOWED MSRs are constants, not state; the PINNED ones are zeroed here.
    .filter((index) => !String(roles.get(index) ?? "").includes("allowed"))
    .map((index) => ({ index, value: msrResetValue(index) }));
  vcpu.setMsrs(entries);
  vcpu.setMpState(vcpu.id === 0 ? "runnable" : "init-received");
}
