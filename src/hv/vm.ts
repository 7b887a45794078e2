/**
 * A virtual machine: guest-physical memory (RAM below the PCI hole from address 0 and,
 * optionally, RAM from 4 GiB up; owned here), its vCPUs with
 * their local APICs, the VM-wide CR-pinning configuration, the VM clock, and the
 * synchronous port-I/O and MMIO handlers the VMM registers. The KVM_CREATE_VM object.
 *
 * Interrupts reach the vCPUs as in KVM with a userspace PIC/IOAPIC: `deliverInterrupt`
 * (an IOAPIC redirection or an MSI, KVM_SIGNAL_MSI) goes to the local APICs it addresses,
 * `vcpu.setExtInt` is the i8259's INTR line into the BSP. IPIs between vCPUs are routed
 * here (the ApicBus). The xAPIC page at each APIC's base is MMIO that goes to the APIC of
 * the vCPU performing the access, as on hardware.
 */
import { Cpu } from "../cpu/cpu.js";
import "../cpu/ops/index.js"; // registers every instruction group with the decoder
import { HIGH_RAM_BASE, MAX_LOW_RAM_BYTES, PhysicalMemory, type MmioHandler } from "../cpu/memory.js";
import { LocalApic } from "./apic/local-apic.js";
import { routeIpi } from "./apic/destination.js";
import type { ApicBus, Ipi } from "./apic/ipi.js";
import { HvError } from "./errors.js";
import type { SystemEvent } from "./exits.js";
import { VmPinning, type PinningOptions } from "./paravirt/cr-pinning.js";
import { Vcpu, type PortIoHandler, type VcpuHost } from "./vcpu.js";

/** Options of Hypervisor.createVm. */
export interface VmOptions {
  /** Guest RAM in bytes (all of it, both blocks); a multiple of 4 KiB. */
  memoryBytes: number;
  /**
   * How much of memoryBytes is mapped at guest-physical 0 (below the PCI hole, at most
   * MAX_LOW_MEMORY_BYTES); the rest is mapped at 4 GiB (KVM: two memory slots). Default: all
   * of it, which needs memoryBytes <= MAX_LOW_MEMORY_BYTES. The VMM's memory map decides it
   * (e.g. QEMU pc: 3 GiB below 4 GiB once RAM reaches 3.5 GiB).
   */
  lowMemoryBytes?: number;
  /** CR pinning: ABI profile and options (default: profile "off"). */
  pinning?: PinningOptions;
  /** What a refused CR write does besides #GP: "log" (audit log only) or "exit" (also a run() exit). */
  violations?: "log" | "exit";
}

/**
 * Largest RAM size (16 GiB). Guest RAM is host ArrayBuffers that the OS zeroes lazily, so
 * untouched RAM costs address space, not resident memory; the limit keeps a typo in -m from
 * reserving terabytes.
 */
export const MAX_MEMORY_BYTES = 16 * 2 ** 30;

/** Largest RAM block at guest-physical 0: it must end below the 32-bit PCI hole at 3.75 GiB. */
export const MAX_LOW_MEMORY_BYTES = MAX_LOW_RAM_BYTES;

/** Where RAM above the PCI hole is mapped: 4 GiB. */
export const HIGH_MEMORY_BASE = HIGH_RAM_BASE;

/** Most vCPUs a VM can have (xAPIC physical IDs 0..254; a practical limit for one thread). */
export const MAX_VCPUS = 64;

/** Default local APIC base (SDM Vol.3 10.4.1). */
const APIC_DEFAULT_BASE = 0xfee0_0000;

/** Port I/O with nothing attached: reads see all-ones (open bus), writes vanish. */
const OPEN_BUS: PortIoHandler = {
  read: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff),
  write: () => {},
};

/** An interrupt message to local APICs: an IOAPIC redirection entry or an MSI (SDM 10.11). */
export interface InterruptMessage {
  vector: number;
  deliveryMode: "fixed" | "lowest-priority" | "smi" | "nmi" | "init" | "extint";
  destinationMode: "physical" | "logical";
  destination: number;
  trigger: "edge" | "level";
}

/** VM-wide state in a snapshot (Vm.saveState). */
export interface VmSavedState {
  version: 1;
  clock: number;
  pinning: unknown;
}

