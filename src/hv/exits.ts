/**
 * Why `Vcpu.run()` returned: one value of a closed discriminated union, as rust-vmm's
 * `VcpuExit`. The VMM switches on `kind`; TypeScript checks that every kind is handled.
 *
 * Port I/O is not an exit here. The CPU needs the value of an IN while the instruction
 * executes and cannot suspend it half-way, and a guest polling its UART would pay one run()
 * round trip per byte. So the VMM registers a synchronous port-I/O handler on the Vm (like
 * KVM's in-kernel I/O bus, or a kvmtool/Firecracker device running on the vCPU thread), and
 * a device that must end the run (a debug-exit port, a reset request) calls
 * `vcpu.requestStop()`, which makes run() return `{ kind: "stopped" }` at the next
 * instruction boundary, after the OUT has completed.
 */

/** HLT executed; the vCPU stays halted until an interrupt (none can arrive yet). */
export interface HltExit {
  kind: "hlt";
}

/** The vCPU entered the shutdown state (a triple fault). */
export interface ShutdownExit {
  kind: "shutdown";
  /** What the CPU reported, e.g. "triple fault". */
  reason: string;
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
export type VcpuExit = HltExit | ShutdownExit | BudgetExhaustedExit | StoppedExit;
