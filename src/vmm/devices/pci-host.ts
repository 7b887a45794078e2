/**
 * The PCI host bridge's configuration mechanism #1 (PCI Local Bus Specification 3.0,
 * 3.2.2.3.2): CONFIG_ADDRESS at I/O 0CF8H, a 32-bit register (bit 31 enable, bits 23:16 bus,
 * 15:11 device, 10:8 function, 7:2 register), and CONFIG_DATA at 0CFCH-0CFFH, where byte and
 * word accesses reach the bytes of the selected dword at their offset.
 *
 * Bus 0 device 0 function 0 is the host bridge, identified as QEMU's "pc" machine does as
 * the Intel 440FX PMC (82441FX, vendor 8086H device 1237H, class 06 00 00 host bridge).
 * Other devices can be attached as PciFunction; every absent device/function reads vendor
 * FFFFH (all-ones) and ignores writes, which is how enumeration finds nothing there.
 *
 * Port decoding: 0CF8H is CONFIG_ADDRESS only for 32-bit accesses; byte and word accesses to
 * 0CF8H-0CFBH are ordinary I/O, and the byte at 0CF9H is the reset control register, which
 * another device owns (PIIX3/ICH "RST_CNT"). The PortIoBus claims ports one by one, so the
 * machine should register `PciConfigPortDecoder` for 0CF8H-0CFBH (it sends dword accesses
 * at 0CF8H to this device and other accesses byte by byte to the device behind it, e.g.
 * the reset control at offset 1), and `PciHost.dataPort` for 0CFCH-0CFFH.
 */
import { openBus, type PortDevice } from "../port-io-bus.js";
import { DeviceStateError, StateReader } from "./device-state.js";

/** CONFIG_ADDRESS port. */
export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
/** First CONFIG_DATA port. */
export const PCI_CONFIG_DATA_PORT = 0xcfc;
/** CONFIG_ADDRESS enable bit. */
export const PCI_CONFIG_ENABLE = 0x8000_0000;
/** CONFIG_ADDRESS bits that hold a value: enable, bus, device, function, dword register. */
export const PCI_CONFIG_ADDRESS_MASK = 0x80ff_fffc;

/** Host bridge identity: Intel 82441FX PMC (440FX), as QEMU's i440FX. */
export const I440FX_VENDOR_ID = 0x8086;
/** 82441FX device ID. */
export const I440FX_DEVICE_ID = 0x1237;
/** Revision ID QEMU reports for its i440FX. */
export const I440FX_REVISION = 0x02;

/** Configuration header offsets (PCI 3.0 6.1, Figure 6-1). */
export const PciConfig = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION_ID: 0x08,
  CLASS_PROG: 0x09,
  CLASS_DEVICE: 0x0a,
  HEADER_TYPE: 0x0e,
} as const;

/** One PCI function's configuration space. */
export interface PciFunction {
  /** Reads `size` bytes (1, 2 or 4) at `offset` (0-255, naturally inside one dword). */
  readConfig(offset: number, size: number): number;
  /** Writes `size` bytes at `offset`. */
  writeConfig(offset: number, size: number, value: number): void;
}

/** The 440FX host bridge function: a 256-byte space with a per-byte write mask. */
export class I440fxHostBridge implements PciFunction {
  private readonly config = new Uint8Array(256);
  /** Bits the guest may change, per byte. */
  private readonly writeMask = new Uint8Array(256);

  /** Creates the bridge in its reset state. */
  constructor() {
    // Command: memory space (1) and bus master (2) enables writable; latency timer (0DH);
    // the chipset's own registers 50H-FFH (PAM, SMRAM, DRAM rows) are kept as plain storage:
    // pinvm's memory map does not change when a guest programs them.
    this.writeMask[PciConfig.COMMAND] = 0x06;
    this.writeMask[0x0d] = 0xf8;
    this.writeMask.fill(0xff, 0x50, 0x100);
    this.reset();
  }

