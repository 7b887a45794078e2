/**
 * Why `Vcpu.run()` returned: one value of a closed discriminated union, as rust-vmm's
 * `VcpuExit` (KVM's `struct kvm_run` exit reasons). The VMM switches on `kind`; TypeScript
 * checks that every kind is handled.
 *
 * Port I/O and MMIO come two ways, as in KVM. A VMM may register synchronous handlers on the
 * Vm (KVM's in-kernel devices and ioeventfds: the access completes inside run(), which keeps
 * a UART polled byte by byte fast). Accesses no handler claims leave run() as `io-in`,
 * `io-out`, `mmio-read` or `mmio-write` exits. Writes have completed when the exit is seen;
 * a read is restarted: the instruction is rolled back with no architectural effect, the VMM
 * supplies the value with `vcpu.completeRead(value)`, and the next run() re-executes the
 * instruction, which then receives it (KVM_EXIT_IO / KVM_EXIT_MMIO with the data in the
 * shared kvm_run page).
 */
import type { Violation } from "./paravirt/cr-pinning.js";

/** IN/INS from a port no synchronous handler claimed; answer with `vcpu.completeRead`. */
export interface IoInExit {
  kind: "io-in";
  port: number;
  /** Access size in bytes: 1, 2 or 4. */
  size: number;
}

/** OUT/OUTS to a port no synchronous handler claimed; the write has completed. */
export interface IoOutExit {
  kind: "io-out";
  port: number;
  size: number;
  /** The value written (unsigned, `size` bytes). */
  value: number;
}

/** Read of an exiting MMIO range; answer with `vcpu.completeRead`. */
export interface MmioReadExit {
  kind: "mmio-read";
  /** Guest-physical address. */
  address: number;
  size: number;
}

/** Write to an exiting MMIO range; the write has completed. */
export interface MmioWriteExit {
  kind: "mmio-write";
  address: number;
  size: number;
  value: number;
}

/** HLT with no interrupt deliverable; the vCPU stays halted until one is (KVM_EXIT_HLT). */
export interface HltExit {
  kind: "hlt";
}

/** The vCPU entered the shutdown state: a triple fault, or RSM of invalid state. */
export interface ShutdownExit {
  kind: "shutdown";
  /** What the CPU reported, e.g. "triple fault". */
  reason: string;
}

/** A VM-wide event a device requested with `vm.requestSystemEvent` (KVM_EXIT_SYSTEM_EVENT). */
export interface SystemEventExit {
  kind: "system-event";
  event: SystemEvent;
}

/** The system events a VM can report. */
export type SystemEvent = "reset" | "poweroff";

/**
 * The hypervisor could not continue the guest (KVM_EXIT_INTERNAL_ERROR), e.g. the jun2020
 * CR-pinning profile refusing an RSM that would restore pinned bits. The vCPU is left at the
 * instruction that could not be completed.
 */
export interface InternalErrorExit {
  kind: "internal-error";
  suberror: "emulation";
  /** Human-readable explanation. */
  detail: string;
}

/** A single-step or breakpoint stop requested with `vcpu.setGuestDebug` (KVM_EXIT_DEBUG). */
export interface DebugExit {
  kind: "debug";
  /** Why: one instruction executed, or RIP reached a breakpoint address. */
  reason: "single-step" | "breakpoint";
  rip: bigint;
}

/**
 * A guest write to CR0/CR4 was refused by CR pinning; the #GP has already been injected and
 * the register is unchanged. Returned only when the VM was created with `violations: "exit"`
 * (Heki's KVM_EXIT_HEKI_DENIAL).
 */
export interface CrPinViolationExit {
  kind: "cr-pin-violation";
  violation: Violation;
}

/** The run() call's instruction budget was used up; call run() again to continue. */
export interface BudgetExhaustedExit {
  kind: "budget-exhausted";
}

/** `requestStop()` was called (by a device handler or the host); KVM's KVM_EXIT_INTR. */
export interface StoppedExit {
  kind: "stopped";
}

/** Everything Vcpu.run() can return. */
export type VcpuExit =
  | IoInExit
  | IoOutExit
  | MmioReadExit
  | MmioWriteExit
  | HltExit
  | ShutdownExit
  | SystemEventExit
  | InternalErrorExit
  | DebugExit
  | CrPinViolationExit
  | BudgetExhaustedExit
  | StoppedExit;
