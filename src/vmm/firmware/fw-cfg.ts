/**
 * QEMU's firmware configuration device, fw_cfg (QEMU docs/specs/fw_cfg.rst), through its
 * traditional x86 I/O interface: a 16-bit selector register at port 0x510 picks an item
 * and rewinds it; each byte read from the data register at port 0x511 returns the item's
 * next byte, and 0 past its end (or for an item that does not exist). Writes to the data
 * register are ignored, as in QEMU since 2.4.
 *
 * The DMA interface is there when the device is given guest-memory access: the ID item then
 * has bit 1 set, and the 64-bit big-endian DMA address register at 0x514 (high half) and
 * 0x518 (low half; writing it starts the transfer) points at a FWCfgDmaAccess descriptor
 * {BE32 control, BE32 length, BE64 address}. Control bits: SELECT (3, key in bits 31:16),
 * then one of READ (1, bytes past the item's end read as 0), SKIP (2) or WRITE (4, refused:
 * no item is writable); the device writes control back as 0, or with ERROR (0) set. Reading
 * the DMA register returns the signature "QEMU CFG".
 *
 * Items are numbered by 16-bit keys: a few well-known ones (signature "QEMU", ID, RAM size,
 * CPU counts) and named files from key 0x20 on, listed in the file directory (key 0x19):
 * a big-endian count then one 64-byte record per file {BE32 size, BE16 select, BE16
 * reserved, name[56] NUL-padded}, sorted by name as QEMU does.
 *
 * `pcFwCfg` fills in what pinvm's PC offers: "etc/e820" (the E820 map as 20-byte
 * little-endian records, QEMU's layout) and, when given, the ACPI tables as
 * "etc/acpi/rsdp" and "etc/acpi/tables". Unlike QEMU, pinvm has no "etc/table-loader"
 * (the BIOS linker script): the tables are already placed at fixed addresses (pinvm
 * writes them into guest memory itself), and the files just carry those bytes.
 *
 * Register the device for the two ports 0x510-0x511 (`FW_CFG_PORT_SELECTOR`, length 2), and
 * `dmaPort` for the 8 ports 0x514-0x51B when DMA is enabled.
 */
import { openBus, type PortDevice } from "../port-io-bus.js";
import { DeviceStateError, StateReader } from "../devices/device-state.js";
import { encodeE820Table, type E820Entry } from "./e820.js";
import type { AcpiTables } from "./acpi-tables.js";

/** Selector register port (x86). */
export const FW_CFG_PORT_SELECTOR = 0x510;
/** Data register port (x86). */
export const FW_CFG_PORT_DATA = 0x511;
/** DMA address register port (x86): high half at 0x514, low half at 0x518. */
export const FW_CFG_PORT_DMA = 0x514;

/** FWCfgDmaAccess control bits (fw_cfg.rst, "FW_CFG_DMA_CTL_*"). */
export const FwCfgDmaControl = {
  ERROR: 1 << 0,
  READ: 1 << 1,
  SKIP: 1 << 2,
  SELECT: 1 << 3,
  WRITE: 1 << 4,
} as const;

/** What reading the DMA address register returns: "QEMU CFG" as a big-endian 64-bit value. */
export const FW_CFG_DMA_SIGNATURE = "QEMU CFG";

/** Guest-physical memory as the DMA engine reaches it. */
export interface FwCfgGuestMemory {
  /** Copies `length` bytes from `address`; throws if outside RAM. */
  read(address: number, length: number): Uint8Array;
  /** Copies `data` to `address`; throws if outside RAM. */
  write(address: number, data: Uint8Array): void;
}

/** Well-known item keys (fw_cfg.rst, "Selector Reg." table; Linux uapi qemu_fw_cfg.h). */
export const FwCfgKey = {
  SIGNATURE: 0x00,
  ID: 0x01,
  UUID: 0x02,
  RAM_SIZE: 0x03,
  NOGRAPHIC: 0x04,
  NB_CPUS: 0x05,
  MACHINE_ID: 0x06,
  KERNEL_ADDR: 0x07,
  KERNEL_SIZE: 0x08,
  KERNEL_CMDLINE: 0x09,
  INITRD_ADDR: 0x0a,
  INITRD_SIZE: 0x0b,
  BOOT_DEVICE: 0x0c,
  NUMA: 0x0d,
  BOOT_MENU: 0x0e,
  MAX_CPUS: 0x0f,
  KERNEL_ENTRY: 0x10,
  KERNEL_DATA: 0x11,
  INITRD_DATA: 0x12,
  CMDLINE_ADDR: 0x13,
  CMDLINE_SIZE: 0x14,
  CMDLINE_DATA: 0x15,
  SETUP_ADDR: 0x16,
  SETUP_SIZE: 0x17,
  SETUP_DATA: 0x18,
  FILE_DIR: 0x19,
} as const;

