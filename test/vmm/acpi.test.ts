/**
 * Tests of the ACPI tables, parsed back independently of the builder: every checksum, the
 * RSDP (ACPI 6.5 5.2.5.3), the RSDT/XSDT pointers (5.2.7, 5.2.8), the FADT fields at their
 * "FADT Format" offsets (5.2.9), the FACS (5.2.10), the MADT structures (5.2.12) and the DSDT's
 * \_S5 package (7.4.2, AML encoding of chapter 20).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildAcpiTables, type AcpiPlatform, type AcpiTables } from "../../src/vmm/firmware/acpi-tables.js";

const PLATFORM: AcpiPlatform = {
  apicIds: [0, 1, 2],
  pm: { eventBlock: 0x600, controlBlock: 0x604, timerBlock: 0x608, timer32Bit: false },
};

function sum(bytes: Uint8Array): number {
  return bytes.reduce((a, b) => a + b, 0) & 0xff;
}

function text(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

/** A flat view of guest memory holding the RSDP and the table block. */
function memoryOf(t: AcpiTables): (address: number, length: number) => Uint8Array {
  return (address, length) => {
    if (address >= t.rsdp.address && address + length <= t.rsdp.address + t.rsdp.bytes.length) {
      return t.rsdp.bytes.subarray(address - t.rsdp.address, address - t.rsdp.address + length);
    }
    const at = address - t.tables.address;
    assert.ok(
      at >= 0 && at + length <= t.tables.bytes.length,
      `0x${address.toString(16)} is outside the tables`,
    );
    return t.tables.bytes.subarray(at, at + length);
  };
}

/** Reads a whole SDT at `address` and checks header length and checksum. */
function table(read: (a: number, l: number) => Uint8Array, address: number, signature: string): Uint8Array {
  const header = read(address, 36);
  assert.equal(text(header, 0, 4), signature);
  const length = new DataView(header.buffer, header.byteOffset).getUint32(4, true);
  const bytes = read(address, length);
  assert.equal(sum(bytes), 0, `${signature} checksum`);
  return bytes;
}

test("RSDP: signature, revision 2, both checksums, RSDT and XSDT addresses", () => {
  const t = buildAcpiTables(PLATFORM);
  const r = t.rsdp.bytes;
  assert.equal(t.rsdp.address % 16, 0);
  assert.ok(t.rsdp.address >= 0xe0000 && t.rsdp.address < 0x100000);
  assert.equal(text(r, 0, 8), "RSD PTR ");
  assert.equal(sum(r.subarray(0, 20)), 0, "ACPI 1.0 checksum over the first 20 bytes");
  assert.equal(sum(r), 0, "extended checksum");
  assert.equal(r[15], 2);
  const view = new DataView(r.buffer);
  assert.equal(view.getUint32(20, true), 36);
  assert.equal(view.getUint32(16, true), t.addresses.rsdt);
  assert.equal(view.getBigUint64(24, true), BigInt(t.addresses.xsdt));
});

test("RSDT and XSDT point at the FADT and the MADT", () => {
  const t = buildAcpiTables(PLATFORM);
  const read = memoryOf(t);
  const rsdt = table(read, t.addresses.rsdt, "RSDT");
  const xsdt = table(read, t.addresses.xsdt, "XSDT");
  const rv = new DataView(rsdt.buffer, rsdt.byteOffset, rsdt.length);
  const xv = new DataView(xsdt.buffer, xsdt.byteOffset, xsdt.length);
  const fromRsdt = [36, 40].map((o) => rv.getUint32(o, true));
  const fromXsdt = [36, 44].map((o) => Number(xv.getBigUint64(o, true)));
  assert.equal(rsdt.length, 44);
  assert.equal(xsdt.length, 52);
  assert.deepEqual(fromRsdt, fromXsdt);
  const signatures = fromRsdt.map((a) => text(read(a, 4), 0, 4));
  assert.deepEqual(signatures, ["FACP", "APIC"]);
});

