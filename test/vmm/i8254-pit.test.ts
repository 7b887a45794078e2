/**
 * Tests of the 8254 PIT and port 61h against the Intel 8254 datasheet, on a fake virtual
 * clock: counting at 1.193182 MHz, mode 2 rate pulses on IRQ0 with nextDeadline/advance, the
 * counter latch and read-back commands and status byte, LSB/MSB access, BCD, modes 0, 1, 3, 4
 * and 5, counter 2's GATE and OUT through port 61h, the refresh toggle, and save/load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { I8254Pit, PIT_HZ } from "../../src/vmm/devices/i8254-pit.js";
import { pitNsAt, pitTicksAt } from "../../src/vmm/devices/pit-time.js";
import { Port61 } from "../../src/vmm/devices/port61.js";
import { IrqLevel } from "../../src/vmm/devices/irq.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";

class FakeClock {
  t = 0;
  now(): number {
    return this.t;
  }
  /** Moves to `ticks` PIT clocks after time 0. */
  toTick(ticks: number): void {
    this.t = pitNsAt(ticks);
  }
}

function setup() {
  const clock = new FakeClock();
  const irq = new IrqLevel();
  const pit = new I8254Pit(clock, irq);
  return { clock, irq, pit };
}

/** Latches counter `n` and reads its 16-bit count (LSB then MSB). */
function latchedCount(pit: I8254Pit, n: number): number {
  pit.write(3, 1, n << 6); // counter latch command
  return pit.read(n, 1) | (pit.read(n, 1) << 8);
}

test("PIT clock conversions: 1.193182 MHz, exact and monotonic", () => {
  assert.equal(PIT_HZ, 1193182);
  assert.equal(pitTicksAt(1_000_000_000), 1193182);
  assert.equal(pitTicksAt(3_600_000_000_000), 1193182 * 3600);
  for (const k of [1, 2, 1193, 65536, 1193181, 1193183, 123456789]) {
    assert.equal(pitTicksAt(pitNsAt(k)), k);
    assert.equal(pitTicksAt(pitNsAt(k) - 1), k - 1);
  }
});

test("PIT mode 2 on counter 0: counts down from N, pulses IRQ0 every N clocks", () => {
  const { clock, irq, pit } = setup();
  pit.write(3, 1, 0x34); // counter 0, LSB then MSB, mode 2, binary
  pit.write(0, 1, 1000 & 0xff);
  pit.write(0, 1, 1000 >> 8);
  assert.equal(irq.level, true, "mode 2 OUT is high while counting");
  // The control word itself took OUT from low (power-on) to high: that is one edge already.
  const base = irq.risingEdges;
  assert.equal(latchedCount(pit, 0), 1000);
  clock.toTick(300);
  assert.equal(latchedCount(pit, 0), 700);
  assert.equal(pit.nextDeadline(), pitNsAt(1000));
  clock.toTick(999);
  assert.equal(pit.advance(clock.now()), 0);
  assert.equal(irq.risingEdges, base);
  assert.equal(pit.out(0), false, "OUT low for one clock when the count reaches 1");
  clock.toTick(1000);
  assert.equal(pit.advance(clock.now()), 1);
  assert.equal(irq.risingEdges, base + 1);
  assert.equal(pit.nextDeadline(), pitNsAt(2000));
  // Late by three periods: coalesced into one edge, the number reported.
  clock.toTick(4500);
  assert.equal(pit.advance(clock.now()), 3);
  assert.equal(irq.risingEdges, base + 2);
  assert.equal(latchedCount(pit, 0), 500);
});

test("PIT counter latch holds the count while the counter runs on", () => {
  const { clock, pit } = setup();
  pit.write(3, 1, 0x30); // mode 0
  pit.write(0, 1, 0x00);
  pit.write(0, 1, 0x80); // 0x8000
  clock.toTick(0x100);
  pit.write(3, 1, 0x00);
  clock.toTick(0x200);
  pit.write(3, 1, 0x00); // a second latch while latched is ignored
  assert.equal(pit.read(0, 1), 0x00);
  assert.equal(pit.read(0, 1), 0x7f);
  // Unlatched reads follow the counter.
  assert.equal(pit.read(0, 1) | (pit.read(0, 1) << 8), 0x7e00);
});

