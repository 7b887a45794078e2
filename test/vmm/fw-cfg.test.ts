/**
 * Tests of the fw_cfg device through a PortIoBus, as a guest sees it (QEMU
 * docs/specs/fw_cfg.rst): 16-bit selector writes at 0x510, byte reads at 0x511, the "QEMU"
 * signature, the ID bits, little-endian numeric items, the big-endian file directory and
 * the "etc/e820" file; and the DMA interface (big-endian address register at 0x514/0x518,
 * FWCfgDmaAccess descriptors in guest memory).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PortIoBus } from "../../src/vmm/port-io-bus.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";
import {
  FwCfg,
  FwCfgKey,
  FW_CFG_PORT_DMA,
  FW_CFG_PORT_SELECTOR,
  pcFwCfg,
  type FwCfgGuestMemory,
} from "../../src/vmm/firmware/fw-cfg.js";
import { pcE820Map, qemuPcRamSplit } from "../../src/vmm/firmware/e820.js";
import { buildAcpiTables } from "../../src/vmm/firmware/acpi-tables.js";

function busWith(fw: FwCfg): PortIoBus {
  const bus = new PortIoBus();
  bus.register("fw_cfg", FW_CFG_PORT_SELECTOR, 2, fw);
  return bus;
}

function readItem(bus: PortIoBus, key: number, length: number): Uint8Array {
  bus.write(0x510, 2, key);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = bus.read(0x511, 1);
  return out;
}

interface DirEntry {
  size: number;
  select: number;
  name: string;
}

function readDirectory(bus: PortIoBus): DirEntry[] {
  const head = readItem(bus, 0x19, 4);
  const count = new DataView(head.buffer).getUint32(0, false);
  const all = readItem(bus, 0x19, 4 + 64 * count);
  const view = new DataView(all.buffer);
  const entries: DirEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 4 + 64 * i;
    const nameBytes = all.subarray(at + 8, at + 64);
    const end = nameBytes.indexOf(0);
    entries.push({
      size: view.getUint32(at, false),
      select: view.getUint16(at + 4, false),
      name: String.fromCharCode(...nameBytes.subarray(0, end)),
    });
    assert.equal(view.getUint16(at + 6, false), 0, "reserved");
  }
  return entries;
}

test("signature item reads QEMU; ID has the traditional bit only (no DMA)", () => {
  const bus = busWith(new FwCfg());
  assert.equal(String.fromCharCode(...readItem(bus, 0x0000, 4)), "QEMU");
  const id = readItem(bus, 0x0001, 4);
  assert.equal(new DataView(id.buffer).getUint32(0, true), 1);
});

test("reading past the end of an item, or an absent item, returns 0; selecting rewinds", () => {
  const bus = busWith(new FwCfg());
  assert.deepEqual(Array.from(readItem(bus, 0x0000, 6)), [0x51, 0x45, 0x4d, 0x55, 0, 0]);
  assert.deepEqual(Array.from(readItem(bus, 0x1234, 3)), [0, 0, 0]);
  bus.write(0x510, 2, 0);
  assert.equal(bus.read(0x511, 1), 0x51);
  bus.write(0x510, 2, 0);
  assert.equal(bus.read(0x511, 1), 0x51, "the selector write rewinds the item");
});

test("data-register writes are ignored and the selector is not readable", () => {
  const bus = busWith(new FwCfg());
  bus.write(0x510, 2, 0);
  bus.write(0x511, 1, 0x99);
  assert.equal(bus.read(0x511, 1), 0x51);
  assert.equal(bus.read(0x510, 1), 0xff);
});

test("PC items: RAM size (LE64), CPU counts (LE16), etc/e820 and ACPI files in the directory", () => {
  const ram = 0x1_4000_0000; // 5 GiB: RAM size is a 64-bit item
  const e820 = pcE820Map(qemuPcRamSplit(ram));
  const acpi = buildAcpiTables({
    apicIds: [0],
    pm: { eventBlock: 0x600, controlBlock: 0x604, timerBlock: 0x608, timer32Bit: false },
  });
  const bus = busWith(pcFwCfg({ ramBytes: ram, cpus: 2, maxCpus: 4, e820, acpi }));
  assert.equal(new DataView(readItem(bus, FwCfgKey.RAM_SIZE, 8).buffer).getBigUint64(0, true), BigInt(ram));
  assert.equal(new DataView(readItem(bus, FwCfgKey.NB_CPUS, 2).buffer).getUint16(0, true), 2);
  assert.equal(new DataView(readItem(bus, FwCfgKey.MAX_CPUS, 2).buffer).getUint16(0, true), 4);
  const dir = readDirectory(bus);
  assert.deepEqual(
    dir.map((d) => d.name),
    ["etc/acpi/rsdp", "etc/acpi/tables", "etc/e820"],
    "sorted by name",
  );
  for (const d of dir) assert.ok(d.select >= 0x20);
  const e820File = dir.find((d) => d.name === "etc/e820")!;
  assert.equal(e820File.size, 20 * e820.length);
  const bytes = readItem(bus, e820File.select, e820File.size);
  const view = new DataView(bytes.buffer);
  e820.forEach((entry, i) => {
    assert.equal(view.getBigUint64(20 * i, true), BigInt(entry.base));
    assert.equal(view.getBigUint64(20 * i + 8, true), BigInt(entry.length));
    assert.equal(view.getUint32(20 * i + 16, true), entry.type);
  });
  const rsdp = dir.find((d) => d.name === "etc/acpi/rsdp")!;
  assert.equal(String.fromCharCode(...readItem(bus, rsdp.select, 8)), "RSD PTR ");
});

test("file names are checked; duplicate files refused", () => {
  const fw = new FwCfg();
  fw.addFile("opt/a", new Uint8Array(1));
  assert.throws(() => fw.addFile("opt/a", new Uint8Array(1)), /already/);
  assert.throws(() => fw.addFile("x".repeat(56), new Uint8Array(1)), RangeError);
  assert.throws(() => fw.addFile("", new Uint8Array(1)), RangeError);
  assert.throws(() => fw.setItem(0x19, new Uint8Array(1)), RangeError);
});

test("save/load keeps the selection and position; bad states are refused without change", () => {
  const fw = new FwCfg();
  const bus = busWith(fw);
  bus.write(0x510, 2, 0);
  bus.read(0x511, 1);
  const saved = fw.save();
  const other = new FwCfg();
  other.load(saved);
  assert.equal(busWith(other).read(0x511, 1), 0x45, "second byte of QEMU");
  assert.throws(() => other.load({ ...saved, version: 2 }), DeviceStateError);
  assert.throws(() => other.load({ ...saved, offset: 5 }), DeviceStateError);
  assert.throws(() => other.load({ ...saved, selector: -1 }), DeviceStateError);
  assert.throws(() => other.load({ ...saved, dmaAddressHigh: 2 ** 32 }), DeviceStateError);
  assert.throws(() => other.load(null), DeviceStateError);
  assert.equal(busWith(other).read(0x511, 1), 0x4d, "unchanged by the refused loads");
  other.reset();
  assert.equal(busWith(other).read(0x511, 1), 0x51);
});

/** 1 MiB of fake guest RAM. */
function guestMemory(): { ram: Uint8Array; memory: FwCfgGuestMemory } {
  const ram = new Uint8Array(0x100000);
  return {
    ram,
    memory: {
      read: (address, length) => {
        if (address + length > ram.length) throw new RangeError("outside RAM");
        return ram.slice(address, address + length);
      },
      write: (address, data) => {
        if (address + data.length > ram.length) throw new RangeError("outside RAM");
        ram.set(data, address);
      },
    },
  };
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** Writes a FWCfgDmaAccess at `at` and starts it the way a guest does (big-endian halves). */
function dma(
  bus: PortIoBus,
  ram: Uint8Array,
  at: number,
  control: number,
  length: number,
  address: number,
): number {
  const view = new DataView(ram.buffer);
  view.setUint32(at, control >>> 0, false);
  view.setUint32(at + 4, length, false);
  view.setBigUint64(at + 8, BigInt(address), false);
  bus.write(FW_CFG_PORT_DMA, 4, bswap32(0));
  bus.write(FW_CFG_PORT_DMA + 4, 4, bswap32(at));
  return view.getUint32(at, false);
}

function dmaBus(fw: FwCfg): PortIoBus {
  const bus = busWith(fw);
  bus.register("fw_cfg dma", FW_CFG_PORT_DMA, 8, fw.dmaPort!);
  return bus;
}

test("DMA: ID bit 1 set, the address register reads back QEMU CFG", () => {
  const { memory } = guestMemory();
  const fw = new FwCfg(memory);
  const bus = dmaBus(fw);
  assert.equal(new DataView(readItem(bus, 1, 4).buffer).getUint32(0, true), 3);
  const sig = Array.from({ length: 8 }, (_, i) => bus.read(FW_CFG_PORT_DMA + i, 1));
  assert.equal(String.fromCharCode(...sig), "QEMU CFG");
  assert.equal(new FwCfg().dmaPort, undefined, "no memory, no DMA");
});

test("DMA: select + read copies the item, zero-fills past its end, clears control", () => {
  const { ram, memory } = guestMemory();
  const bus = dmaBus(new FwCfg(memory));
  ram.fill(0xee, 0x2000, 0x2010);
  const SELECT = 0x08;
  const READ = 0x02;
  const SKIP = 0x04;
  assert.equal(dma(bus, ram, 0x1000, (0x0000 << 16) | SELECT | READ, 6, 0x2000), 0);
  assert.deepEqual(Array.from(ram.subarray(0x2000, 0x2008)), [0x51, 0x45, 0x4d, 0x55, 0, 0, 0xee, 0xee]);
  // Skip and read continue from the current offset; the data port sees the same position.
  dma(bus, ram, 0x1000, (0x0000 << 16) | SELECT | SKIP, 2, 0);
  assert.equal(dma(bus, ram, 0x1000, READ, 1, 0x3000), 0);
  assert.equal(ram[0x3000], 0x4d);
  assert.equal(bus.read(0x511, 1), 0x55);
});

test("DMA: writes and buffers outside RAM report ERROR", () => {
  const { ram, memory } = guestMemory();
  const bus = dmaBus(new FwCfg(memory));
  assert.equal(dma(bus, ram, 0x1000, (0x0005 << 16) | 0x08 | 0x10, 2, 0x2000) & 1, 1, "no writable item");
  assert.equal(dma(bus, ram, 0x1000, (0x0000 << 16) | 0x08 | 0x02, 4, 0x200000) & 1, 1, "buffer outside RAM");
});
