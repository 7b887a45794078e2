/**
 * The narrow interface through which the processor reports what a VMX/SVM processor would
 * exit on. The hypervisor layer (src/hv) supplies an implementation; the CPU never calls a
 * device directly.
 *
 * - Every CR0/CR3/CR4/EFER/XCR0 write by an instruction is offered to `controlWrite` after
 *   the architectural checks, with the instruction that made it (`source`); a veto becomes
 *   #GP(0). RSM does not call controlWrite: it asks `rsm` instead (SDM Vol.3 34.13).
 * - VMCALL / VMMCALL are offered to `hypercall`.
 * - Any hook called while an instruction executes (ioRead, ioWrite, an MMIO handler, rdmsr,
 *   wrmsr, cpuid, controlWrite, hypercall, rsm) may throw an InstructionExit: the
 *   instruction is abandoned with no architectural effect, exactly as if it had faulted
 *   before doing anything (RIP stays on it, it is not counted as retired; a partly done REP
 *   string instruction keeps the iterations it completed), and Cpu.run() returns "exit".
 *   When run() is called again the instruction executes again from its start. The same holds
 *   for an exit during the delivery of an exception, NMI or SMI (an MMIO access to the IDT,
 *   GDT, stack or SMRAM): the delivery is rolled back and retried. During external-interrupt
 *   delivery the vector is already acknowledged: run() throws an Error instead.
 * - While a hook runs, `cpu.rip` (and `cpu.instructionRip`, unsigned) is the address of the
 *   instruction being executed, in the interpreter and in compiled code alike.
 */

/** Which control register a write targets. */
export type ControlRegister = "cr0" | "cr3" | "cr4" | "efer" | "xcr0";

/**
 * The instruction that wrote a control register: MOV to CRn, LMSW, CLTS (CR0), WRMSR (EFER),
 * XSETBV (XCR0), or a hardware task switch ("task-switch": CR0.TS and, with paging, CR3; SDM
 * Vol.3 7.3). "rsm" is reserved for RSM, which reports through `CpuHooks.rsm` instead.
 */
export type ControlWriteSource = "mov" | "lmsw" | "clts" | "wrmsr" | "xsetbv" | "task-switch" | "rsm";

/** Result of an MSR access the CPU does not own: a value, or a #GP. */
export type MsrReadResult = { lo: number; hi: number } | "gp";

/**
 * What RSM does with the CR0/CR4 values it read from SMRAM: "continue" commits them,
 * `{ cr0, cr4 }` commits these values instead (as if SMRAM had held them: the result is
 * still checked, and an invalid one makes the processor enter shutdown), "exit" abandons the
 * RSM (nothing changes, the processor stays in SMM on the RSM instruction) and makes
 * Cpu.run() return "exit".
 */
export type RsmDecision = "continue" | { cr0: number; cr4: number } | "exit";

/** CPUID output registers. */
export interface CpuidResult {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/**
 * Thrown by a hook (or an MMIO handler) to abandon the current instruction with no
 * architectural effect and make Cpu.run() return "exit" (see the module comment). `reason`
 * is free text for the hypervisor; the CPU keeps the object in `cpu.lastExit`.
 */
export class InstructionExit {
  /** Why the hook asked for the exit. */
  readonly reason: string;
  /** Create an exit request. */
  constructor(reason = "exit") {
    this.reason = reason;
  }
}

/** A shared InstructionExit for hooks that need no reason text. */
export const INSTRUCTION_EXIT = new InstructionExit();

/** Callbacks installed by the hypervisor. All values are unsigned 32-bit numbers. */
export interface CpuHooks {
  /** IN from a port; returns the value (size 1, 2 or 4). */
  ioRead(port: number, size: number): number;
  /** OUT to a port. */
  ioWrite(port: number, size: number, value: number): void;
  /** HLT executed with interrupts enabled or disabled; the CPU is now halted. */
  halt(): void;
  /** Triple fault (or an invalid RSM): the CPU entered shutdown. */
  shutdown(reason: string): void;
  /** RDMSR of an MSR the CPU does not implement itself. */
  rdmsr(index: number): MsrReadResult;
  /** WRMSR of an MSR the CPU does not implement itself; return false for #GP. */
  wrmsr(index: number, lo: number, hi: number): boolean;
  /** CPUID: receives the CPU's own answer and may replace it. */
  cpuid(leaf: number, subleaf: number, native: CpuidResult): CpuidResult;
  /**
   * A write to CR0/CR3/CR4/EFER/XCR0 that passed the architectural checks, made by the
   * instruction `source` (absent only from callers older than the argument). Values are
   * 64-bit as (lo, hi). Return false to veto: the CPU raises #GP(0). Also called in SMM
   * (`cpu.inSmm` tells).
   */
  controlWrite(
    reg: ControlRegister,
    oldLo: number,
    oldHi: number,
    newLo: number,
    newHi: number,
    source: ControlWriteSource,
  ): boolean;
  /**
   * VMCALL (0F 01 C1) or VMMCALL (0F 01 D9) at any CPL (`cpu.cpl`). Return true when handled
   * (registers read/written through the cpu object; the instruction completes and RIP moves
   * past it), false for #UD. Absent = false.
   */
  hypercall?(): boolean;
  /**
   * RSM is about to commit CR0/CR4 (low 32 bits; the high halves are 0 or the state is
   * invalid) read from the SMRAM state-save area. Absent = "continue".
   */
  rsm?(cr0: number, cr4: number): RsmDecision;
}

/** Hooks that behave like a bare machine with nothing attached. */
export function defaultHooks(): CpuHooks {
  return {
    ioRead: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
    ioWrite: () => {},
    halt: () => {},
    shutdown: () => {},
    rdmsr: () => "gp",
    wrmsr: () => false,
    cpuid: (_l, _s, native) => native,
    controlWrite: () => true,
    hypercall: () => false,
    rsm: () => "continue",
  };
}
