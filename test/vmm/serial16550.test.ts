/**
 * Tests of the 16550A UART's interrupt logic against the PC16550D datasheet: IIR priorities
 * (line status, received data at the FIFO trigger level, character timeout on a fake clock,
 * THR empty, modem status), FCR FIFO enable/clear/trigger levels, overrun, the PC's IRQ line
 * gated by MCR.OUT2, reset, and save/load (test/vmm/devices.test.ts covers the basics).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Serial16550, UART_IIR } from "../../src/vmm/devices/serial16550.js";
import { IrqLevel } from "../../src/vmm/devices/irq.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";

const IIR = 2;
const LSR = 5;

function setup(withClock = true) {
  const clock = {
    t: 1000,
    now() {
      return this.t;
    },
  };
  const line = new IrqLevel();
  const out: number[] = [];
  const uart = new Serial16550({
    onByte: (b) => out.push(b),
    irqLine: line,
    clock: withClock ? clock : undefined,
  });
  return { clock, line, out, uart };
}

test("16550: the PC IRQ line is INTR gated by MCR.OUT2, and off in loopback", () => {
  const { uart, line } = setup();
  uart.write(1, 1, 0x02); // ETBEI: THR empty
  assert.equal(uart.interruptPending, true);
  assert.equal(line.level, false, "OUT2 clear: the IRQ buffer is off");
  uart.write(4, 1, 0x08);
  assert.equal(line.level, true);
  uart.write(4, 1, 0x18);
  assert.equal(line.level, false, "loopback forces OUT2 inactive");
  uart.write(4, 1, 0x0b);
  assert.equal(line.level, true);
  assert.equal(uart.read(IIR) & 0x0f, UART_IIR.THR_EMPTY);
  assert.equal(line.level, false, "reading IIR cleared the THRE interrupt");
  uart.write(0, 1, 0x41);
  assert.equal(line.level, true, "the transmitted byte leaves THR empty again");
});

test("16550: received data available at the FIFO trigger level (FCR 41h: 4 bytes)", () => {
  const { uart } = setup();
  uart.write(2, 1, 0x41);
  uart.write(1, 1, 0x01);
  for (const b of [1, 2, 3]) uart.receiveByte(b);
  assert.equal(uart.read(IIR), 0xc1, "below the trigger: nothing yet (FIFOs on: bits 7-6 set)");
  uart.receiveByte(4);
  assert.equal(uart.read(IIR), 0xc4);
  assert.equal(uart.read(0), 1);
  assert.equal(uart.read(IIR), 0xc1, "3 left, below trigger, timeout not yet due");
  assert.equal(uart.read(LSR) & 1, 1);
});

test("16550: character timeout after four character times (9600 8N1: 4.17 ms)", () => {
  const { uart, clock, line } = setup();
  uart.write(4, 1, 0x08);
  uart.write(3, 1, 0x03); // 8N1, divisor 12 from reset
  uart.write(2, 1, 0xc1); // trigger 14
  uart.write(1, 1, 0x01);
  uart.receiveByte(0x61);
  const due = 1000 + Math.ceil((4 * 10 * 12 * 1e9) / 115200);
  assert.equal(uart.nextDeadline(), due);
  clock.t = due - 1;
  uart.advance(clock.t);
  assert.equal(line.level, false);
  clock.t = due;
  uart.advance(clock.t);
  assert.equal(line.level, true);
  assert.equal(uart.read(IIR), 0xcc);
  assert.equal(uart.read(0), 0x61);
  assert.equal(line.level, false);
  assert.equal(uart.nextDeadline(), undefined);
  // A VMM that was late still sees the past deadline until it has advanced.
  uart.receiveByte(0x62);
  clock.t += 10 * (due - 1000);
  assert.equal(uart.nextDeadline(), clock.t - 10 * (due - 1000) + (due - 1000));
  uart.advance(clock.t);
  assert.equal(line.level, true);
  assert.equal(uart.nextDeadline(), undefined, "already signalled");
});

test("16550: without a clock the character timeout is reported at once", () => {
  const { uart } = setup(false);
  uart.write(2, 1, 0xc1);
  uart.write(1, 1, 0x01);
  uart.receiveByte(0x61);
  assert.equal(uart.read(IIR), 0xcc);
});

test("16550: priority — line status (overrun) over received data; LSR read clears OE", () => {
  const { uart } = setup();
  uart.receiveByte(1);
  uart.receiveByte(2); // FIFOs off: one-byte holding register overrun
  uart.write(1, 1, 0x05);
  assert.equal(uart.read(IIR), UART_IIR.LINE_STATUS);
  assert.equal(uart.read(LSR) & 0x63, 0x63, "DR, OE, THRE, TEMT");
  assert.equal(uart.read(IIR), UART_IIR.RX_DATA);
  assert.equal(uart.read(0), 2, "the holding register was overwritten");
  assert.equal(uart.read(IIR), UART_IIR.NONE);
});

test("16550: FIFO holds 16 bytes, the 17th overruns; FCR bit 1 clears it", () => {
  const { uart } = setup();
  uart.write(2, 1, 0x01);
  for (let n = 0; n < 17; n++) uart.receiveByte(n);
  assert.equal(uart.receiveRoom, 0);
  assert.equal(uart.read(LSR) & 0x03, 0x03);
  assert.equal(uart.read(0), 0);
  uart.write(2, 1, 0x03);
  assert.equal(uart.read(LSR) & 0x01, 0);
  assert.equal(uart.receiveRoom, 16);
});

test("16550: modem status interrupt from loopback MCR changes", () => {
  const { uart } = setup();
  uart.write(4, 1, 0x10);
  uart.read(6); // entering loopback dropped CTS/DCD: clear those deltas
  uart.write(1, 1, 0x08);
  uart.write(4, 1, 0x11); // DTR -> DSR in loopback
  assert.equal(uart.read(IIR), UART_IIR.MODEM_STATUS);
  assert.equal(uart.read(6), 0x22, "DSR with DDSR");
  assert.equal(uart.read(IIR), UART_IIR.NONE);
});

test("16550: reset, save/load round trip, corrupt state refused with the device unchanged", () => {
  const { uart, clock } = setup();
  uart.write(2, 1, 0x81);
  uart.write(7, 1, 0x5a);
  uart.write(4, 1, 0x08);
  uart.write(1, 1, 0x01);
  uart.receiveByte(0x31);
  const saved = JSON.parse(JSON.stringify(uart.save()));
  const line = new IrqLevel();
  const copy = new Serial16550({ irqLine: line, clock });
  copy.load(saved);
  assert.deepEqual(copy.save(), saved);
  assert.equal(copy.read(7), 0x5a);
  const before = copy.save();
  assert.throws(() => copy.load({ ...saved, rx: new Array(17).fill(0) }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, ier: 0x10 }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, thrEmptyPending: 1 }), /thrEmptyPending/);
  assert.deepEqual(copy.save(), before);
  copy.reset();
  assert.equal(copy.read(7), 0);
  assert.equal(copy.read(IIR), 0x01);
  assert.equal(line.level, false);
});

test("16550: an input source is pulled only while the receive buffer has room (no overrun)", () => {
  const { uart } = setup();
  const queue = [...Buffer.from("hello, world, and more than sixteen bytes")];
  let at = 0;
  uart.setInputSource(() => (at < queue.length ? queue[at++] : undefined));
  // FIFOs off: the holding register takes one byte; LSR.DR (bit 0) set, OE (bit 1) clear.
  assert.equal(at, 1);
  const got: number[] = [];
  while (uart.read(LSR) & 1) got.push(uart.read(0));
  assert.deepEqual(got, queue, "every byte arrived, in order");
  assert.equal(uart.read(LSR) & 2, 0, "no overrun");
  // FIFOs on (FCR 01h): up to 16 bytes wait; leaving a source with more than that pending.
  at = 0;
  uart.write(IIR, 1, 0x01);
  assert.equal(at, 16);
  assert.equal(uart.receiveRoom, 0);
  // Loopback disconnects the receive line: nothing is pulled until MCR.LOOP is cleared.
  uart.write(4, 1, 0x10);
  uart.write(IIR, 1, 0x03); // clear the FIFO
  assert.equal(at, 16);
  uart.write(4, 1, 0x00);
  assert.equal(at, 32);
  uart.setInputSource(null);
  uart.write(IIR, 1, 0x03);
  assert.equal(at, 32);
});