test("PIT read-back: status byte OUT/NULL COUNT/RW/mode/BCD, then count", () => {
  const { clock, pit } = setup();
  pit.write(3, 1, 0xb6); // counter 2, LSB/MSB, mode 3, binary
  pit.write(3, 1, 0xe8); // read-back status of counter 2 (D5=1: no count, D4=0: status)
  assert.equal(pit.read(2, 1), 0x40 | 0x36 | 0x80, "NULL COUNT before a count is written; mode 3 OUT high");
  pit.write(2, 1, 0x10);
  pit.write(2, 1, 0x00); // count 16, but GATE 2 is low
  clock.toTick(5);
  pit.write(3, 1, 0xc8); // read-back count and status of counter 2
  assert.equal(pit.read(2, 1), 0x80 | 0x36, "status first, NULL COUNT clear");
  assert.equal(pit.read(2, 1), 0x10);
  assert.equal(pit.read(2, 1), 0x00);
  // Counter 0 mode 0 before terminal count: OUT low in the status.
  pit.write(3, 1, 0x30);
  pit.write(0, 1, 0xff);
  pit.write(0, 1, 0xff);
  clock.toTick(10);
  pit.write(3, 1, 0xe2);
  assert.equal(pit.read(0, 1), 0x30);
});

test("PIT LSB-only and MSB-only access", () => {
  const { clock, pit } = setup();
  pit.write(3, 1, 0x14); // counter 0 LSB only, mode 2
  pit.write(0, 1, 200);
  clock.toTick(50);
  assert.equal(pit.read(0, 1), 150);
  pit.write(3, 1, 0x64); // counter 1 MSB only, mode 2
  pit.write(1, 1, 0x02); // count 0x200
  clock.toTick(50 + 0x100);
  assert.equal(pit.read(1, 1), 0x01);
});

test("PIT BCD counting: 1000 counts as decimal", () => {
  const { clock, pit } = setup();
  pit.write(3, 1, 0x31); // counter 0, mode 0, BCD
  pit.write(0, 1, 0x00);
  pit.write(0, 1, 0x10); // BCD 1000
  clock.toTick(1);
  assert.equal(latchedCount(pit, 0), 0x0999);
  clock.toTick(1000);
  assert.equal(pit.out(0), true, "terminal count after 1000 clocks");
});

test("PIT mode 0: OUT low, rises at terminal count and raises IRQ0 once; first byte stops it", () => {
  const { clock, irq, pit } = setup();
  pit.write(3, 1, 0x30);
  pit.write(0, 1, 100);
  pit.write(0, 1, 0);
  assert.equal(irq.level, false);
  assert.equal(pit.nextDeadline(), pitNsAt(100));
  clock.toTick(100);
  pit.advance(clock.now());
  assert.equal(irq.level, true);
  assert.equal(pit.nextDeadline(), undefined);
  clock.toTick(70000);
  pit.advance(clock.now());
  assert.equal(irq.risingEdges, 1);
  pit.write(0, 1, 50); // first byte of a new count: counting stops, OUT low
  assert.equal(irq.level, false);
  clock.toTick(80000);
  assert.equal(pit.out(0), false);
  pit.write(0, 1, 0); // second byte: count 50 starts
  clock.toTick(80050);
  pit.advance(clock.now());
  assert.equal(irq.risingEdges, 2);
});

test("PIT mode 3: square wave, high N/2 then low N/2", () => {
  const { clock, irq, pit } = setup();
  pit.write(3, 1, 0x36);
  pit.write(0, 1, 100);
  pit.write(0, 1, 0);
  const base = irq.risingEdges;
  clock.toTick(49);
  assert.equal(pit.out(0), true);
  clock.toTick(50);
  assert.equal(pit.out(0), false);
  clock.toTick(99);
  assert.equal(pit.out(0), false);
  clock.toTick(100);
  assert.equal(pit.out(0), true);
  pit.advance(clock.now());
  assert.equal(irq.risingEdges, base + 1);
  clock.toTick(110);
  assert.equal(latchedCount(pit, 0), 80, "mode 3 decrements by two");
});

test("PIT mode 4: OUT low for one clock when the count expires", () => {
  const { clock, pit } = setup();
  pit.write(3, 1, 0x38);
  pit.write(0, 1, 20);
  pit.write(0, 1, 0);
  clock.toTick(19);
  assert.equal(pit.out(0), true);
  clock.toTick(20);
  assert.equal(pit.out(0), false);
  clock.toTick(21);
  assert.equal(pit.out(0), true);
  clock.toTick(20 + 65536);
  assert.equal(pit.out(0), true, "no second strobe after the count wraps");
});

