/**
 * The ACPI tables of a pinvm PC (ACPI Specification 6.5, chapter 5): RSDP (revision 2, with
 * an XSDT), RSDT, XSDT, FADT (revision 6), FACS, a DSDT and a MADT. Pure functions: they
 * return bytes and the addresses the caller asked for; writing them into guest memory (or
 * serving them through fw_cfg) is the caller's business.
 *
 * Placement: the RSDP goes in the BIOS read-only area E0000H-FFFFFH on a 16-byte boundary,
 * where an OS finds it by scanning for "RSD PTR " (ACPI 6.5 5.2.5.1); the other tables form
 * one block at an address the caller chooses (FACS first, 64-byte aligned as 5.2.10
 * requires), below 4 GiB so the RSDT's 32-bit pointers reach it.
 *
 * The DSDT holds only the \_S5 package (ACPI 6.5 7.4.2) that tells OSPM which SLP_TYP value
 * powers the machine off; there are no device objects (no _PRT, no PCI root bridge), so a
 * guest OS finds its devices through legacy probing, the MADT and PCI configuration space.
 */

/** Default local APIC address (SDM Vol.3 11.4.1; MADT "Local Interrupt Controller Address"). */
export const LOCAL_APIC_ADDRESS = 0xfee0_0000;

/** Default I/O APIC address (82093AA datasheet; QEMU's and every PC's choice). */
export const IO_APIC_ADDRESS = 0xfec0_0000;

/** Where the RSDP goes unless the caller says otherwise. */
export const DEFAULT_RSDP_ADDRESS = 0xe0000;

/** Where the other tables go unless the caller says otherwise (right after the RSDP). */
export const DEFAULT_TABLES_ADDRESS = 0xe0040;

/** Size of the RSDP structure of revision 2 (ACPI 6.5 5.2.5.3). */
export const RSDP_LENGTH = 36;

/** Size of the system description table header (ACPI 6.5 5.2.6). */
export const SDT_HEADER_LENGTH = 36;

/** Size of a revision 6 FADT (ACPI 6.5 5.2.9, through the Hypervisor Vendor Identity). */
export const FADT_LENGTH = 276;

/** Size of the FACS (ACPI 6.5 5.2.10). */
export const FACS_LENGTH = 64;

/** FADT fixed feature flags (ACPI 6.5 5.2.9, table "Fixed ACPI Description Table Fixed Feature Flags"). */
export const FadtFlag = {
  WBINVD: 1 << 0,
  WBINVD_FLUSH: 1 << 1,
  PROC_C1: 1 << 2,
  P_LVL2_UP: 1 << 3,
  /** Set: the power button is a control-method device (or absent), not the fixed feature. */
  PWR_BUTTON: 1 << 4,
  /** Set: the sleep button is a control-method device (or absent). */
  SLP_BUTTON: 1 << 5,
  FIX_RTC: 1 << 6,
  RTC_S4: 1 << 7,
  /** The PM timer is 32 bits wide (clear: 24 bits). */
  TMR_VAL_EXT: 1 << 8,
  DCK_CAP: 1 << 9,
  /** The RESET_REG / RESET_VALUE fields are valid. */
  RESET_REG_SUP: 1 << 10,
  SEALED_CASE: 1 << 11,
  HEADLESS: 1 << 12,
  CPU_SW_SLP: 1 << 13,
  PCI_EXP_WAK: 1 << 14,
  USE_PLATFORM_CLOCK: 1 << 15,
  S4_RTC_STS_VALID: 1 << 16,
  REMOTE_POWER_ON_CAPABLE: 1 << 17,
  FORCE_APIC_CLUSTER_MODEL: 1 << 18,
  FORCE_APIC_PHYSICAL_DESTINATION_MODE: 1 << 19,
  HW_REDUCED_ACPI: 1 << 20,
  LOW_POWER_S0_IDLE_CAPABLE: 1 << 21,
} as const;

/** IA-PC boot architecture flags (ACPI 6.5 5.2.9.3). */
export const IapcBootArch = {
  /** The motherboard has user-visible ISA/LPC devices (legacy probing is safe). */
  LEGACY_DEVICES: 1 << 0,
  /** An 8042 (keyboard controller) is present at ports 60h/64h. */
  KBC_8042: 1 << 1,
} as const;

