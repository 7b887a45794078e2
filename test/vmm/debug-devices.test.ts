/**
 * Tests of QEMU's isa-debugcon (output, 0xE9 readback, placement at 0x402) and pc-testdev
 * (the E0h data register at 8/16/32 bits, E8h through a byte-wide bus, E4h page flush,
 * 2000h+n IRQ lines, the FF000000h test memory), with save/load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Debugcon, DEBUGCON_FIRMWARE_PORT } from "../../src/vmm/devices/debugcon.js";
import { PcTestdev, PC_TESTDEV_IOMEM_SIZE } from "../../src/vmm/devices/pc-testdev.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";
import { PortIoBus } from "../../src/vmm/port-io-bus.js";

test("debugcon: bytes go to output; reads return 0xE9; configurable port", () => {
  const out: number[] = [];
  const bus = new PortIoBus();
  const con = new Debugcon((b) => out.push(b), { iobase: DEBUGCON_FIRMWARE_PORT });
  bus.register("debugcon", con.config.iobase, 1, con);
  bus.write(0x402, 1, 0x48);
  bus.write(0x402, 1, 0x169);
  assert.deepEqual(out, [0x48, 0x69]);
  assert.equal(bus.read(0x402, 1), 0xe9);
  assert.equal(new Debugcon(() => {}).config.iobase, 0xe9);
  con.load(con.save());
  assert.throws(() => con.load({ version: 0 }), DeviceStateError);
});

test("pc-testdev: E0h reads back what was written, at every width and offset", () => {
  const bus = new PortIoBus();
  const dev = new PcTestdev();
  bus.register("pc-testdev", 0xe0, 4, dev.dataPort);
  bus.register("pc-testdev-byte", 0xe8, 4, dev.dataBytePort, true);
  bus.write(0xe0, 4, 0x12345678);
  assert.equal(bus.read(0xe0, 4), 0x12345678);
  assert.equal(bus.read(0xe0, 2), 0x5678);
  assert.equal(bus.read(0xe2, 2), 0x1234);
  assert.equal(bus.read(0xe3, 1), 0x12);
  bus.write(0xe1, 1, 0xab);
  assert.equal(bus.read(0xe0, 4), 0x1234ab78);
  // The byte-access window shares the register; a dword IN is assembled from bytes.
  assert.equal(bus.read(0xe8, 4), 0x1234ab78);
  bus.write(0xe8, 4, 0xcafef00d);
  assert.equal(bus.read(0xe0, 4), 0xcafef00d);
  assert.equal(bus.read(0xea, 2), 0xcafe);
});

test("pc-testdev: E4h dword write flushes the page; 2000h+n drives IRQ n", () => {
  const flushed: number[] = [];
  const irqs: [number, boolean][] = [];
  const dev = new PcTestdev({ flushPage: (a) => flushed.push(a), setIrq: (n, l) => irqs.push([n, l]) });
  const bus = new PortIoBus();
  bus.register("flush", 0xe4, 4, dev.flushPagePort);
  bus.register("irq", 0x2000, 24, dev.irqPorts);
  bus.write(0xe4, 4, 0x00123abc);
  bus.write(0xe4, 2, 0x5000); // not a dword: ignored
  assert.deepEqual(flushed, [0x00123000]);
  bus.write(0x2000 + 10, 1, 1);
  bus.write(0x2000 + 10, 1, 0);
  bus.write(0x2000 + 23, 1, 0x80);
  assert.deepEqual(irqs, [
    [10, true],
    [10, false],
    [23, true],
  ]);
});

test("pc-testdev: iomem keeps what is written; save/load round trip; bad state refused", () => {
  const dev = new PcTestdev();
  dev.iomem.writeMmio(0x100, 4, 0xdeadbeef);
  dev.iomem.writeMmio(0xfffe, 2, 0x1122);
  assert.equal(dev.iomem.readMmio(0x100, 4), 0xdeadbeef);
  assert.equal(dev.iomem.readMmio(0x102, 2), 0xdead);
  dev.dataPort.write(0, 4, 7);
  const saved = dev.save();
  const copy = new PcTestdev();
  copy.load(JSON.parse(JSON.stringify(saved)));
  assert.equal(copy.iomem.readMmio(0xfffe, 2), 0x1122);
  assert.equal(copy.dataPort.read(0, 4), 7);
  assert.throws(() => copy.load({ ...saved, iomem: "AAAA" }), new RegExp(String(PC_TESTDEV_IOMEM_SIZE)));
  assert.throws(() => copy.load({ ...saved, data: -1 }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, iomem: 5 }), DeviceStateError);
  assert.equal(copy.iomem.readMmio(0x100, 4), 0xdeadbeef);
  copy.reset();
  assert.equal(copy.iomem.readMmio(0x100, 4), 0);
});
