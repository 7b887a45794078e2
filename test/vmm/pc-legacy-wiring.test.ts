/**
 * The legacy devices wired as on a PC, through their IRQ lines: PIT counter 0 on IRQ0, the
 * keyboard controller on IRQ1, COM1 on IRQ4, the RTC on IRQ8 through the slave 8259, and IRQ0
 * fanned out to the I/O APIC's pin 2. Checks that edges, acknowledges and EOIs line up:
 * every interrupt reaches the processor side exactly when the datasheets say it should.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { I8259Pair } from "../../src/vmm/devices/i8259-pic.js";
import { I8254Pit } from "../../src/vmm/devices/i8254-pit.js";
import { pitNsAt } from "../../src/vmm/devices/pit-time.js";
import { Mc146818Rtc } from "../../src/vmm/devices/mc146818-rtc.js";
import { I8042 } from "../../src/vmm/devices/i8042.js";
import { Serial16550 } from "../../src/vmm/devices/serial16550.js";
import { IoApic, type IoApicMessage } from "../../src/vmm/devices/ioapic.js";
import { IrqLevel, fanOutIrq, irqLineOf } from "../../src/vmm/devices/irq.js";

function board() {
  const clock = {
    t: 0,
    now() {
      return this.t;
    },
  };
  const intr = new IrqLevel();
  const pic = new I8259Pair(intr);
  for (const [ports, base, icw3] of [
    [pic.masterPorts, 0x20, 0x04],
    [pic.slavePorts, 0x28, 0x02],
  ] as const) {
    ports.write(0, 1, 0x11);
    ports.write(1, 1, base);
    ports.write(1, 1, icw3);
    ports.write(1, 1, 0x01);
  }
  const eoi = (slave = false) => {
    if (slave) pic.slavePorts.write(0, 1, 0x20);
    pic.masterPorts.write(0, 1, 0x20);
  };
  return { clock, intr, pic, eoi };
}

test("wiring: PIT mode 2 on IRQ0 gives vector 20h once per period, with EOIs", () => {
  const { clock, intr, pic, eoi } = board();
  const pit = new I8254Pit(clock, pic.irqLine(0));
  pit.write(3, 1, 0x34);
  pit.write(0, 1, 1193 & 0xff);
  pit.write(0, 1, 1193 >> 8);
  // Programming mode 2 raised OUT: a first edge, as on hardware.
  assert.equal(pic.acknowledge(), 0x20);
  eoi();
  assert.equal(intr.level, false);
  for (let period = 1; period <= 3; period++) {
    clock.t = pit.nextDeadline()!;
    assert.equal(clock.t, pitNsAt(1193 * period));
    pit.advance(clock.t);
    assert.equal(intr.level, true);
    assert.equal(pic.acknowledge(), 0x20);
    eoi();
    assert.equal(intr.level, false);
  }
});

test("wiring: RTC periodic interrupt on IRQ8 arrives as vector 28h through the cascade", () => {
  const { clock, intr, pic, eoi } = board();
  const rtc = new Mc146818Rtc({ startTime: 0, clock, irq: pic.irqLine(8) });
  rtc.write(0, 1, 0x0b);
  rtc.write(1, 1, 0x42);
  clock.t = rtc.nextDeadline()!;
  rtc.advance(clock.t);
  assert.equal(intr.level, true);
  assert.equal(pic.acknowledge(), 0x28);
  rtc.write(0, 1, 0x0c);
  assert.equal(rtc.read(1, 1) & 0xc0, 0xc0);
  eoi(true);
  assert.equal(intr.level, false);
  clock.t = rtc.nextDeadline()!;
  rtc.advance(clock.t);
  assert.equal(pic.acknowledge(), 0x28, "the next period interrupts again after C was read");
});

test("wiring: two keyboard bytes are two IRQ1 interrupts", () => {
  const { intr, pic, eoi } = board();
  const kbc = new I8042({ irq1: pic.irqLine(1) });
  kbc.dataPort.write(0, 1, 0xff);
  assert.equal(pic.acknowledge(), 0x21);
  assert.equal(kbc.dataPort.read(0, 1), 0xfa);
  eoi();
  assert.equal(intr.level, true, "the second byte's edge was latched while IR1 was in service");
  assert.equal(pic.acknowledge(), 0x21);
  assert.equal(kbc.dataPort.read(0, 1), 0xaa);
  eoi();
  assert.equal(intr.level, false);
});

test("wiring: COM1 on IRQ4 once OUT2 is set", () => {
  const { intr, pic } = board();
  const uart = new Serial16550({ irqLine: pic.irqLine(4) });
  uart.write(1, 1, 0x01);
  uart.receiveByte(0x41);
  assert.equal(intr.level, false);
  uart.write(4, 1, 0x0b);
  assert.equal(pic.acknowledge(), 0x24);
});

test("wiring: IRQ0 fanned out to the 8259 and to I/O APIC pin 2", () => {
  const { clock, pic } = board();
  const sent: IoApicMessage[] = [];
  const ioapic = new IoApic((m) => sent.push(m));
  ioapic.writeMmio(0, 4, 0x10 + 2 * 2);
  ioapic.writeMmio(0x10, 4, 0x30);
  const pit = new I8254Pit(clock, fanOutIrq(pic.irqLine(0), irqLineOf(ioapic, 2)));
  pit.write(3, 1, 0x30); // mode 0: one interrupt at terminal count
  pit.write(0, 1, 100);
  pit.write(0, 1, 0);
  clock.t = pit.nextDeadline()!;
  pit.advance(clock.t);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].vector, 0x30);
  assert.equal(pic.acknowledge(), 0x20);
});