/** MADT interrupt controller structure types (ACPI 6.5 5.2.12, table "Interrupt Controller Structure Types"). */
export const MadtEntryType = {
  ProcessorLocalApic: 0,
  IoApic: 1,
  InterruptSourceOverride: 2,
  LocalApicNmi: 4,
} as const;

/** MPS INTI flags of an interrupt source override (ACPI 6.5 5.2.12.5, table "MPS INTI Flags"). */
export const MpsIntiFlag = {
  /** Polarity bits 1:0 = 01: active high. */
  ActiveHigh: 0b01,
  /** Polarity bits 1:0 = 11: active low. */
  ActiveLow: 0b11,
  /** Trigger mode bits 3:2 = 01: edge. */
  Edge: 0b01 << 2,
  /** Trigger mode bits 3:2 = 11: level. */
  Level: 0b11 << 2,
} as const;

/** The fixed-hardware register blocks of the ACPI PM device, as I/O port addresses. */
export interface AcpiPmBlocks {
  /** PM1a_EVT_BLK: PM1_STS and PM1_EN (4 bytes). */
  eventBlock: number;
  /** PM1a_CNT_BLK: PM1_CNT (2 bytes). */
  controlBlock: number;
  /** PM_TMR_BLK: the power-management timer (4 bytes). */
  timerBlock: number;
  /** The timer counts 32 bits (FADT TMR_VAL_EXT); otherwise 24. */
  timer32Bit: boolean;
}

/** What the tables describe. */
export interface AcpiPlatform {
  /** Local APIC ID of each processor; each gets a Processor Local APIC entry, UID = index. */
  apicIds: readonly number[];
  /** PM register blocks. */
  pm: AcpiPmBlocks;
  /** ISA IRQ of the SCI (default 9, as PIIX4/ICH9 and QEMU). */
  sciIrq?: number;
  /** The reset register: an I/O port and the value to write (default CF9H, 06H). */
  reset?: { port: number; value: number };
  /** SLP_TYP value for S5 (soft off), placed in the DSDT's \_S5 (default 0, as QEMU's PIIX4/ICH9 PM). */
  s5SleepType?: number;
  /** I/O APIC ID (default 0, as QEMU). */
  ioApicId?: number;
  /** IAPC_BOOT_ARCH (default LEGACY_DEVICES | KBC_8042, as QEMU's pc machine). */
  iapcBootArch?: number;
}

/** Where to put the tables. */
export interface AcpiPlacement {
  /** RSDP address: 16-byte aligned, inside E0000H-FFFFFH. */
  rsdpAddress: number;
  /** Address of the block with the other tables: 64-byte aligned, below 4 GiB. */
  tablesAddress: number;
}

/** A piece of bytes and the guest-physical address it belongs at. */
export interface AcpiBlob {
  address: number;
  bytes: Uint8Array;
}

/** The tables built by buildAcpiTables. */
export interface AcpiTables {
  /** The RSDP. */
  rsdp: AcpiBlob;
  /** FACS, DSDT, FADT, MADT, RSDT and XSDT, one after another. */
  tables: AcpiBlob;
  /** Address of each table inside `tables`. */
  addresses: { facs: number; dsdt: number; fadt: number; madt: number; rsdt: number; xsdt: number };
}

/** OEMID of every table (6 characters). */
export const ACPI_OEM_ID = "PINVM ";
/** OEM Table ID of every table (8 characters). */
export const ACPI_OEM_TABLE_ID = "PINVMPC ";
const CREATOR_ID = "PNVM";

function ascii(bytes: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i);
}

/** Sets the byte at `offset` so that all bytes of `bytes[start, end)` sum to 0 mod 256. */
function fixChecksum(bytes: Uint8Array, offset: number, start = 0, end = bytes.length): void {
  bytes[offset] = 0;
  let sum = 0;
  for (let i = start; i < end; i++) sum += bytes[i];
  bytes[offset] = (256 - (sum & 0xff)) & 0xff;
}

/** Sum of the bytes mod 256 (0 for a valid ACPI checksum). */
export function acpiChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum += b;
  return sum & 0xff;
}