/** A virtual machine. Create with `hypervisor.createVm(...)`. */
export class Vm implements VcpuHost, ApicBus {
  /** Guest-physical memory, shared by all vCPUs. */
  readonly memory: PhysicalMemory;
  /** Where the vCPUs' port I/O goes; set with setPortIoHandler. */
  portIo: PortIoHandler = OPEN_BUS;
  /** The VM's CR-pinning configuration, shared pins (heki2024) and audit log. */
  readonly pinning: VmPinning;
  /** Whether a refused CR write also returns a `cr-pin-violation` exit. */
  readonly violationExits: boolean;
  private readonly vcpus = new Map<number, Vcpu>();
  private clock = 0;
  private pendingEvent: SystemEvent | null = null;
  private current: Vcpu | null = null;
  private readonly apicPages = new Set<number>();
  private eoiListener: (vector: number) => void = () => {};

  /** Creates a VM; use Hypervisor.createVm, which validates the options. */
  constructor(options: VmOptions) {
    const bytes = options.memoryBytes;
    if (!Number.isInteger(bytes) || bytes < 0x1000 || bytes > MAX_MEMORY_BYTES) {
      throw new HvError(
        "bad-argument",
        `memoryBytes: expected an integer from 4096 to ${MAX_MEMORY_BYTES} (16 GiB), got ${String(bytes)}`,
      );
    }
    const low = options.lowMemoryBytes ?? bytes;
    if (!Number.isInteger(low) || low < 0x1000 || low > bytes || low > MAX_LOW_MEMORY_BYTES) {
      throw new HvError(
        "bad-argument",
        options.lowMemoryBytes === undefined
          ? `memoryBytes: ${String(bytes)} does not fit below the PCI hole (at most ${MAX_LOW_MEMORY_BYTES}, 3.75 GiB); give lowMemoryBytes to map the rest at 4 GiB`
          : `lowMemoryBytes: expected an integer from 4096 to min(memoryBytes, ${MAX_LOW_MEMORY_BYTES}), got ${String(low)}`,
      );
    }
    if (low !== bytes && (low % 0x1000 !== 0 || bytes % 0x1000 !== 0)) {
      throw new HvError(
        "bad-argument",
        "memoryBytes and lowMemoryBytes must be multiples of 4096 when RAM is split",
      );
    }
    const violations = options.violations ?? "log";
    if (violations !== "log" && violations !== "exit") {
      throw new HvError("bad-argument", `violations: expected "log" or "exit", got ${String(violations)}`);
    }
    try {
      this.pinning = new VmPinning(options.pinning ?? { profile: "off" });
    } catch (e) {
      throw e instanceof HvError ? e : new HvError("bad-argument", `pinning: ${(e as Error).message}`);
    }
    this.violationExits = violations === "exit";
    this.memory = new PhysicalMemory(low, bytes - low);
    this.mapApicPage(APIC_DEFAULT_BASE);
  }

  /** Guest RAM size in bytes (both blocks). */
  get memoryBytes(): number {
    return this.memory.size + this.memory.highSize;
  }

  /** RAM mapped at guest-physical 0 (below the PCI hole), in bytes. */
  get lowMemoryBytes(): number {
    return this.memory.size;
  }

  /** RAM mapped at 4 GiB (HIGH_MEMORY_BASE), in bytes; 0 = none. */
  get highMemoryBytes(): number {
    return this.memory.highSize;
  }

  /**
   * The low RAM block as bytes, index = guest-physical address (host-side access, e.g.
   * loaders). RAM at 4 GiB is not in it: use readPhysical/writePhysical or highRamChunks.
   */
  get ram(): Uint8Array {
    return this.memory.u8;
  }

  /** The RAM at 4 GiB as consecutive 1 GiB (the last one shorter) byte views; [] if none. */
  get highRamChunks(): readonly Uint8Array[] {
    return this.memory.highChunks;
  }

  /** The RAM ranges: [base, length] of the low block and, if any, of the block at 4 GiB. */
  get ramRanges(): [number, number][] {
    const ranges: [number, number][] = [[0, this.memory.size]];
    if (this.memory.highSize > 0) ranges.push([HIGH_RAM_BASE, this.memory.highSize]);
    return ranges;
  }

  private ramRangeError(what: string, address: number, length: number): HvError {
    const blocks = this.ramRanges.map(([b, l]) => `0x${b.toString(16)}-0x${(b + l).toString(16)}`).join(", ");
    return new HvError(
      "bad-memory",
      `cannot ${what} ${length} bytes at 0x${address.toString(16)}: RAM ends at 0x${this.memory.size.toString(16)}` +
        (this.memory.highSize > 0 ? ` (RAM blocks: ${blocks}; a range must lie inside one)` : ""),
    );
  }

  /**
   * Copies `data` into guest RAM at `address` (keeps decoded-code caches coherent). The
   * range must lie inside one RAM block (below the PCI hole, or at 4 GiB and up).
   */
  writePhysical(address: number, data: Uint8Array): void {
    if (!Number.isSafeInteger(address) || address < 0) {
      throw new HvError("bad-memory", `bad physical address ${String(address)}`);
    }
    if (!this.memory.isRamRange(address, data.length))
      throw this.ramRangeError("write", address, data.length);
    this.memory.load(address, data);
  }

