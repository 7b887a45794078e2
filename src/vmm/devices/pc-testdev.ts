/**
 * QEMU's pc-testdev (hw/misc/pc-testdev.c, the device kvm-unit-tests' x86 tests use). Its
 * documented regions, each a separate object here so the VMM registers them separately:
 *
 * - port E0h-E3h `dataPort`: a 32-bit data register, readable and writable at 8, 16 or 32
 *   bits; an access at offset n touches bytes n.. of it (little-endian).
 * - port E4h-E7h `flushPagePort`: a 32-bit write names a guest-physical address; the page
 *   holding it (address & ~FFFh) is flushed (`flushPage(address)`; QEMU re-protects its host
 *   mapping so a KVM test sees the page refetched; our VMM drops its cached translations and
 *   decoded code). Other access sizes are ignored; reads return all-ones.
 * - port E8h-EBh `dataBytePort`: the same data register, but the device only takes byte
 *   accesses: register it `byteWide` so a wide IN/OUT reaches it as consecutive bytes
 *   (tests that the emulator splits I/O correctly).
 * - ports 2000h-2017h `irqPorts`: a one-byte write of v to 2000h+n drives ISA IRQ line n to
 *   (v != 0) through `setIrq(n, level)`.
 * - MMIO FF000000h, 64 KiB `iomem`: plain read/write memory behind an MMIO region, for
 *   MMIO-emulation tests (`readMmio/writeMmio`, offsets relative to FF000000h).
 *
 * Wiring: bus.register("pc-testdev", 0xe0, 4, dev.dataPort);
 * bus.register("pc-testdev-flush", 0xe4, 4, dev.flushPagePort);
 * bus.register("pc-testdev-byte", 0xe8, 4, dev.dataBytePort, true);
 * bus.register("pc-testdev-irq", 0x2000, 24, dev.irqPorts);
 * memory.addMmio(0xff000000, 0x10000, { read: (a, s) => dev.iomem.readMmio(a - 0xff000000, s), ... }).
 * No clock.
 */
import type { PortDevice } from "../port-io-bus.js";
import { DeviceStateError, StateReader } from "./device-state.js";

/** Port of the data register. */
export const PC_TESTDEV_DATA_PORT = 0xe0;
/** Port of the flush-page register. */
export const PC_TESTDEV_FLUSH_PORT = 0xe4;
/** Port of the byte-access data register. */
export const PC_TESTDEV_DATA_BYTE_PORT = 0xe8;
/** First port of the IRQ-line registers. */
export const PC_TESTDEV_IRQ_PORT = 0x2000;
/** Number of IRQ-line registers. */
export const PC_TESTDEV_IRQ_COUNT = 24;
/** Guest-physical base of the test MMIO memory. */
export const PC_TESTDEV_IOMEM_BASE = 0xff000000;
/** Size of the test MMIO memory. */
export const PC_TESTDEV_IOMEM_SIZE = 0x10000;

/** Callbacks of PcTestdev. */
export interface PcTestdevOptions {
  /** Flush the page holding guest-physical `address` from TLBs and decoded-code caches. */
  flushPage?: (address: number) => void;
  /** Drive ISA IRQ line `irq` (0-23). */
  setIrq?: (irq: number, level: boolean) => void;
}

/** Saved state of PcTestdev. */
export interface PcTestdevState {
  version: 1;
  data: number;
  /** The 64 KiB test memory, base64. */
  iomem: string;
}

function sizeMask(size: number): number {
  return size >= 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
}

/** The pc-testdev device. */
export class PcTestdev {
  private data = 0;
  private readonly memory = new Uint8Array(PC_TESTDEV_IOMEM_SIZE);
  private readonly flushPage: (address: number) => void;
  private readonly setIrq: (irq: number, level: boolean) => void;

  /** Ports E0h-E3h: the data register at any width. */
  readonly dataPort: PortDevice = {
    read: (offset, size) => this.readData(offset, size),
    write: (offset, size, value) => this.writeData(offset, size, value),
  };

  /** Ports E8h-EBh: the data register, byte accesses only (register byteWide). */
  readonly dataBytePort: PortDevice = {
    read: (offset) => this.readData(offset, 1),
    write: (offset, _size, value) => this.writeData(offset, 1, value),
  };

  /** Ports E4h-E7h: a 32-bit write flushes a page. */
  readonly flushPagePort: PortDevice = {
    read: (_offset, size) => sizeMask(size),
    write: (offset, size, value) => {
      if (offset === 0 && size === 4) this.flushPage((value >>> 0) & ~0xfff);
    },
  };

  /** Ports 2000h-2017h: a byte write drives ISA IRQ line (port - 2000h). */
  readonly irqPorts: PortDevice = {
    read: (_offset, size) => sizeMask(size),
    write: (offset, size, value) => {
      if (size === 1 && offset < PC_TESTDEV_IRQ_COUNT) this.setIrq(offset, (value & 0xff) !== 0);
    },
  };

  /** The 64 KiB test memory at FF000000h (offsets relative to the base). */
  readonly iomem = {
    readMmio: (offset: number, size: number): number => {
      let v = 0;
      for (let n = 0; n < size && n < 4; n++) v |= (this.memory[(offset + n) & 0xffff] ?? 0) << (8 * n);
      return v >>> 0;
    },
    writeMmio: (offset: number, size: number, value: number): void => {
      for (let n = 0; n < size && n < 4; n++) this.memory[(offset + n) & 0xffff] = (value >>> (8 * n)) & 0xff;
    },
  };

  /** Creates the device with its callbacks. */
  constructor(options: PcTestdevOptions = {}) {
    this.flushPage = options.flushPage ?? (() => {});
    this.setIrq = options.setIrq ?? (() => {});
  }

  private readData(offset: number, size: number): number {
    const shift = 8 * (offset & 3);
    return ((this.data >>> shift) & sizeMask(size)) >>> 0;
  }

  private writeData(offset: number, size: number, value: number): void {
    const shift = 8 * (offset & 3);
    const mask = (sizeMask(size) << shift) >>> 0;
    this.data = ((this.data & ~mask) | ((value << shift) & mask)) >>> 0;
  }

  /** Power-on state: data 0, test memory zeroed. */
  reset(): void {
    this.data = 0;
    this.memory.fill(0);
  }

  /** The state as a plain versioned object. */
  save(): PcTestdevState {
    return { version: 1, data: this.data, iomem: Buffer.from(this.memory).toString("base64") };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("pc-testdev", state, 1);
    const data = r.int("data", 0, 0xffff_ffff);
    const encoded = (state as { iomem?: unknown }).iomem;
    if (typeof encoded !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) {
      throw new DeviceStateError("pc-testdev", "iomem must be a base64 string");
    }
    const bytes = Buffer.from(encoded, "base64");
    if (bytes.length !== PC_TESTDEV_IOMEM_SIZE) {
      throw new DeviceStateError("pc-testdev", `iomem must hold ${PC_TESTDEV_IOMEM_SIZE} bytes`);
    }
    this.data = data;
    this.memory.set(bytes);
  }
}