/**
 * A table with its 36-byte header (ACPI 6.5 5.2.6): signature, length, revision, checksum,
 * OEMID, OEM table ID, OEM revision, creator ID and revision. `body` follows the header.
 */
function sdt(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(SDT_HEADER_LENGTH + body.length);
  const view = new DataView(bytes.buffer);
  ascii(bytes, 0, signature);
  view.setUint32(4, bytes.length, true);
  bytes[8] = revision;
  ascii(bytes, 10, ACPI_OEM_ID);
  ascii(bytes, 16, ACPI_OEM_TABLE_ID);
  view.setUint32(24, 1, true);
  ascii(bytes, 28, CREATOR_ID);
  view.setUint32(32, 1, true);
  bytes.set(body, SDT_HEADER_LENGTH);
  fixChecksum(bytes, 9);
  return bytes;
}

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** Generic Address Structure (ACPI 6.5 5.2.3.2) for a System I/O register. */
function ioGas(view: DataView, offset: number, port: number, bitWidth: number, accessSize: number): void {
  view.setUint8(offset, 1); // Address Space ID 1: System I/O
  view.setUint8(offset + 1, bitWidth);
  view.setUint8(offset + 2, 0); // bit offset
  view.setUint8(offset + 3, accessSize); // 1 byte, 2 word, 3 dword
  setU64(view, offset + 4, port);
}

/** One AML integer as ZeroOp, OneOp or BytePrefix (ACPI 6.5 20.2.3). */
function amlByteInteger(value: number): number[] {
  if (value === 0) return [0x00];
  if (value === 1) return [0x01];
  return [0x0a, value];
}

/**
 * The DSDT's AML: `Name (_S5, Package (4) { typ, typ, 0, 0 })` (ACPI 6.5 7.4.2: PM1a and
 * PM1b SLP_TYP values, then two reserved entries). NameOp 08H, PackageOp 12H, a one-byte
 * PkgLength (20.2.4) and NumElements (20.2.5.4).
 */
export function dsdtAml(s5SleepType: number): Uint8Array {
  const elements = [
    ...amlByteInteger(s5SleepType),
    ...amlByteInteger(s5SleepType),
    ...amlByteInteger(0),
    ...amlByteInteger(0),
  ];
  const pkgLength = 1 + 1 + elements.length;
  return Uint8Array.from([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, pkgLength, 4, ...elements]);
}

function buildFacs(): Uint8Array {
  // ACPI 6.5 5.2.10 (FACS): no checksum; version 2; waking vectors 0 (no S3 resume).
  const bytes = new Uint8Array(FACS_LENGTH);
  const view = new DataView(bytes.buffer);
  ascii(bytes, 0, "FACS");
  view.setUint32(4, FACS_LENGTH, true);
  bytes[32] = 2;
  return bytes;
}

function buildMadt(platform: AcpiPlatform, sciIrq: number): Uint8Array {
  // ACPI 6.5 5.2.12: Local Interrupt Controller Address, Flags (PCAT_COMPAT: dual 8259s),
  // then the interrupt controller structures.
  const entries: number[] = [];
  const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  platform.apicIds.forEach((apicId, uid) => {
    // 5.2.12.2 Processor Local APIC: type 0, length 8, UID, APIC ID, flags (bit 0 Enabled).
    entries.push(MadtEntryType.ProcessorLocalApic, 8, uid, apicId, ...u32(1));
  });
  // 5.2.12.3 I/O APIC: type 1, length 12, ID, reserved, address, GSI base.
  entries.push(MadtEntryType.IoApic, 12, platform.ioApicId ?? 0, 0, ...u32(IO_APIC_ADDRESS), ...u32(0));
  // 5.2.12.5 Interrupt Source Override: type 2, length 10, bus 0 (ISA), source, GSI, flags.
  // IRQ0 (the PIT) is wired to I/O APIC pin 2; the SCI is level-triggered active-high.
  entries.push(MadtEntryType.InterruptSourceOverride, 10, 0, 0, ...u32(2), 0, 0);
  const sciFlags = MpsIntiFlag.ActiveHigh | MpsIntiFlag.Level;
  entries.push(MadtEntryType.InterruptSourceOverride, 10, 0, sciIrq, ...u32(sciIrq), sciFlags, 0);
  // 5.2.12.7 Local APIC NMI: type 4, length 6, UID FFH (all processors), flags 0, LINT1.
  entries.push(MadtEntryType.LocalApicNmi, 6, 0xff, 0, 0, 1);
  const body = new Uint8Array(8 + entries.length);
  const view = new DataView(body.buffer);
  view.setUint32(0, LOCAL_APIC_ADDRESS, true);
  view.setUint32(4, 1, true); // PCAT_COMPAT
  body.set(entries, 8);
  return sdt("APIC", 1, body);
}