test('FADT: PM blocks, SCI, reset register, flags, DSDT and FACS at their "FADT Format" offsets', () => {
  const t = buildAcpiTables(PLATFORM);
  const read = memoryOf(t);
  const f = table(read, t.addresses.fadt, "FACP");
  const v = new DataView(f.buffer, f.byteOffset, f.length);
  assert.equal(f.length, 276);
  assert.equal(f[8], 6, "revision 6");
  assert.equal(f[131], 5, "minor version");
  assert.equal(v.getUint32(36, true), t.addresses.facs);
  assert.equal(v.getUint32(40, true), t.addresses.dsdt);
  assert.equal(v.getBigUint64(140, true), BigInt(t.addresses.dsdt), "X_DSDT");
  assert.equal(v.getUint16(46, true), 9, "SCI_INT");
  assert.equal(v.getUint32(48, true), 0, "SMI_CMD");
  assert.equal(v.getUint32(56, true), 0x600, "PM1a_EVT_BLK");
  assert.equal(v.getUint32(64, true), 0x604, "PM1a_CNT_BLK");
  assert.equal(v.getUint32(76, true), 0x608, "PM_TMR_BLK");
  assert.deepEqual([f[88], f[89], f[91]], [4, 2, 4], "PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN");
  const flags = v.getUint32(112, true);
  assert.ok(flags & (1 << 10), "RESET_REG_SUP");
  assert.equal(flags & (1 << 8), 0, "24-bit timer: TMR_VAL_EXT clear");
  assert.ok(flags & (1 << 0), "WBINVD");
  assert.equal(flags & (1 << 20), 0, "not HW-reduced");
  // RESET_REG: GAS in System I/O space, 8 bits, port CF9H; RESET_VALUE 06H.
  assert.deepEqual([f[116], f[117], f[118]], [1, 8, 0]);
  assert.equal(v.getBigUint64(120, true), 0xcf9n);
  assert.equal(f[128], 0x06);
  // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK.
  assert.deepEqual([f[148], f[149], v.getBigUint64(152, true)], [1, 32, 0x600n]);
  assert.deepEqual([f[172], f[173], v.getBigUint64(176, true)], [1, 16, 0x604n]);
  assert.deepEqual([f[208], f[209], v.getBigUint64(212, true)], [1, 32, 0x608n]);
});

test("FADT: a 32-bit timer sets TMR_VAL_EXT; the reset register and SCI follow the platform", () => {
  const t = buildAcpiTables({
    ...PLATFORM,
    pm: { ...PLATFORM.pm, timer32Bit: true },
    reset: { port: 0xcf9, value: 0x0f },
    sciIrq: 11,
  });
  const f = table(memoryOf(t), t.addresses.fadt, "FACP");
  const v = new DataView(f.buffer, f.byteOffset, f.length);
  assert.ok(v.getUint32(112, true) & (1 << 8));
  assert.equal(f[128], 0x0f);
  assert.equal(v.getUint16(46, true), 11);
});

test("FACS: 64-byte aligned, signature, length 64, version 2", () => {
  const t = buildAcpiTables(PLATFORM);
  assert.equal(t.addresses.facs % 64, 0);
  const facs = memoryOf(t)(t.addresses.facs, 64);
  assert.equal(text(facs, 0, 4), "FACS");
  assert.equal(new DataView(facs.buffer, facs.byteOffset).getUint32(4, true), 64);
  assert.equal(facs[32], 2);
});

