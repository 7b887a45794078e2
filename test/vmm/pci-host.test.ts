/**
 * Tests of PCI configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2) through a
 * PortIoBus: the 0CF8H latch, byte/word/dword data accesses, the 440FX host bridge at
 * 00:00.0 (8086:1237, class 060000), all-ones for absent functions, and the 0CF9H split.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PortIoBus } from "../../src/vmm/port-io-bus.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";
import { PciConfigPortDecoder, PciHost } from "../../src/vmm/devices/pci-host.js";

function setup() {
  const host = new PciHost();
  const resetWrites: number[] = [];
  const resetControl = {
    read: (offset: number) => (offset === 1 ? 0x00 : 0xff),
    write: (offset: number, _size: number, value: number) => {
      if (offset === 1) resetWrites.push(value);
    },
  };
  const bus = new PortIoBus();
  bus.register("pci cf8-cfb", 0xcf8, 4, new PciConfigPortDecoder(host, resetControl));
  bus.register("pci data", 0xcfc, 4, host.dataPort);
  return { host, bus, resetWrites };
}

const address = (dev: number, fn: number, reg: number, bus = 0) =>
  (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0;

test("host bridge identity: 8086:1237, class 06/00/00, header type 0", () => {
  const { bus } = setup();
  bus.write(0xcf8, 4, address(0, 0, 0));
  assert.equal(bus.read(0xcfc, 4), 0x1237_8086);
  assert.equal(bus.read(0xcfc, 2), 0x8086);
  assert.equal(bus.read(0xcfe, 2), 0x1237);
  bus.write(0xcf8, 4, address(0, 0, 8));
  assert.equal(bus.read(0xcfc, 4) >>> 8, 0x060000, "class code");
  assert.equal(bus.read(0xcff, 1), 0x06, "base class at byte 0BH via port 0CFFH");
  bus.write(0xcf8, 4, address(0, 0, 0x0c));
  assert.equal(bus.read(0xcfe, 1), 0x00, "header type 0, single function");
});

test("absent devices and functions read all-ones and ignore writes; so does bus 1", () => {
  const { bus } = setup();
  for (const a of [address(1, 0, 0), address(0, 1, 0), address(31, 7, 0), address(0, 0, 0, 1)]) {
    bus.write(0xcf8, 4, a);
    assert.equal(bus.read(0xcfc, 4), 0xffff_ffff);
    assert.equal(bus.read(0xcfc, 2), 0xffff);
    bus.write(0xcfc, 4, 0);
    assert.equal(bus.read(0xcfc, 4), 0xffff_ffff);
  }
});

test("enable bit clear: data port reads all-ones", () => {
  const { bus } = setup();
  bus.write(0xcf8, 4, 0x0000_0000);
  assert.equal(bus.read(0xcfc, 4), 0xffff_ffff);
});

test("0CF8H reads back the latched address (reserved bits 30:24 and 1:0 read 0)", () => {
  const { bus, host } = setup();
  bus.write(0xcf8, 4, 0xffff_ffff);
  assert.equal(bus.read(0xcf8, 4), 0x80ff_fffc);
  bus.write(0xcf8, 4, 0x8000_0000);
  assert.equal(bus.read(0xcf8, 4), 0x8000_0000);
  assert.equal(host.configAddress, 0x8000_0000);
});

test("byte accesses at 0CF8H-0CFBH do not touch CONFIG_ADDRESS; 0CF9H reaches reset control", () => {
  const { bus, host, resetWrites } = setup();
  bus.write(0xcf8, 4, 0x8000_0000);
  bus.write(0xcf9, 1, 0x06);
  assert.deepEqual(resetWrites, [0x06]);
  assert.equal(host.configAddress, 0x8000_0000);
  bus.write(0xcf8, 1, 0x12);
  assert.equal(host.configAddress, 0x8000_0000, "byte write at 0CF8H is not an address write");
  // A dword address write does not leak its byte 1 to the reset register.
  bus.write(0xcf8, 4, address(0, 0, 0x04) | 0x600);
  assert.deepEqual(resetWrites, [0x06]);
});

test("writable host bridge registers: command bits 1-2, latency timer, chipset 50H-FFH", () => {
  const { bus } = setup();
  bus.write(0xcf8, 4, address(0, 0, 0));
  bus.write(0xcfc, 4, 0);
  assert.equal(bus.read(0xcfc, 4), 0x1237_8086, "IDs are read-only");
  bus.write(0xcf8, 4, address(0, 0, 4));
  bus.write(0xcfc, 2, 0xffff);
  assert.equal(bus.read(0xcfc, 2), 0x0006);
  bus.write(0xcfc, 2, 0);
  assert.equal(bus.read(0xcfc, 2), 0);
  bus.write(0xcf8, 4, address(0, 0, 0x58));
  bus.write(0xcfd, 1, 0x33); // PAM0 at 59H
  assert.equal(bus.read(0xcfc, 4), 0x3300);
});

test("save/load and reset", () => {
  const a = setup();
  a.bus.write(0xcf8, 4, address(0, 0, 0x58));
  a.bus.write(0xcfd, 1, 0x30);
  const saved = a.host.save();
  const b = setup();
  b.host.load(saved);
  assert.equal(b.bus.read(0xcf8, 4), address(0, 0, 0x58));
  assert.equal(b.bus.read(0xcfd, 1), 0x30);
  assert.throws(() => b.host.load({ ...saved, address: 0x8100_0000 }), DeviceStateError);
  assert.throws(() => b.host.load({ ...saved, hostBridge: [1, 2] }), DeviceStateError);
  const otherVendor = [...saved.hostBridge];
  otherVendor[0] = 0x86 ^ 1;
  assert.throws(() => b.host.load({ ...saved, hostBridge: otherVendor }), /read-only/);
  assert.throws(() => b.host.load({ ...saved, version: 0 }), DeviceStateError);
  assert.equal(b.bus.read(0xcfd, 1), 0x30, "unchanged");
  b.host.reset();
  assert.equal(b.bus.read(0xcf8, 4), 0);
});
