/**
 * Tests of the 8042 keyboard controller and its PS/2 keyboard against the IBM PS/2 technical
 * reference: status bits, command byte read/write, self-test 55h, interface test 00h,
 * disable/enable, output port read/write with A20 and reset, pulse commands, the aux loopback,
 * the keyboard commands of Linux's probe (FFh, F2h, F4h/F5h, EDh) with IRQ1 edges, and
 * save/load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { I8042 } from "../../src/vmm/devices/i8042.js";
import { IrqLevel } from "../../src/vmm/devices/irq.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";

function setup() {
  const irq1 = new IrqLevel();
  const irq12 = new IrqLevel();
  const events: string[] = [];
  const kbc = new I8042({
    irq1,
    irq12,
    onReset: () => events.push("reset"),
    onA20: (on) => events.push(`a20:${on}`),
  });
  const cmd = (c: number) => kbc.commandPort.write(0, 1, c);
  const data = (d: number) => kbc.dataPort.write(0, 1, d);
  const status = () => kbc.commandPort.read(0, 1);
  /** Reads every byte in the output buffer. */
  const drain = () => {
    const out: number[] = [];
    while (status() & 1) out.push(kbc.dataPort.read(0, 1));
    return out;
  };
  return { kbc, irq1, irq12, events, cmd, data, status, drain };
}

test("i8042: power-on status, self-test 55h sets SYS, interface tests 00h", () => {
  const { cmd, status, drain } = setup();
  assert.equal(status(), 0x18, "A2 | not inhibited, output buffer empty");
  cmd(0xaa);
  assert.equal(status() & 0x05, 0x05, "OBF and SYS");
  assert.deepEqual(drain(), [0x55]);
  cmd(0xab);
  assert.deepEqual(drain(), [0x00]);
  cmd(0xa9);
  assert.deepEqual(drain(), [0x00]);
});

test("i8042: command byte read (20h) and write (60h); A2 tracks the port last written", () => {
  const { cmd, data, status, drain } = setup();
  cmd(0x20);
  assert.deepEqual(drain(), [0x03]);
  cmd(0x60);
  assert.equal(status() & 0x08, 0x08);
  data(0x65);
  assert.equal(status() & 0x08, 0, "A2 clear after a data write");
  assert.equal(status() & 0x04, 0x04, "SYS from the command byte");
  cmd(0x20);
  assert.deepEqual(drain(), [0x65]);
  cmd(0xad);
  cmd(0xa7);
  cmd(0x20);
  assert.deepEqual(drain(), [0x75]);
  cmd(0xae);
  cmd(0xa8);
  cmd(0x20);
  assert.deepEqual(drain(), [0x45]);
});

test("i8042: keyboard reset FFh answers FAh AAh, each byte a new IRQ1 edge", () => {
  const { kbc, irq1, data, cmd } = setup();
  cmd(0x60);
  data(0x01); // keyboard interrupt only, no translation
  data(0xff);
  assert.equal(irq1.level, true);
  assert.equal(kbc.dataPort.read(0, 1), 0xfa);
  assert.equal(irq1.level, true);
  assert.equal(kbc.dataPort.read(0, 1), 0xaa);
  assert.equal(irq1.level, false);
  assert.equal(irq1.risingEdges, 2);
  assert.equal(kbc.dataPort.read(0, 1), 0xaa, "an empty buffer reads the last byte again");
});

test("i8042: identify F2h (83h untranslated, 41h translated), F4h/F5h, EDh LEDs, unknown FEh", () => {
  const { kbc, data, cmd, drain } = setup();
  data(0xf2);
  assert.deepEqual(drain(), [0xfa, 0xab, 0x83]);
  cmd(0x60);
  data(0x41); // translation on
  data(0xf2);
  assert.deepEqual(drain(), [0xfa, 0xab, 0x41]);
  data(0xf5);
  assert.deepEqual(drain(), [0xfa]);
  kbc.pushScancode(0x1e);
  assert.deepEqual(drain(), [], "scanning disabled");
  data(0xf4);
  kbc.pushScancode(0x1e);
  assert.deepEqual(drain(), [0xfa, 0x1e]);
  data(0xed);
  data(0x05);
  assert.deepEqual(drain(), [0xfa, 0xfa]);
  assert.equal(kbc.keyboard.ledState, 5);
  data(0xee);
  assert.deepEqual(drain(), [0xee]);
  data(0x99);
  assert.deepEqual(drain(), [0xfe]);
});

test("i8042: ADh holds keyboard bytes until AEh; controller replies still get through", () => {
  const { kbc, cmd, drain } = setup();
  cmd(0xad);
  kbc.pushScancode(0x2a);
  assert.deepEqual(drain(), []);
  cmd(0xab);
  assert.deepEqual(drain(), [0x00]);
  cmd(0xae);
  assert.deepEqual(drain(), [0x2a]);
});

test("i8042: output port D0h/D1h; A20 changes reported; bit 0 low resets", () => {
  const { cmd, data, drain, events, kbc } = setup();
  cmd(0xd0);
  assert.deepEqual(drain(), [0xcf]);
  cmd(0xd1);
  data(0xcd); // A20 off
  assert.deepEqual(events, ["a20:false"]);
  assert.equal(kbc.a20Enabled, false);
  cmd(0xd1);
  data(0xcf);
  assert.deepEqual(events, ["a20:false", "a20:true"]);
  cmd(0xd1);
  data(0xce);
  assert.deepEqual(events, ["a20:false", "a20:true", "reset"]);
});

test("i8042: pulse commands F0h-FFh — FEh resets, FFh does not", () => {
  const { cmd, events } = setup();
  cmd(0xff);
  assert.deepEqual(events, []);
  cmd(0xfe);
  assert.deepEqual(events, ["reset"]);
  cmd(0xf0);
  assert.deepEqual(events, ["reset", "reset"]);
});

test("i8042: D3h aux loopback sets AUXB and raises IRQ12; D2h loops to the keyboard side", () => {
  const { cmd, data, status, kbc, irq1, irq12 } = setup();
  cmd(0xd3);
  data(0x5a);
  assert.equal(status() & 0x21, 0x21);
  assert.equal(irq12.level, true);
  assert.equal(irq1.level, false);
  assert.equal(kbc.dataPort.read(0, 1), 0x5a);
  assert.equal(irq12.level, false);
  cmd(0xd2);
  data(0x33);
  assert.equal(status() & 0x21, 0x01);
  assert.equal(irq1.level, true);
});

test("i8042: save/load round trip; corrupt state refused, device unchanged; reset", () => {
  const { kbc, cmd, data } = setup();
  cmd(0x60);
  data(0x47);
  data(0xf2);
  kbc.dataPort.read(0, 1);
  cmd(0xd1); // pending command
  const saved = JSON.parse(JSON.stringify(kbc.save()));
  const copy = new I8042();
  copy.load(saved);
  assert.deepEqual(copy.save(), saved);
  assert.equal(copy.dataPort.read(0, 1), 0xab);
  const before = copy.save();
  assert.throws(() => copy.load({ ...saved, ram: [1] }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, pendingCommand: 0xaa }), /pendingCommand/);
  assert.throws(() => copy.load({ ...saved, outputBuffer: [300, false] }), DeviceStateError);
  assert.throws(
    () => copy.load({ ...saved, keyboard: { ...saved.keyboard, scancodeSet: 4 } }),
    /scancodeSet/,
  );
  assert.deepEqual(copy.save(), before);
  copy.reset();
  assert.equal(copy.commandByte, 0x03);
  assert.equal(copy.commandPort.read(0, 1), 0x18);
});
