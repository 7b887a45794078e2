/**
 * Tests of the VMM's port-I/O devices and bus: the 16550 UART's registers (DLAB, IIR/FCR,
 * LSR, loopback, scratch, interrupt trigger, save/load), isa-debug-exit, port E9, and
 * all-ones reads of unassigned ports.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Serial16550 } from "../../src/vmm/devices/serial16550.js";
import { DebugExit, debugExitStatus } from "../../src/vmm/devices/debug-exit.js";
import { PortE9 } from "../../src/vmm/devices/port-e9.js";
import { PortIoBus } from "../../src/vmm/port-io-bus.js";

test("16550: THR output, LSR THRE|TEMT, DLAB divisor latch, scratch", () => {
  const out: number[] = [];
  const uart = new Serial16550({ onByte: (b) => out.push(b) });
  uart.write(0, 1, 0x41);
  assert.deepEqual(out, [0x41]);
  assert.equal(uart.read(5) & 0x60, 0x60);
  uart.write(3, 1, 0x80);
  uart.write(0, 1, 0x01);
  uart.write(1, 1, 0x00);
  assert.equal(uart.read(0), 0x01);
  uart.write(3, 1, 0x03);
  assert.equal(uart.divisorLatch, 1);
  assert.deepEqual(out, [0x41], "divisor writes are not output");
  uart.write(7, 1, 0x5a);
  assert.equal(uart.read(7), 0x5a);
});

test("16550: FIFO enable shows in IIR; loopback returns bytes and mirrors MCR in MSR", () => {
  const out: number[] = [];
  const uart = new Serial16550({ onByte: (b) => out.push(b) });
  assert.equal(uart.read(2), 0x01);
  uart.write(2, 1, 0xc7);
  assert.equal(uart.read(2), 0xc1);
  uart.write(4, 1, 0x1f); // loopback with DTR, RTS, OUT1, OUT2
  assert.equal(uart.read(6) & 0xf0, 0xf0);
  uart.write(0, 1, 0x99);
  assert.deepEqual(out, []);
  assert.equal(uart.read(5) & 1, 1);
  assert.equal(uart.read(0), 0x99);
  assert.equal(uart.read(5) & 1, 0);
});

test("16550: THRE and receive interrupts drive the irq trigger; state round-trips", () => {
  const levels: boolean[] = [];
  const uart = new Serial16550({ irq: (l) => levels.push(l) });
  uart.write(1, 1, 0x02);
  assert.deepEqual(levels, [true]);
  assert.equal(uart.read(2) & 0x0f, 0x02);
  assert.deepEqual(levels, [true, false]);
  uart.write(1, 1, 0x01);
  uart.receive(0x33);
  assert.equal(uart.read(2) & 0x0f, 0x04);
  const saved = uart.saveState();
  const copy = new Serial16550();
  copy.loadState(saved);
  assert.deepEqual(copy.saveState(), saved);
  assert.equal(copy.read(0), 0x33);
  assert.throws(() => copy.loadState({ ...saved, version: 99 }), /version/);
});

test("bus: unassigned ports read all-ones; byte-wide devices see split accesses", () => {
  const bus = new PortIoBus();
  assert.equal(bus.read(0x1234, 1), 0xff);
  assert.equal(bus.read(0x1234, 2), 0xffff);
  assert.equal(bus.read(0x1234, 4), 0xffffffff);
  const out: number[] = [];
  bus.register("e9", 0xe9, 1, new PortE9((b) => out.push(b)), true);
  assert.equal(bus.read(0xe9, 1), 0xe9);
  assert.equal(bus.read(0xe9, 2), 0xffe9);
  bus.write(0xe9, 1, 0x48);
  assert.deepEqual(out, [0x48]);
  assert.throws(() => bus.register("other", 0xe8, 2, new PortE9(() => {})), /already belongs to e9/);
});

test("isa-debug-exit: the value written becomes status (v << 1) | 1", () => {
  let got = -1;
  const dev = new DebugExit({ iobase: 0xf4, iosize: 4 }, (v) => (got = v));
  dev.write(0, 4, 0x21);
  assert.equal(got, 0x21);
  assert.equal(debugExitStatus(got), 0x43);
  assert.equal(debugExitStatus(0), 1);
  assert.deepEqual(dev.saveState(), { version: 1, value: 0x21 });
  // Any width: an OUT of a byte, word or dword writes that many bits (QEMU's memory API masks the value).
  dev.write(0, 1, 0x1ff);
  assert.equal(got, 0xff);
  dev.write(1, 2, 0x12345);
  assert.equal(got, 0x2345);
  dev.write(0, 4, 0xffff_ffff);
  assert.equal(got, 0xffff_ffff);
  assert.equal(debugExitStatus(0xff), 0x1ff);
});