test("PIT counter 2 through port 61h: GATE, OUT2 (mode 0 calibration), refresh toggle", () => {
  const { clock, pit } = setup();
  const p61 = new Port61(pit, clock);
  p61.write(0, 1, 0x00);
  pit.write(3, 1, 0xb0); // counter 2, mode 0
  pit.write(2, 1, 0xe8);
  pit.write(2, 1, 0x03); // 1000
  clock.toTick(2000);
  assert.equal(p61.read(0, 1) & 0x20, 0, "GATE low: counter 2 does not count");
  p61.write(0, 1, 0x01);
  assert.equal(p61.read(0, 1) & 0x01, 0x01);
  clock.toTick(2999);
  assert.equal(p61.read(0, 1) & 0x20, 0);
  clock.toTick(3000);
  assert.equal(p61.read(0, 1) & 0x20, 0x20, "OUT2 high after 1000 clocks of GATE high");
  clock.t = 15_085 * 7;
  const a = p61.read(0, 1) & 0x10;
  clock.t = 15_085 * 8;
  const b = p61.read(0, 1) & 0x10;
  assert.notEqual(a, b, "refresh toggle flips every 15.085 us");
  p61.write(0, 1, 0xf3);
  assert.equal(p61.read(0, 1) & 0x0f, 0x03, "bits 4-7 are read-only");
  assert.equal(p61.speakerEnabled, true);
});

test("PIT mode 1 and 5 start on a GATE rising edge; mode 2 GATE low forces OUT high", () => {
  const { clock, pit } = setup();
  const p61 = new Port61(pit, clock);
  pit.write(3, 1, 0xb2); // counter 2, mode 1
  pit.write(2, 1, 10);
  pit.write(2, 1, 0);
  clock.toTick(100);
  assert.equal(pit.out2(), true, "mode 1 OUT high until triggered");
  p61.write(0, 1, 1);
  assert.equal(pit.out2(), false);
  clock.toTick(110);
  assert.equal(pit.out2(), true);
  p61.write(0, 1, 0);
  pit.write(3, 1, 0xba); // mode 5
  pit.write(2, 1, 10);
  pit.write(2, 1, 0);
  clock.toTick(200);
  p61.write(0, 1, 1);
  clock.toTick(210);
  assert.equal(pit.out2(), false, "mode 5 strobe");
  clock.toTick(211);
  assert.equal(pit.out2(), true);
  pit.write(3, 1, 0xb4); // mode 2
  pit.write(2, 1, 5);
  pit.write(2, 1, 0);
  clock.toTick(215);
  assert.equal(pit.out2(), false);
  p61.write(0, 1, 0);
  assert.equal(pit.out2(), true, "GATE low drives OUT high in mode 2");
});

test("PIT mode 2: a new count without a control word waits for the period's end", () => {
  const { clock, irq, pit } = setup();
  pit.write(3, 1, 0x34);
  pit.write(0, 1, 100);
  pit.write(0, 1, 0);
  const base = irq.risingEdges;
  clock.toTick(30);
  pit.write(0, 1, 10);
  pit.write(0, 1, 0);
  clock.toTick(60);
  assert.equal(latchedCount(pit, 0), 40, "old count continues");
  assert.equal(pit.nextDeadline(), pitNsAt(100));
  clock.toTick(125);
  assert.equal(pit.advance(clock.now()), 3, "edges at 100, 110 and 120");
  assert.equal(irq.risingEdges, base + 1);
  assert.equal(latchedCount(pit, 0), 5);
});

test("PIT save/load round trip; corrupt state refused, device unchanged", () => {
  const { clock, pit } = setup();
  pit.write(3, 1, 0x34);
  pit.write(0, 1, 0x00);
  pit.write(0, 1, 0x10);
  clock.toTick(100);
  const saved = JSON.parse(JSON.stringify(pit.save()));
  const copy = new I8254Pit(clock);
  copy.load(saved);
  assert.deepEqual(copy.save(), saved);
  assert.equal(latchedCount(copy, 0), 0x1000 - 100);
  const before = copy.save();
  assert.throws(() => copy.load({ ...saved, version: 0 }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, counters: [] }), DeviceStateError);
  const bad = JSON.parse(JSON.stringify(saved));
  bad.counters[2].mode = 6;
  assert.throws(() => copy.load(bad), /counters\[2\]\.mode/);
  assert.deepEqual(copy.save(), before);
});
