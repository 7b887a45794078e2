/**
 * The narrow interface through which the processor reports what a VMX processor would
 * exit on. The hypervisor layer (src/hv) supplies an implementation; the CPU never calls a
 * device directly. Every CR0/CR3/CR4/EFER write is offered to the hook after the
 * architectural checks, and the hook may veto it, which the CPU turns into #GP(0).
 */

/** Which control register a write targets. */
export type ControlRegister = "cr0" | "cr3" | "cr4" | "efer" | "xcr0";

/** Result of an MSR access the CPU does not own: a value, or a #GP. */
export type MsrReadResult = { lo: number; hi: number } | "gp";

/** CPUID output registers. */
export interface CpuidResult {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** Callbacks installed by the hypervisor. All values are unsigned 32-bit numbers. */
export interface CpuHooks {
  /** IN from a port; returns the value (size 1, 2 or 4). */
  ioRead(port: number, size: number): number;
  /** OUT to a port. */
  ioWrite(port: number, size: number, value: number): void;
  /** HLT executed with interrupts enabled or disabled; the CPU is now halted. */
  halt(): void;
  /** Triple fault: the CPU entered shutdown. */
  shutdown(reason: string): void;
  /** RDMSR of an MSR the CPU does not implement itself. */
  rdmsr(index: number): MsrReadResult;
  /** WRMSR of an MSR the CPU does not implement itself; return false for #GP. */
  wrmsr(index: number, lo: number, hi: number): boolean;
  /** CPUID: receives the CPU's own answer and may replace it. */
  cpuid(leaf: number, subleaf: number, native: CpuidResult): CpuidResult;
  /**
   * A write to CR0/CR3/CR4/EFER/XCR0 that passed the architectural checks.
   * Values are 64-bit as (lo, hi). Return false to veto: the CPU raises #GP(0).
   */
  controlWrite(reg: ControlRegister, oldLo: number, oldHi: number, newLo: number, newHi: number): boolean;
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
  };
}
