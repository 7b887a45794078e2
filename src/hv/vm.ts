/**
 * A virtual machine: guest-physical memory (one ArrayBuffer, owned here) and its vCPUs,
 * plus the port-I/O handler the VMM registers for them. The KVM_CREATE_VM object.
 */
import { Cpu } from "../cpu/cpu.js";
import "../cpu/ops/index.js"; // registers every instruction group with the decoder
import { PhysicalMemory } from "../cpu/memory.js";
import { HvError } from "./errors.js";
import { Vcpu, type PortIoHandler, type VcpuHost } from "./vcpu.js";

/** Options of Hypervisor.createVm. */
export interface VmOptions {
  /** Guest RAM in bytes, mapped at guest-physical 0; rounded up to 4 KiB. */
  memoryBytes: number;
}

/** Largest RAM size: guest RAM must stay below the 32-bit PCI hole at 3.75 GiB. */
export const MAX_MEMORY_BYTES = 0xf000_0000;

/** Port I/O with nothing attached: reads see all-ones (open bus), writes vanish. */
const OPEN_BUS: PortIoHandler = {
  read: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff),
  write: () => {},
};

/** A virtual machine. Create with `hypervisor.createVm(...)`. */
export class Vm implements VcpuHost {
  /** Guest-physical memory, shared by all vCPUs. */
  readonly memory: PhysicalMemory;
  /** Where the vCPUs' port I/O goes; set with setPortIoHandler. */
  portIo: PortIoHandler = OPEN_BUS;
  private readonly vcpus = new Map<number, Vcpu>();

  /** Creates a VM; use Hypervisor.createVm, which validates the options. */
  constructor(options: VmOptions) {
    const bytes = options.memoryBytes;
    if (!Number.isInteger(bytes) || bytes < 0x1000 || bytes > MAX_MEMORY_BYTES) {
      throw new HvError(
        "bad-argument",
        `memoryBytes: expected an integer from 4096 to ${MAX_MEMORY_BYTES} (3.75 GiB), got ${String(bytes)}`,
      );
    }
    this.memory = new PhysicalMemory(bytes);
  }

  /** Guest RAM size in bytes. */
  get memoryBytes(): number {
    return this.memory.size;
  }

  /** Guest RAM as bytes, index = guest-physical address (host-side access, e.g. loaders). */
  get ram(): Uint8Array {
    return this.memory.u8;
  }

  /** Copies `data` into guest RAM at `address` (keeps decoded-code caches coherent). */
  writePhysical(address: number, data: Uint8Array): void {
    if (!Number.isInteger(address) || address < 0 || address + data.length > this.memory.size) {
      throw new HvError(
        "bad-memory",
        `cannot write ${data.length} bytes at 0x${address.toString(16)}: RAM ends at 0x${this.memory.size.toString(16)}`,
      );
    }
    this.memory.load(address, data);
  }

  /** Copies `length` bytes of guest RAM starting at `address`. */
  readPhysical(address: number, length: number): Uint8Array {
    if (!Number.isInteger(address) || address < 0 || !Number.isInteger(length) || length < 0) {
      throw new HvError("bad-memory", `bad physical range 0x${String(address)} + ${String(length)}`);
    }
    if (address + length > this.memory.size) {
      throw new HvError(
        "bad-memory",
        `cannot read ${length} bytes at 0x${address.toString(16)}: RAM ends at 0x${this.memory.size.toString(16)}`,
      );
    }
    return this.memory.u8.slice(address, address + length);
  }

  /** Routes all port I/O of this VM's vCPUs to `handler` (synchronously, see exits.ts). */
  setPortIoHandler(handler: PortIoHandler): void {
    this.portIo = handler;
  }

  /**
   * Creates vCPU `id` in its power-up state (real mode, CS:IP = F000:FFF0). This first cut
   * supports one vCPU per VM: the decoded-code cache coherence hook of the memory is
   * per-processor until SMP arrives with the local APIC.
   */
  createVcpu(id: number): Vcpu {
    if (!Number.isInteger(id) || id < 0 || id > 254) {
      throw new HvError("bad-vcpu", `vcpu id: expected an integer in 0..254, got ${String(id)}`);
    }
    if (this.vcpus.has(id)) throw new HvError("bad-vcpu", `vcpu ${id} already exists`);
    if (this.vcpus.size > 0)
      throw new HvError("bad-vcpu", "this hypervisor supports one vCPU per VM for now");
    const vcpu = new Vcpu(this, id, new Cpu(this.memory));
    this.vcpus.set(id, vcpu);
    return vcpu;
  }

  /** The vCPU with `id`, if created. */
  getVcpu(id: number): Vcpu | undefined {
    return this.vcpus.get(id);
  }
}
