/**
 * src/hv, the hypervisor layer (our KVM): Hypervisor -> Vm -> Vcpu, with run() returning a
 * closed union of exits and plain-object register access. The VMM imports from here only.
 */
export { Hypervisor, HV_API_VERSION } from "./hypervisor.js";
export { Vm, MAX_MEMORY_BYTES, type VmOptions } from "./vm.js";
export { Vcpu, DEFAULT_RUN_BUDGET, type PortIoHandler } from "./vcpu.js";
export type { VcpuExit, HltExit, ShutdownExit, BudgetExhaustedExit, StoppedExit } from "./exits.js";
export type { Regs, Sregs, Segment, DescriptorTable } from "./state.js";
export { HvError, type HvErrorCode } from "./errors.js";
