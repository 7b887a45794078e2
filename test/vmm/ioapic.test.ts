/**
 * Tests of the I/O APIC against the 82093AA/ICH register model: IOREGSEL/IOWIN access, ID, ARB,
 * the version register 00170020h, power-on masked entries, edge and level delivery with remote
 * IRR, EOI by onEoi() and by the EOI register, masking, message fields, and save/load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { IoApic, IOAPIC_BASE, type IoApicMessage } from "../../src/vmm/devices/ioapic.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";

function setup() {
  const sent: IoApicMessage[] = [];
  const io = new IoApic((m) => sent.push(m));
  const reg = (index: number) => {
    io.writeMmio(0x00, 4, index);
    return io.readMmio(0x10, 4);
  };
  const set = (index: number, value: number) => {
    io.writeMmio(0x00, 4, index);
    io.writeMmio(0x10, 4, value);
  };
  return { io, sent, reg, set };
}

test("IOAPIC: version 00170020h, ID and arbitration ID, power-on masked entries", () => {
  const { reg, set, io } = setup();
  assert.equal(reg(0x01), 0x0017_0020);
  assert.equal(reg(0x00), 0);
  set(0x00, 0x0a00_0000);
  assert.equal(reg(0x00), 0x0a00_0000);
  assert.equal(reg(0x02), 0x0a00_0000, "ARB loaded from ID");
  set(0x01, 0);
  assert.equal(reg(0x01), 0x0017_0020, "VER is read-only");
  for (let pin = 0; pin < 24; pin++) {
    assert.equal(reg(0x10 + 2 * pin), 0x0001_0000);
    assert.equal(reg(0x11 + 2 * pin), 0);
  }
  assert.equal(reg(0x40), 0, "beyond the table");
  io.writeMmio(0, 4, 0x13);
  assert.equal(io.readMmio(0, 1), 0x13, "IOREGSEL reads back");
});

test("IOAPIC: edge entry delivers on each rising edge of an unmasked pin; masked edges are lost", () => {
  const { io, sent, set } = setup();
  set(0x10 + 2 * 4, 0x34);
  set(0x11 + 2 * 4, 0x0300_0000);
  io.setIrq(4, true);
  io.setIrq(4, true);
  assert.deepEqual(sent, [
    {
      vector: 0x34,
      deliveryMode: 0,
      destinationMode: "physical",
      destination: 3,
      trigger: "edge",
      level: true,
    },
  ]);
  io.setIrq(4, false);
  io.setIrq(4, true);
  assert.equal(sent.length, 2);
  set(0x10 + 2 * 4, 0x1_0034);
  io.setIrq(4, false);
  io.setIrq(4, true);
  set(0x10 + 2 * 4, 0x34);
  assert.equal(sent.length, 2, "an edge on a masked pin is discarded");
});

test("IOAPIC: level entry sets remote IRR; EOI re-delivers while the pin is asserted", () => {
  const { io, sent, reg, set } = setup();
  set(0x10 + 2 * 10, 0x8000 | 0x3a);
  io.setIrq(10, true);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].trigger, "level");
  assert.equal(reg(0x10 + 2 * 10) & 0x4000, 0x4000, "remote IRR");
  io.setIrq(10, true);
  assert.equal(sent.length, 1, "no new message while remote IRR is set");
  io.onEoi(0x3b);
  assert.equal(sent.length, 1, "EOI of another vector");
  io.onEoi(0x3a);
  assert.equal(sent.length, 2, "still asserted: delivered again");
  io.setIrq(10, false);
  io.writeMmio(0x40, 4, 0x3a); // EOI register
  assert.equal(reg(0x10 + 2 * 10) & 0x4000, 0);
  assert.equal(sent.length, 2);
});

test("IOAPIC: unmasking a level entry with its pin asserted delivers", () => {
  const { io, sent, set } = setup();
  set(0x10 + 2 * 16, 0x1_8000 | 0x51);
  io.setIrq(16, true);
  assert.equal(sent.length, 0);
  set(0x10 + 2 * 16, 0x8000 | 0x51);
  assert.equal(sent.length, 1);
});

test("IOAPIC: message fields — logical mode, lowest priority, NMI; RO bits ignored on write", () => {
  const { io, sent, reg, set } = setup();
  set(0x10 + 2 * 1, 0x0900 | 0x41 | 0x1000 | 0x4000 | 0x2000); // lowest priority, logical, +RO bits, low active
  set(0x11 + 2 * 1, 0xff00_00ff);
  assert.equal(reg(0x10 + 2 * 1), 0x2941, "delivery status and remote IRR are read-only");
  assert.equal(reg(0x11 + 2 * 1), 0xff00_0000, "only bits 63-56 of the high dword");
  io.setIrq(1, true);
  assert.deepEqual(sent[0], {
    vector: 0x41,
    deliveryMode: 1,
    destinationMode: "logical",
    destination: 0xff,
    trigger: "edge",
    level: true,
  });
  set(0x10 + 2 * 2, 0x0400);
  io.setIrq(2, true);
  assert.equal(sent[1].deliveryMode, 4);
  assert.throws(() => io.setIrq(24, true), RangeError);
});

test("IOAPIC: MMIO handler at FEC00000h takes absolute addresses", () => {
  const { io } = setup();
  const h = io.mmioHandler();
  h.write(IOAPIC_BASE, 4, 1);
  assert.equal(h.read(IOAPIC_BASE + 0x10, 4), 0x0017_0020);
  assert.equal(h.read(IOAPIC_BASE + 0x12, 2), 0x0017);
});

test("IOAPIC: save/load round trip; corrupt state refused, device unchanged; reset masks all", () => {
  const { io, set } = setup();
  set(0x00, 0x0200_0000);
  set(0x10 + 2 * 9, 0x8000 | 0x39);
  io.setIrq(9, true);
  const saved = JSON.parse(JSON.stringify(io.save()));
  const sent: IoApicMessage[] = [];
  const copy = new IoApic((m) => sent.push(m));
  copy.load(saved);
  assert.deepEqual(copy.save(), saved);
  copy.onEoi(0x39);
  assert.equal(sent.length, 1, "remote IRR and pin level restored");
  const before = copy.save();
  assert.throws(() => copy.load({ ...saved, id: 16 }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, entries: saved.entries.slice(1) }), DeviceStateError);
  const bad = JSON.parse(JSON.stringify(saved));
  bad.entries[3][1] = 0x12;
  assert.throws(() => copy.load(bad), /entries\[3\]/);
  assert.deepEqual(copy.save(), before);
  copy.reset();
  copy.writeMmio(0, 4, 0x10 + 2 * 9);
  assert.equal(copy.readMmio(0x10, 4), 0x0001_0000);
});