test("MADT: LAPIC address, PCAT_COMPAT, one enabled LAPIC per CPU, IOAPIC, overrides, NMI", () => {
  const t = buildAcpiTables(PLATFORM);
  const m = table(memoryOf(t), t.addresses.madt, "APIC");
  const v = new DataView(m.buffer, m.byteOffset, m.length);
  assert.equal(v.getUint32(36, true), 0xfee00000);
  assert.equal(v.getUint32(40, true) & 1, 1);
  const entries: { type: number; body: Uint8Array; view: DataView }[] = [];
  for (let at = 44; at < m.length;) {
    const length = m[at + 1];
    assert.ok(length >= 2, "entry length");
    entries.push({
      type: m[at],
      body: m.subarray(at, at + length),
      view: new DataView(m.buffer, m.byteOffset + at, length),
    });
    at += length;
  }
  const lapics = entries.filter((e) => e.type === 0);
  assert.deepEqual(
    lapics.map((e) => [e.body.length, e.body[2], e.body[3], e.view.getUint32(4, true) & 1]),
    [
      [8, 0, 0, 1],
      [8, 1, 1, 1],
      [8, 2, 2, 1],
    ],
  );
  const ioapics = entries.filter((e) => e.type === 1);
  assert.equal(ioapics.length, 1);
  assert.equal(ioapics[0].body.length, 12);
  assert.equal(ioapics[0].view.getUint32(4, true), 0xfec00000);
  assert.equal(ioapics[0].view.getUint32(8, true), 0, "GSI base");
  const overrides = entries
    .filter((e) => e.type === 2)
    .map((e) => ({
      bus: e.body[2],
      irq: e.body[3],
      gsi: e.view.getUint32(4, true),
      flags: e.view.getUint16(8, true),
    }));
  assert.deepEqual(overrides, [
    { bus: 0, irq: 0, gsi: 2, flags: 0 },
    // Polarity 01 (active high), trigger mode 11 (level): 0x000D.
    { bus: 0, irq: 9, gsi: 9, flags: 0x000d },
  ]);
  const nmi = entries.filter((e) => e.type === 4);
  assert.equal(nmi.length, 1);
  assert.deepEqual([nmi[0].body[2], nmi[0].body[5]], [0xff, 1], "all processors, LINT1");
});

test("DSDT: header with a valid checksum and Name(_S5, Package(4){typ, typ, 0, 0})", () => {
  for (const s5 of [0, 5]) {
    const t = buildAcpiTables({ ...PLATFORM, s5SleepType: s5 });
    const d = table(memoryOf(t), t.addresses.dsdt, "DSDT");
    assert.equal(d[8], 2, "revision 2: 64-bit AML integers");
    const aml = Array.from(d.subarray(36));
    const typ = s5 === 0 ? [0x00] : [0x0a, s5]; // ZeroOp or BytePrefix
    assert.deepEqual(aml, [
      0x08,
      ...Array.from("_S5_", (c) => c.charCodeAt(0)),
      0x12,
      2 + 2 * typ.length + 2,
      4,
      ...typ,
      ...typ,
      0,
      0,
    ]);
  }
});

test("tables are placed where asked, 16-byte aligned, and bad placements are refused", () => {
  const t = buildAcpiTables(PLATFORM, { rsdpAddress: 0xf5a10, tablesAddress: 0x7ff0000 });
  assert.equal(t.rsdp.address, 0xf5a10);
  assert.equal(t.tables.address, 0x7ff0000);
  for (const a of Object.values(t.addresses)) assert.equal(a % 16, 0);
  assert.equal(t.addresses.facs, 0x7ff0000);
  assert.throws(() => buildAcpiTables(PLATFORM, { rsdpAddress: 0xd0000, tablesAddress: 0x1000 }), RangeError);
  assert.throws(() => buildAcpiTables(PLATFORM, { rsdpAddress: 0xe0008, tablesAddress: 0x1000 }), RangeError);
  assert.throws(() => buildAcpiTables(PLATFORM, { rsdpAddress: 0xe0000, tablesAddress: 0x1020 }), RangeError);
  assert.throws(() => buildAcpiTables(PLATFORM, { rsdpAddress: 0xe0000, tablesAddress: 0xe0000 }), /overlap/);
  assert.throws(() => buildAcpiTables({ ...PLATFORM, apicIds: [] }), RangeError);
  assert.throws(() => buildAcpiTables({ ...PLATFORM, apicIds: [1, 1] }), /twice/);
  assert.throws(() => buildAcpiTables({ ...PLATFORM, s5SleepType: 8 }), RangeError);
});