  /** Reset values: identity, class, command = memory and bus master enabled. */
  reset(): void {
    const c = this.config;
    c.fill(0);
    const view = new DataView(c.buffer);
    view.setUint16(PciConfig.VENDOR_ID, I440FX_VENDOR_ID, true);
    view.setUint16(PciConfig.DEVICE_ID, I440FX_DEVICE_ID, true);
    view.setUint16(PciConfig.COMMAND, 0x0006, true);
    c[PciConfig.REVISION_ID] = I440FX_REVISION;
    c[PciConfig.CLASS_PROG] = 0x00;
    c[PciConfig.CLASS_DEVICE] = 0x00; // subclass 00: host bridge
    c[PciConfig.CLASS_DEVICE + 1] = 0x06; // base class 06: bridge device
    c[PciConfig.HEADER_TYPE] = 0x00;
  }

  /** Config read. */
  readConfig(offset: number, size: number): number {
    let v = 0;
    for (let n = 0; n < size; n++) v |= this.config[(offset + n) & 0xff] << (8 * n);
    return v >>> 0;
  }

  /** Config write through the write mask. */
  writeConfig(offset: number, size: number, value: number): void {
    for (let n = 0; n < size; n++) {
      const at = (offset + n) & 0xff;
      const mask = this.writeMask[at];
      const byte = (value >>> (8 * n)) & 0xff;
      this.config[at] = (this.config[at] & ~mask) | (byte & mask);
    }
  }

  /** The writable bytes, for saving. */
  saveBytes(): number[] {
    return Array.from(this.config);
  }

  /** The first offset where `bytes` differs from this space in a read-only bit, or -1. */
  readOnlyMismatch(bytes: readonly number[]): number {
    for (let i = 0; i < 256; i++) {
      if ((bytes[i] & ~this.writeMask[i]) !== (this.config[i] & ~this.writeMask[i])) return i;
    }
    return -1;
  }

  /** Restores saveBytes() output (validated: 256 bytes, read-only bits unchanged). */
  loadBytes(bytes: readonly number[]): void {
    for (let i = 0; i < 256; i++) {
      const mask = this.writeMask[i];
      this.config[i] = (this.config[i] & ~mask) | (bytes[i] & mask);
    }
  }
}

/** Version of PciHostState. */
export const PCI_HOST_STATE_VERSION = 1;

/** Saved state of a PciHost. */
export interface PciHostState {
  version: number;
  /** CONFIG_ADDRESS latch. */
  address: number;
  /** The host bridge's 256 configuration bytes. */
  hostBridge: number[];
}

/** The host bridge and its configuration mechanism. */
export class PciHost {
  /** Bus 0 device 0 function 0. */
  readonly hostBridge = new I440fxHostBridge();
  private readonly functions = new Map<number, PciFunction>();
  private address = 0;

  /** The CONFIG_ADDRESS register (one port-wide device for 0CF8H; dword accesses only). */
  readonly addressPort: PortDevice = {
    read: (offset, size) => (offset === 0 && size === 4 ? this.address : openBus(size)),
    write: (offset, size, value) => {
      if (offset === 0 && size === 4) this.address = (value & PCI_CONFIG_ADDRESS_MASK) >>> 0;
    },
  };

  /** CONFIG_DATA, to register for the 4 ports 0CFCH-0CFFH. */
  readonly dataPort: PortDevice = {
    read: (offset, size) => this.readData(offset, size),
    write: (offset, size, value) => this.writeData(offset, size, value),
  };

  /** Creates the host with the 440FX at 00:00.0. */
  constructor() {
    this.functions.set(0, this.hostBridge);
  }