/** First key used for files. */
export const FW_CFG_FILE_FIRST = 0x20;
/** Selector bit 14: the item is being written (not supported here: such items read as absent). */
export const FW_CFG_WRITE_CHANNEL = 0x4000;
/** Selector bit 15: architecture-specific item. */
export const FW_CFG_ARCH_LOCAL = 0x8000;
/** Longest file name including its NUL. */
export const FW_CFG_MAX_FILE_PATH = 56;
/** ID item bit 0: the traditional (selector/data) interface is available. */
export const FW_CFG_VERSION_TRADITIONAL = 1 << 0;
/** ID item bit 1: the DMA interface is available (not set by pinvm). */
export const FW_CFG_VERSION_DMA = 1 << 1;
/** Size of one file-directory record. */
export const FW_CFG_FILE_RECORD_BYTES = 64;

/** Version of FwCfgState. */
export const FW_CFG_STATE_VERSION = 1;

/** Saved state: which item is selected and how far it has been read. The items are configuration. */
export interface FwCfgState {
  version: number;
  selector: number;
  offset: number;
  /** High half of the DMA address register, as last written (big-endian bytes as a number). */
  dmaAddressHigh: number;
}

/** A 16-bit little-endian item value. */
export function fwCfgU16(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff, (value >>> 8) & 0xff);
}

/** A 32-bit little-endian item value. */
export function fwCfgU32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return b;
}

/** A 32-bit big-endian value (the DMA descriptor's byte order). */
function fwCfgBe32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, false);
  return b;
}

/** A 64-bit little-endian item value (from a safe integer). */
export function fwCfgU64(value: number): Uint8Array {
  const b = new Uint8Array(8);
  const view = new DataView(b.buffer);
  view.setUint32(0, value % 0x1_0000_0000, true);
  view.setUint32(4, Math.floor(value / 0x1_0000_0000), true);
  return b;
}

interface FileEntry {
  name: string;
  key: number;
}

/** The fw_cfg device. */
export class FwCfg implements PortDevice {
  private readonly items = new Map<number, Uint8Array>();
  private readonly files: FileEntry[] = [];
  private selector = 0;
  private offset = 0;
  /** The DMA address register's high 32 bits (already converted from big-endian). */
  private dmaAddressHigh = 0;
  private readonly memory: FwCfgGuestMemory | undefined;

  /** The DMA address register (ports 0x514-0x51B), present when DMA is enabled. */
  readonly dmaPort: PortDevice | undefined;

  /**
   * Creates the device with the signature, ID and an empty file directory. With `memory`,
   * the DMA interface is enabled and reaches guest RAM through it.
   */
  constructor(memory?: FwCfgGuestMemory) {
    this.memory = memory;
    this.items.set(FwCfgKey.SIGNATURE, Uint8Array.from([0x51, 0x45, 0x4d, 0x55])); // "QEMU"
    this.items.set(FwCfgKey.ID, fwCfgU32(FW_CFG_VERSION_TRADITIONAL | (memory ? FW_CFG_VERSION_DMA : 0)));
    this.rebuildDirectory();
    this.dmaPort = memory
      ? {
          read: (offset, size) => this.readDmaRegister(offset, size),
          write: (o, sz, v) => this.writeDmaRegister(o, sz, v),
        }
      : undefined;
  }

  /** Bytes of the DMA register read back: the signature, byte i at port 0x514 + i. */
  private readDmaRegister(offset: number, size: number): number {
    let v = 0;
    for (let n = 0; n < size; n++) {
      const at = offset + n;
      v |= (at < 8 ? FW_CFG_DMA_SIGNATURE.charCodeAt(at) : 0xff) << (8 * n);
    }
    return v >>> 0;
  }