  /** Copies `length` bytes of guest RAM starting at `address` (inside one RAM block). */
  readPhysical(address: number, length: number): Uint8Array {
    if (!Number.isSafeInteger(address) || address < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new HvError("bad-memory", `bad physical range 0x${String(address)} + ${String(length)}`);
    }
    if (!this.memory.isRamRange(address, length)) throw this.ramRangeError("read", address, length);
    return this.memory.readBytes(address, length);
  }

  /** Routes all port I/O of this VM's vCPUs to `handler` (synchronously, see exits.ts). */
  setPortIoHandler(handler: PortIoHandler): void {
    this.portIo = handler;
  }

  /** Marks [start, start+length) as MMIO served synchronously by `handler`. */
  addMmio(start: number, length: number, handler: MmioHandler): void {
    this.checkRange(start, length);
    this.memory.addMmio(start, length, handler);
  }

  /** Marks [start, start+length) as MMIO that leaves run() as mmio-read/mmio-write exits. */
  addMmioExitRange(start: number, length: number): void {
    this.checkRange(start, length);
    const running = (): Vcpu => {
      if (this.current === null) throw new HvError("bad-state", "MMIO exit range accessed by the host");
      return this.current;
    };
    this.memory.addMmio(start, length, {
      read: (address, size) => running().mmioExitRead(address, size),
      write: (address, size, value) => running().mmioExitWrite(address, size, value),
    });
  }