function buildFadt(platform: AcpiPlatform, facs: number, dsdt: number, sciIrq: number): Uint8Array {
  // ACPI 6.5 5.2.9, table "FADT Format": offsets below are from the start of the table.
  const bytes = new Uint8Array(FADT_LENGTH);
  const view = new DataView(bytes.buffer);
  const pm = platform.pm;
  const reset = platform.reset ?? { port: 0xcf9, value: 0x06 };
  view.setUint32(36, facs, true); // FIRMWARE_CTRL
  view.setUint32(40, dsdt, true); // DSDT
  bytes[45] = 0; // Preferred_PM_Profile: unspecified
  view.setUint16(46, sciIrq, true); // SCI_INT
  view.setUint32(48, 0, true); // SMI_CMD 0: no SMM hand-off; the machine is always in ACPI mode
  view.setUint32(56, pm.eventBlock, true); // PM1a_EVT_BLK
  view.setUint32(64, pm.controlBlock, true); // PM1a_CNT_BLK
  view.setUint32(76, pm.timerBlock, true); // PM_TMR_BLK
  bytes[88] = 4; // PM1_EVT_LEN
  bytes[89] = 2; // PM1_CNT_LEN
  bytes[91] = 4; // PM_TMR_LEN
  view.setUint16(96, 101, true); // P_LVL2_LAT > 100: C2 not supported
  view.setUint16(98, 1001, true); // P_LVL3_LAT > 1000: C3 not supported
  bytes[108] = 0x32; // CENTURY: CMOS RAM index of the century byte
  view.setUint16(109, platform.iapcBootArch ?? IapcBootArch.LEGACY_DEVICES | IapcBootArch.KBC_8042, true);
  const flags =
    FadtFlag.WBINVD |
    FadtFlag.PROC_C1 |
    FadtFlag.SLP_BUTTON |
    FadtFlag.RTC_S4 |
    FadtFlag.RESET_REG_SUP |
    (pm.timer32Bit ? FadtFlag.TMR_VAL_EXT : 0);
  view.setUint32(112, flags, true);
  ioGas(view, 116, reset.port, 8, 1); // RESET_REG
  bytes[128] = reset.value; // RESET_VALUE
  bytes[131] = 5; // FADT Minor Version: ACPI 6.5
  setU64(view, 132, 0); // X_FIRMWARE_CTRL: 0, FIRMWARE_CTRL is used
  setU64(view, 140, dsdt); // X_DSDT
  ioGas(view, 148, pm.eventBlock, 32, 2); // X_PM1a_EVT_BLK
  ioGas(view, 172, pm.controlBlock, 16, 2); // X_PM1a_CNT_BLK
  ioGas(view, 208, pm.timerBlock, 32, 3); // X_PM_TMR_BLK
  return sdt("FACP", 6, bytes.subarray(SDT_HEADER_LENGTH));
}

function checkAddress(what: string, value: number, align: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max || value % align !== 0) {
    throw new RangeError(
      `${what}: 0x${Number(value).toString(16)} must be ${align}-byte aligned in 0x${min.toString(16)}..0x${max.toString(16)}`,
    );
  }
}