  /**
   * A 32-bit write of one half of the big-endian address register: the bytes arrive in
   * memory order, so the value of an OUT (little-endian) is the byte-swapped half.
   */
  private writeDmaRegister(offset: number, size: number, value: number): void {
    if (size !== 4 || (offset !== 0 && offset !== 4)) return;
    const half =
      (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;
    if (offset === 0) {
      this.dmaAddressHigh = half;
      return;
    }
    const address = this.dmaAddressHigh * 0x1_0000_0000 + half;
    this.dmaAddressHigh = 0;
    this.runDma(address);
  }

  /** Performs the FWCfgDmaAccess at `address` and writes its control word back. */
  private runDma(address: number): void {
    const memory = this.memory!;
    let descriptor: DataView;
    try {
      descriptor = new DataView(memory.read(address, 16).slice().buffer);
    } catch {
      return; // the descriptor is not in RAM: nothing to report the error into
    }
    let control = descriptor.getUint32(0, false);
    const length = descriptor.getUint32(4, false);
    const target = Number(descriptor.getBigUint64(8, false));
    let error = false;
    if (control & FwCfgDmaControl.SELECT) {
      this.selector = control >>> 16;
      this.offset = 0;
    }
    control &= ~FwCfgDmaControl.SELECT;
    try {
      const data = this.current();
      const available = data === undefined ? 0 : Math.max(0, data.length - this.offset);
      if (control & FwCfgDmaControl.READ) {
        const out = new Uint8Array(length);
        if (data !== undefined)
          out.set(data.subarray(this.offset, this.offset + Math.min(length, available)));
        memory.write(target, out);
        this.offset += Math.min(length, available);
      } else if (control & FwCfgDmaControl.SKIP) {
        this.offset += Math.min(length, available);
      } else if (control & FwCfgDmaControl.WRITE) {
        error = true; // no writable items
      }
    } catch {
      error = true; // the buffer is not in RAM
    }
    try {
      memory.write(address, fwCfgBe32(error ? FwCfgDmaControl.ERROR : 0));
    } catch {
      // unreachable: the descriptor was readable
    }
  }

  /** Sets item `key` (below the file range) to a copy of `data`. */
  setItem(key: number, data: Uint8Array): void {
    if (!Number.isInteger(key) || key < 0 || key >= FW_CFG_FILE_FIRST || key === FwCfgKey.FILE_DIR) {
      throw new RangeError(`fw_cfg: key 0x${Number(key).toString(16)} is not a settable well-known key`);
    }
    this.items.set(key, data.slice());
  }

  /** Adds file `name` with a copy of `data`; returns its selector key. Throws on a bad or duplicate name. */
  addFile(name: string, data: Uint8Array): number {
    if (
      typeof name !== "string" ||
      name.length === 0 ||
      name.length >= FW_CFG_MAX_FILE_PATH ||
      !/^[\x20-\x7e]+$/.test(name)
    ) {
      throw new RangeError(
        `fw_cfg: file name must be 1-55 printable ASCII characters, got ${JSON.stringify(name)}`,
      );
    }
    if (this.files.some((f) => f.name === name))
      throw new RangeError(`fw_cfg: file "${name}" already exists`);
    const key = FW_CFG_FILE_FIRST + this.files.length;
    if (key >= FW_CFG_WRITE_CHANNEL) throw new RangeError("fw_cfg: too many files");
    this.files.push({ name, key });
    this.items.set(key, data.slice());
    this.rebuildDirectory();
    return key;
  }

  /** A copy of the bytes of item `key`, or undefined. */
  item(key: number): Uint8Array | undefined {
    return this.items.get(key)?.slice();
  }

  private rebuildDirectory(): void {
    const sorted = [...this.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const dir = new Uint8Array(4 + sorted.length * FW_CFG_FILE_RECORD_BYTES);
    const view = new DataView(dir.buffer);
    view.setUint32(0, sorted.length, false);
    sorted.forEach((file, i) => {
      const at = 4 + i * FW_CFG_FILE_RECORD_BYTES;
      view.setUint32(at, this.items.get(file.key)!.length, false);
      view.setUint16(at + 4, file.key, false);
      for (let c = 0; c < file.name.length; c++) dir[at + 8 + c] = file.name.charCodeAt(c);
    });
    this.items.set(FwCfgKey.FILE_DIR, dir);
  }

  /** The current item, or undefined when the selected key does not exist. */
  private current(): Uint8Array | undefined {
    return this.items.get(this.selector);
  }

  /** The selected key. */
  get selectedKey(): number {
    return this.selector;
  }

  /** IN at 0x510 + offset: the data register (offset 1) returns the next byte(s). */
  read(offset: number, size: number): number {
    if (offset !== 1) return openBus(size);
    const data = this.current();
    let value = 0;
    for (let n = 0; n < size; n++) {
      const byte = data !== undefined && this.offset < data.length ? data[this.offset] : 0;
      if (data !== undefined && this.offset < data.length) this.offset++;
      value |= byte << (8 * n);
    }
    return value >>> 0;
  }

  /** OUT at 0x510 + offset: a 16-bit write to the selector (offset 0) selects and rewinds. */
  write(offset: number, size: number, value: number): void {
    if (offset === 0 && size === 2) {
      this.selector = value & 0xffff;
      this.offset = 0;
    }
    // Data-register writes (offset 1) are ignored; so are other widths at the selector.
  }

  /** Power-on: selector 0 (the signature), offset 0, DMA address cleared. */
  reset(): void {
    this.selector = 0;
    this.offset = 0;
    this.dmaAddressHigh = 0;
  }

  /** The state as a plain versioned object. */
  save(): FwCfgState {
    return {
      version: FW_CFG_STATE_VERSION,
      selector: this.selector,
      offset: this.offset,
      dmaAddressHigh: this.dmaAddressHigh,
    };
  }

  /** Restores save() output; checks everything first and throws DeviceStateError on bad input. */
  load(state: unknown): void {
    const r = new StateReader("fw_cfg", state, FW_CFG_STATE_VERSION);
    const selector = r.int("selector", 0, 0xffff);
    const length = this.items.get(selector)?.length ?? 0;
    const offset = r.int("offset", 0, Number.MAX_SAFE_INTEGER);
    if (offset > length) {
      throw new DeviceStateError(
        "fw_cfg",
        `offset ${offset} is past the end of item 0x${selector.toString(16)} (${length} bytes)`,
      );
    }
    const dmaAddressHigh = r.int("dmaAddressHigh", 0, 0xffff_ffff);
    this.selector = selector;
    this.offset = offset;
    this.dmaAddressHigh = dmaAddressHigh;
  }
}

/** What pcFwCfg puts in the device. */
export interface PcFwCfgConfig {
  /** RAM size in bytes (item 0x03, 64-bit). */
  ramBytes: number;
  /** Boot CPUs (item 0x05, 16-bit). */
  cpus: number;
  /** Maximum CPUs (item 0x0F, 16-bit; default = cpus). */
  maxCpus?: number;
  /** The E820 map ("etc/e820"). */
  e820: readonly E820Entry[];
  /** ACPI tables ("etc/acpi/rsdp", "etc/acpi/tables"), if any. */
  acpi?: AcpiTables;
  /** Guest memory for the DMA interface; without it there is no DMA. */
  dmaMemory?: FwCfgGuestMemory;
}

/** A FwCfg with the items of a pinvm PC. */
export function pcFwCfg(config: PcFwCfgConfig): FwCfg {
  const maxCpus = config.maxCpus ?? config.cpus;
  if (!Number.isSafeInteger(config.ramBytes) || config.ramBytes < 0)
    throw new RangeError("fw_cfg: bad ramBytes");
  for (const [what, v] of [
    ["cpus", config.cpus],
    ["maxCpus", maxCpus],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffff)
      throw new RangeError(`fw_cfg: ${what} must be in 1..65535`);
  }
  if (maxCpus < config.cpus) throw new RangeError("fw_cfg: maxCpus is below cpus");
  const fw = new FwCfg(config.dmaMemory);
  fw.setItem(FwCfgKey.RAM_SIZE, fwCfgU64(config.ramBytes));
  fw.setItem(FwCfgKey.NB_CPUS, fwCfgU16(config.cpus));
  fw.setItem(FwCfgKey.MAX_CPUS, fwCfgU16(maxCpus));
  fw.addFile("etc/e820", encodeE820Table(config.e820));
  if (config.acpi) {
    fw.addFile("etc/acpi/rsdp", config.acpi.rsdp.bytes);
    fw.addFile("etc/acpi/tables", config.acpi.tables.bytes);
  }
  return fw;
}