  /** Attaches `fn` at bus 0, `device` (0-31), `func` (0-7). Throws if the slot is taken. */
  attach(device: number, func: number, fn: PciFunction): void {
    if (
      !Number.isInteger(device) ||
      device < 0 ||
      device > 31 ||
      !Number.isInteger(func) ||
      func < 0 ||
      func > 7
    ) {
      throw new RangeError(`pci: bad device/function ${device}.${func}`);
    }
    const devfn = (device << 3) | func;
    if (this.functions.has(devfn)) throw new RangeError(`pci: 00:${device}.${func} is already taken`);
    this.functions.set(devfn, fn);
  }

  /** The latched CONFIG_ADDRESS. */
  get configAddress(): number {
    return this.address;
  }

  /** Power-on: address latch cleared, host bridge registers at their defaults. */
  reset(): void {
    this.address = 0;
    this.hostBridge.reset();
  }

  /** The function the latched address selects, or undefined (disabled or absent). */
  private selected(): PciFunction | undefined {
    const a = this.address;
    if (!(a & PCI_CONFIG_ENABLE)) return undefined;
    if ((a >>> 16) & 0xff) return undefined; // only bus 0 exists
    return this.functions.get((a >>> 8) & 0xff);
  }

  private readData(offset: number, size: number): number {
    const fn = this.selected();
    if (fn === undefined || offset + size > 4) return openBus(size);
    return fn.readConfig((this.address & 0xfc) + offset, size);
  }

  private writeData(offset: number, size: number, value: number): void {
    const fn = this.selected();
    if (fn === undefined || offset + size > 4) return;
    fn.writeConfig((this.address & 0xfc) + offset, size, value);
  }

  /** The state as a plain versioned object. */
  save(): PciHostState {
    return {
      version: PCI_HOST_STATE_VERSION,
      address: this.address,
      hostBridge: this.hostBridge.saveBytes(),
    };
  }

  /** Restores save() output; checks everything first and throws DeviceStateError on bad input. */
  load(state: unknown): void {
    const r = new StateReader("pci-host", state, PCI_HOST_STATE_VERSION);
    const address = r.int("address", 0, 0xffff_ffff);
    if (address & ~PCI_CONFIG_ADDRESS_MASK) {
      throw new DeviceStateError("pci-host", "address sets reserved CONFIG_ADDRESS bits (30:24, 1:0)");
    }
    const bytes = r.ints("hostBridge", 0, 0xff, { exact: 256 });
    const mismatch = this.hostBridge.readOnlyMismatch(bytes);
    if (mismatch >= 0) {
      throw new DeviceStateError(
        "pci-host",
        `hostBridge[${mismatch}] changes read-only bits (not a 440FX host bridge's state)`,
      );
    }
    this.address = address;
    this.hostBridge.loadBytes(bytes);
  }
}

/**
 * One PortDevice for ports 0CF8H-0CFBH that decodes them as the PIIX/ICH does: a dword
 * access at 0CF8H is CONFIG_ADDRESS; any other access goes byte by byte to `other` (offsets
 * 0-3, i.e. 0CF9H is offset 1), which is where the reset control register lives. Bytes
 * `other` does not decode should read FFH.
 */
export class PciConfigPortDecoder implements PortDevice {
  /** Wraps the host's address register and the device behind it. */
  constructor(
    private readonly host: PciHost,
    private readonly other: PortDevice,
  ) {}

  /** IN at 0CF8H + offset. */
  read(offset: number, size: number): number {
    if (offset === 0 && size === 4) return this.host.addressPort.read(0, 4);
    let v = 0;
    for (let n = 0; n < size; n++) v |= (this.other.read(offset + n, 1) & 0xff) << (8 * n);
    return v >>> 0;
  }

  /** OUT at 0CF8H + offset. */
  write(offset: number, size: number, value: number): void {
    if (offset === 0 && size === 4) {
      this.host.addressPort.write(0, 4, value);
      return;
    }
    for (let n = 0; n < size; n++) this.other.write(offset + n, 1, (value >>> (8 * n)) & 0xff);
  }
}