function checkPlatform(platform: AcpiPlatform): void {
  const ids = platform.apicIds;
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > 255) {
    throw new RangeError("apicIds: expected 1 to 255 local APIC IDs");
  }
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id > 254)
      throw new RangeError(`apicIds[${i}]: ${id} is not in 0..254`);
    if (ids.indexOf(id) !== i) throw new RangeError(`apicIds: ${id} appears twice`);
  });
  const port = (what: string, v: unknown): void => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new RangeError(`${what}: ${String(v)} is not an I/O port`);
    }
  };
  port("pm.eventBlock", platform.pm.eventBlock);
  port("pm.controlBlock", platform.pm.controlBlock);
  port("pm.timerBlock", platform.pm.timerBlock);
  if (platform.reset) port("reset.port", platform.reset.port);
  const byte = (what: string, v: number | undefined, max: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > max)) {
      throw new RangeError(`${what}: ${v} is not in 0..${max}`);
    }
  };
  byte("reset.value", platform.reset?.value, 0xff);
  byte("sciIrq", platform.sciIrq, 15);
  byte("s5SleepType", platform.s5SleepType, 7);
  byte("ioApicId", platform.ioApicId, 0xff);
  byte("iapcBootArch", platform.iapcBootArch, 0xffff);
}

/**
 * Builds the RSDP and the tables for `platform` at `placement`. Throws RangeError for a
 * placement the spec does not allow or a platform value out of range.
 */
export function buildAcpiTables(
  platform: AcpiPlatform,
  placement: AcpiPlacement = { rsdpAddress: DEFAULT_RSDP_ADDRESS, tablesAddress: DEFAULT_TABLES_ADDRESS },
): AcpiTables {
  checkPlatform(platform);
  checkAddress("rsdpAddress", placement.rsdpAddress, 16, 0xe0000, 0x10_0000 - RSDP_LENGTH);
  checkAddress("tablesAddress", placement.tablesAddress, 64, 0, 0xffff_0000);
  const sciIrq = platform.sciIrq ?? 9;

  const parts: Uint8Array[] = [];
  let cursor = placement.tablesAddress;
  const place = (table: Uint8Array): number => {
    const at = cursor;
    parts.push(table);
    const padded = (table.length + 15) & ~15; // keep every table 16-byte aligned
    if (padded > table.length) parts.push(new Uint8Array(padded - table.length));
    cursor += padded;
    return at;
  };
  const facs = place(buildFacs());
  const dsdt = place(sdt("DSDT", 2, dsdtAml(platform.s5SleepType ?? 0)));
  const fadt = place(buildFadt(platform, facs, dsdt, sciIrq));
  const madt = place(buildMadt(platform, sciIrq));
  const pointers = [fadt, madt];
  const rsdtBody = new Uint8Array(4 * pointers.length);
  const xsdtBody = new Uint8Array(8 * pointers.length);
  pointers.forEach((p, i) => {
    new DataView(rsdtBody.buffer).setUint32(4 * i, p, true);
    setU64(new DataView(xsdtBody.buffer), 8 * i, p);
  });
  const rsdt = place(sdt("RSDT", 1, rsdtBody));
  const xsdt = place(sdt("XSDT", 1, xsdtBody));
  const tables = new Uint8Array(cursor - placement.tablesAddress);
  let at = 0;
  for (const part of parts) {
    tables.set(part, at);
    at += part.length;
  }
  if (cursor > 0x1_0000_0000) throw new RangeError("tablesAddress: the tables would extend past 4 GiB");
  if (placement.tablesAddress < placement.rsdpAddress + RSDP_LENGTH && placement.rsdpAddress < cursor) {
    throw new RangeError(
      `tablesAddress: the tables (0x${placement.tablesAddress.toString(16)}..0x${cursor.toString(16)}) overlap the RSDP`,
    );
  }

  // ACPI 6.5 5.2.5.3: "RSD PTR ", checksum of the first 20 bytes, OEMID, revision 2, RSDT
  // address, length, XSDT address, extended checksum of all 36 bytes, 3 reserved bytes.
  const rsdp = new Uint8Array(RSDP_LENGTH);
  const rview = new DataView(rsdp.buffer);
  ascii(rsdp, 0, "RSD PTR ");
  ascii(rsdp, 9, ACPI_OEM_ID);
  rsdp[15] = 2;
  rview.setUint32(16, rsdt, true);
  rview.setUint32(20, RSDP_LENGTH, true);
  setU64(rview, 24, xsdt);
  fixChecksum(rsdp, 8, 0, 20);
  fixChecksum(rsdp, 32, 0, RSDP_LENGTH);

  return {
    rsdp: { address: placement.rsdpAddress, bytes: rsdp },
    tables: { address: placement.tablesAddress, bytes: tables },
    addresses: { facs, dsdt, fadt, madt, rsdt, xsdt },
  };
}
