/**
 * The hypervisor object (our /dev/kvm): the entry point from which a VMM creates VMs.
 * Holds nothing yet but the API version; paravirtual features and capabilities are
 * announced here once they exist.
 */
import { Vm, type VmOptions } from "./vm.js";

/** Version of the hv API (KVM_GET_API_VERSION); bumped on incompatible changes. */
export const HV_API_VERSION = 1;

/** The hypervisor. */
export class Hypervisor {
  /** The API version this hypervisor implements. */
  readonly apiVersion = HV_API_VERSION;

  /** Creates a VM with `memoryBytes` of RAM, split at `lowMemoryBytes` around the PCI hole (KVM_CREATE_VM). */
  createVm(options: VmOptions): Vm {
    return new Vm(options);
  }
}