  private checkRange(start: number, length: number): void {
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(length) ||
      start < 0 ||
      length <= 0 ||
      start + length > 2 ** 32
    ) {
      throw new HvError(
        "bad-memory",
        `MMIO range 0x${String(start)} + ${String(length)} must lie below 4 GiB`,
      );
    }
  }

  /** The xAPIC page at `base`: accesses go to the APIC of the vCPU that makes them. */
  private mapApicPage(base: number): void {
    if (this.apicPages.has(base)) return;
    this.apicPages.add(base);
    this.memory.addMmio(base, 0x1000, {
      read: (address, size) => {
        const apic = this.current?.apic;
        if (!apic || !apic.xapicEnabled || apic.mmioBase !== base)
          return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
        return apic.readMmio(address - base, size);
      },
      write: (address, size, value) => {
        const vcpu = this.current;
        if (!vcpu || !vcpu.apic.xapicEnabled || vcpu.apic.mmioBase !== base) return;
        vcpu.apic.writeMmio(address - base, size, value);
        vcpu.kick();
      },
    });
  }

  /**
   * Creates vCPU `id` in its power-up state (real mode, CS:IP = F000:FFF0). vCPU 0 is the
   * bootstrap processor and runnable; the others wait for a SIPI (`init-received`, SDM Vol.3
   * 8.4.1), where KVM would create them "uninitialized" (docs/hypervisor.md).
   */
  createVcpu(id: number): Vcpu {
    if (!Number.isInteger(id) || id < 0 || id >= MAX_VCPUS) {
      throw new HvError("bad-vcpu", `vcpu id: expected an integer in 0..${MAX_VCPUS - 1}, got ${String(id)}`);
    }
    if (this.vcpus.has(id)) throw new HvError("bad-vcpu", `vcpu ${id} already exists`);
    const cpu = new Cpu(this.memory);
    const apic = new LocalApic({
      apicId: id,
      isBsp: id === 0,
      bus: this,
      now: () => cpu.icount + cpu.tscOffset,
      onEoi: (vector) => this.eoiListener(vector),
    });
    const vcpu = new Vcpu(this, id, cpu, apic, this.pinning.createVcpuPinning(id));
    this.vcpus.set(id, vcpu);
    vcpu.reset("power-on");
    return vcpu;
  }

  /** The vCPU with `id`, if created. */
  getVcpu(id: number): Vcpu | undefined {
    return this.vcpus.get(id);
  }

  /** All vCPUs in id order. */
  get allVcpus(): Vcpu[] {
    return [...this.vcpus.values()].sort((a, b) => a.id - b.id);
  }

  /** Number of vCPUs. */
  get vcpuCount(): number {
    return this.vcpus.size;
  }

  // ---------------------------------------------------------------- VcpuHost

  /** The VM clock in nanoseconds (advanced by the VMM). */
  now(): number {
    return this.clock;
  }

  /** Moves the VM clock forward to `time` (never backwards). */
  advanceClock(time: number): void {
    if (typeof time !== "number" || !Number.isFinite(time))
      throw new HvError("bad-value", "advanceClock: expected a number");
    if (time > this.clock) this.clock = time;
  }

  /** The pending VM-wide event, if any. */
  get systemEvent(): SystemEvent | null {
    return this.pendingEvent;
  }

  /**
   * A device asks for a reset or power-off: every vCPU's run() returns a `system-event`
   * exit at its next instruction boundary until the VMM calls clearSystemEvent().
   */
  requestSystemEvent(event: SystemEvent): void {
    if (event !== "reset" && event !== "poweroff")
      throw new HvError("bad-value", `system event: ${String(event)}`);
    if (this.pendingEvent === null || event === "poweroff") this.pendingEvent = event;
    this.current?.interruptRun();
  }

  /** Acknowledges the pending system event (after the VMM acted on it). */
  clearSystemEvent(): void {
    this.pendingEvent = null;
  }

  /** Called by a Vcpu when its run() starts and ends. */
  setRunning(vcpu: Vcpu | null): void {
    this.current = vcpu;
    if (vcpu && !this.apicPages.has(vcpu.apic.mmioBase)) this.mapApicPage(vcpu.apic.mmioBase);
  }

  /** The vCPU whose run() is executing, if any. */
  get runningVcpu(): Vcpu | null {
    return this.current;
  }

  // ---------------------------------------------------------------- save / load

  /** VM-wide hypervisor state (clock, CR-pinning configuration, shared pins, audit log). */
  saveState(): VmSavedState {
    return { version: 1, clock: this.clock, pinning: this.pinning.save() };
  }

  /** Restores what saveState returned; validated first, all or nothing (HvError). */
  loadState(state: unknown): void {
    const s = state as Partial<VmSavedState>;
    if (typeof s !== "object" || s === null || s.version !== 1) {
      throw new HvError("bad-state", "VM state: expected an object with version 1");
    }
    if (typeof s.clock !== "number" || !Number.isFinite(s.clock) || s.clock < 0) {
      throw new HvError("bad-state", "VM state: clock must be a non-negative number");
    }
    try {
      this.pinning.load(s.pinning);
    } catch (e) {
      throw e instanceof HvError ? e : new HvError("bad-state", `VM state: ${(e as Error).message}`);
    }
    this.clock = s.clock;
  }

  // ---------------------------------------------------------------- interrupts

  /** Called with the vector of every EOI for a level-triggered interrupt (for the IOAPIC). */
  setEoiListener(listener: (vector: number) => void): void {
    this.eoiListener = listener;
  }

  /** ApicBus: an IPI from `from`'s ICR, delivered to every APIC it addresses (SDM 10.6). */
  sendIpi(from: LocalApic, ipi: Ipi): void {
    const vcpus = this.allVcpus;
    routeIpi(
      vcpus.map((v) => v.apic),
      from,
      ipi,
    );
    for (const v of vcpus) v.kick();
  }

  /**
   * An interrupt message from the VMM's IOAPIC or an MSI (KVM_SIGNAL_MSI), delivered to the
   * local APICs its destination selects (SDM 10.11; the routing is the IPI routing).
   */
  deliverInterrupt(message: InterruptMessage): void {
    if (typeof message !== "object" || message === null) {
      throw new HvError("bad-argument", "deliverInterrupt: expected a message");
    }
    const vcpus = this.allVcpus;
    if (vcpus.length === 0) return;
    routeIpi(
      vcpus.map((v) => v.apic),
      vcpus[0].apic,
      { ...message, level: true, shorthand: "none" },
    );
    for (const v of vcpus) v.kick();
  }

  /** An MSI written by a device: address FEExxxxxH and data as SDM 10.11.1/10.11.2 define them. */
  signalMsi(address: number, data: number): void {
    if (!Number.isInteger(address) || !Number.isInteger(data) || data < 0 || data > 0xffff_ffff) {
      throw new HvError("bad-value", "MSI: address and data must be 32-bit integers");
    }
    address >>>= 0;
    if ((address & 0xfff0_0000) >>> 0 !== 0xfee0_0000) {
      throw new HvError("bad-value", `MSI address 0x${address.toString(16)} is not in the FEExxxxxH range`);
    }
    const modes = ["fixed", "lowest-priority", "smi", undefined, "nmi", "init", undefined, "extint"] as const;
    const deliveryMode = modes[(data >> 8) & 7];
    if (deliveryMode === undefined) {
      throw new HvError("bad-value", `MSI data 0x${data.toString(16)}: reserved delivery mode`);
    }
    this.deliverInterrupt({
      vector: data & 0xff,
      deliveryMode,
      destinationMode: address & 4 ? "logical" : "physical",
      destination: (address >> 12) & 0xff,
      trigger: data & 0x8000 ? "level" : "edge",
    });
  }
}
