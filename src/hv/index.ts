/**
 * src/hv, the hypervisor layer (our KVM): Hypervisor -> Vm -> Vcpu, with run() returning a
 * closed union of exits and plain-object register access, the local APICs, and the
 * paravirtual interface (KVM CPUID leaves, hypercalls, CR pinning). The VMM imports from
 * here only.
 */
export { Hypervisor, HV_API_VERSION } from "./hypervisor.js";
export {
  Vm,
  MAX_MEMORY_BYTES,
  MAX_LOW_MEMORY_BYTES,
  HIGH_MEMORY_BASE,
  MAX_VCPUS,
  type VmOptions,
  type InterruptMessage,
  type VmSavedState,
} from "./vm.js";
export {
  Vcpu,
  DEFAULT_RUN_BUDGET,
  MSR_SMBASE,
  MSR_TSC_DEADLINE,
  type PortIoHandler,
  type VcpuResetKind,
  type GuestDebug,
  type VcpuHvState,
  type VcpuSavedState,
} from "./vcpu.js";
export type {
  VcpuExit,
  IoInExit,
  IoOutExit,
  MmioReadExit,
  MmioWriteExit,
  HltExit,
  ShutdownExit,
  SystemEventExit,
  SystemEvent,
  InternalErrorExit,
  DebugExit,
  CrPinViolationExit,
  BudgetExhaustedExit,
  StoppedExit,
} from "./exits.js";
export {
  MP_STATES,
  type Regs,
  type Sregs,
  type Segment,
  type DescriptorTable,
  type Fpu,
  type DebugRegs,
  type MsrEntry,
  type MpState,
  type VcpuEvents,
  type CpuidEntry,
} from "./state.js";
export { HvError, type HvErrorCode } from "./errors.js";
export type { PinProfile, PinningOptions, Violation } from "./paravirt/cr-pinning.js";
