/**
 * QEMU's firmware configuration device, fw_cfg (QEMU docs/specs/fw_cfg.rst), through its
 * traditional x86 I/O interface: a 16-bit selector register at port 0x510 picks an item
 * and rewinds it; each byte read from the data register at port 0x511 returns the item's
 * next byte, and 0 past its end (or for an item that does not exist). Writes to the data
 * register are ignored, as in QEMU since 2.4. The DMA interface (port 0x514) is not
 * implemented, so the ID item has only bit 0 (traditional interface) set.
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
 * Register the device for the two ports 0x510-0x511 (`FW_CFG_PORT_SELECTOR`, length 2).
 */
import { openBus, type PortDevice } from "../port-io-bus.js";
import { DeviceStateError, StateReader } from "../devices/device-state.js";
import { encodeE820Table, type E820Entry } from "./e820.js";
import type { AcpiTables } from "./acpi-tables.js";

/** Selector register port (x86). */
export const FW_CFG_PORT_SELECTOR = 0x510;
/** Data register port (x86). */
export const FW_CFG_PORT_DATA = 0x511;

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

  /** Creates the device with the signature, ID and an empty file directory. */
  constructor() {
    this.items.set(FwCfgKey.SIGNATURE, Uint8Array.from([0x51, 0x45, 0x4d, 0x55])); // "QEMU"
    this.items.set(FwCfgKey.ID, fwCfgU32(FW_CFG_VERSION_TRADITIONAL));
    this.rebuildDirectory();
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

  /** Power-on: selector 0 (the signature), offset 0. */
  reset(): void {
    this.selector = 0;
    this.offset = 0;
  }

  /** The state as a plain versioned object. */
  save(): FwCfgState {
    return { version: FW_CFG_STATE_VERSION, selector: this.selector, offset: this.offset };
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
    this.selector = selector;
    this.offset = offset;
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
  const fw = new FwCfg();
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
