/**
 * Tests of the MC146818A RTC/CMOS against its datasheet, on a fake virtual clock: time registers
 * in BCD and binary, 12- and 24-hour format, SET, divider reset, UIP timing, the periodic
 * interrupt rates of register A, update-ended and alarm interrupts, register C clear-on-read,
 * register D VRT, the NMI mask bit of port 70h, QEMU's memory-size bytes, reset and save/load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Mc146818Rtc, RTC } from "../../src/vmm/devices/mc146818-rtc.js";
import { memorySizeBytes } from "../../src/vmm/devices/cmos-memory-size.js";
import { IrqLevel } from "../../src/vmm/devices/irq.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";

const START = Date.UTC(2026, 10, 26, 16, 30, 45); // Thursday 26 November 2026, 16:30:45
const MS = 1_000_000;

function setup() {
  const clock = {
    t: 0,
    now() {
      return this.t;
    },
  };
  const irq = new IrqLevel();
  const rtc = new Mc146818Rtc({ startTime: START, clock, irq });
  const reg = (i: number) => {
    rtc.write(0, 1, i);
    return rtc.read(1, 1);
  };
  const set = (i: number, v: number) => {
    rtc.write(0, 1, i);
    rtc.write(1, 1, v);
  };
  return { clock, irq, rtc, reg, set };
}

test("RTC: power-on registers A=26h B=02h D=80h, time in BCD 24-hour", () => {
  const { reg } = setup();
  assert.equal(reg(RTC.A), 0x26);
  assert.equal(reg(RTC.B), 0x02);
  assert.equal(reg(RTC.D), 0x80);
  assert.equal(reg(RTC.C), 0x00);
  assert.equal(reg(RTC.SECONDS), 0x45);
  assert.equal(reg(RTC.MINUTES), 0x30);
  assert.equal(reg(RTC.HOURS), 0x16);
  assert.equal(reg(RTC.DAY_OF_WEEK), 5, "Thursday; Sunday is 1");
  assert.equal(reg(RTC.DAY_OF_MONTH), 0x26);
  assert.equal(reg(RTC.MONTH), 0x11);
  assert.equal(reg(RTC.YEAR), 0x26);
  assert.equal(reg(RTC.CENTURY), 0x20);
});

test("RTC: the clock advances with virtual time, rolling over minutes", () => {
  const { clock, reg } = setup();
  clock.t = 1500 * MS;
  assert.equal(reg(RTC.SECONDS), 0x46);
  clock.t = 15_000 * MS;
  assert.equal(reg(RTC.SECONDS), 0x00);
  assert.equal(reg(RTC.MINUTES), 0x31);
});

test("RTC: binary data mode and 12-hour format (PM in bit 7)", () => {
  const { reg, set } = setup();
  set(RTC.B, 0x06); // binary, 24 h
  assert.equal(reg(RTC.SECONDS), 45);
  assert.equal(reg(RTC.HOURS), 16);
  assert.equal(reg(RTC.YEAR), 26);
  set(RTC.B, 0x00); // BCD, 12 h
  assert.equal(reg(RTC.HOURS), 0x84, "4 PM");
  set(RTC.B, 0x04); // binary, 12 h
  assert.equal(reg(RTC.HOURS), 0x84);
});

test("RTC: SET stops updates while the time is written, then the clock runs from it", () => {
  const { clock, reg, set } = setup();
  set(RTC.B, 0x82 | 0x10);
  assert.equal(reg(RTC.B), 0x82, "SET clears UIE");
  set(RTC.HOURS, 0x23);
  set(RTC.MINUTES, 0x59);
  set(RTC.SECONDS, 0x58);
  set(RTC.DAY_OF_MONTH, 0x31);
  set(RTC.MONTH, 0x12);
  set(RTC.YEAR, 0x99);
  set(RTC.CENTURY, 0x19);
  clock.t = 5000 * MS;
  assert.equal(reg(RTC.SECONDS), 0x58, "no updates while SET");
  assert.equal(reg(RTC.A) & 0x80, 0, "no UIP while SET");
  set(RTC.B, 0x02);
  clock.t = 7000 * MS;
  assert.equal(reg(RTC.SECONDS), 0x00);
  assert.equal(reg(RTC.MINUTES), 0x00);
  assert.equal(reg(RTC.HOURS), 0x00);
  assert.equal(reg(RTC.DAY_OF_MONTH), 0x01);
  assert.equal(reg(RTC.MONTH), 0x01);
  assert.equal(reg(RTC.YEAR), 0x00);
  assert.equal(reg(RTC.CENTURY), 0x20);
  assert.equal(reg(RTC.DAY_OF_WEEK), 7, "1 January 2000 was a Saturday");
});

test("RTC: writing one time register without SET changes the running time", () => {
  const { clock, reg, set } = setup();
  set(RTC.MINUTES, 0x10);
  clock.t = 1000 * MS;
  assert.equal(reg(RTC.MINUTES), 0x10);
  assert.equal(reg(RTC.SECONDS), 0x46);
});

test("RTC: UIP is set only in the 244 us before each update", () => {
  const { clock, reg } = setup();
  clock.t = 999_700 * 1000; // 32758 cycles into the second
  assert.equal(reg(RTC.A) & 0x80, 0);
  clock.t = 999_800 * 1000; // 32761 cycles: within 8 cycles of the update
  assert.equal(reg(RTC.A) & 0x80, 0x80);
  assert.equal(reg(RTC.SECONDS), 0x45, "the update has not happened yet");
  clock.t = 1_000_000 * 1000;
  assert.equal(reg(RTC.A) & 0x80, 0);
  assert.equal(reg(RTC.SECONDS), 0x46);
});

test("RTC: periodic interrupt at the register A rate (RS=6: 976.5625 us) on IRQ8", () => {
  const { clock, irq, rtc, reg, set } = setup();
  set(RTC.B, 0x42); // PIE
  assert.equal(rtc.nextDeadline(), 976_563);
  clock.t = 976_562;
  rtc.advance(clock.t);
  assert.equal(irq.level, false);
  clock.t = 976_563;
  rtc.advance(clock.t);
  assert.equal(irq.level, true);
  assert.equal(rtc.nextDeadline(), undefined, "nothing new until C is read");
  assert.equal(reg(RTC.C), 0xc0, "IRQF|PF");
  assert.equal(irq.level, false);
  assert.equal(reg(RTC.C), 0x00, "reading C cleared it");
  assert.equal(rtc.nextDeadline(), 1_953_125);
  // Rate table: RS=15 is 500 ms, RS=3 is 122.070 us, RS=1 is 3.90625 ms.
  set(RTC.A, 0x2f);
  assert.equal(rtc.nextDeadline(), 500_000_000);
  set(RTC.A, 0x23);
  assert.equal(rtc.nextDeadline(), 976_563 + 122_071 - 1);
  set(RTC.A, 0x21);
  assert.equal(rtc.nextDeadline(), 3_906_250);
  set(RTC.A, 0x20);
  assert.equal(rtc.nextDeadline(), undefined, "RS=0: no periodic interrupt");
});

test("RTC: PF is set without PIE but raises no interrupt; enabling PIE then raises IRQF", () => {
  const { clock, irq, rtc, reg, set } = setup();
  clock.t = 2 * MS;
  rtc.advance(clock.t);
  assert.equal(irq.level, false);
  set(RTC.B, 0x42);
  assert.equal(irq.level, true);
  assert.equal(reg(RTC.C), 0xc0);
});

test("RTC: update-ended interrupt once a second", () => {
  const { clock, irq, rtc, reg, set } = setup();
  set(RTC.A, 0x20); // no periodic rate, so PF stays clear
  set(RTC.B, 0x12); // UIE
  assert.equal(rtc.nextDeadline(), 1_000_000_000);
  clock.t = 1_000_000_000;
  rtc.advance(clock.t);
  assert.equal(irq.level, true);
  assert.equal(reg(RTC.C), 0x90);
});

test("RTC: alarm interrupt when seconds/minutes/hours match; C0h+ is don't care", () => {
  const { clock, irq, rtc, reg, set } = setup();
  set(RTC.SECONDS_ALARM, 0x48);
  set(RTC.MINUTES_ALARM, 0x30);
  set(RTC.HOURS_ALARM, 0x16);
  set(RTC.B, 0x22); // AIE
  clock.t = 2000 * MS;
  rtc.advance(clock.t);
  assert.equal(irq.level, false);
  clock.t = 3000 * MS;
  rtc.advance(clock.t);
  assert.equal(irq.level, true);
  assert.equal(reg(RTC.C) & 0xa0, 0xa0, "IRQF|AF");
  set(RTC.SECONDS_ALARM, 0xff);
  set(RTC.MINUTES_ALARM, 0xc0);
  set(RTC.HOURS_ALARM, 0xc0);
  clock.t = 4000 * MS;
  rtc.advance(clock.t);
  assert.equal(reg(RTC.C) & 0xa0, 0xa0, "every second");
});

test("RTC: divider reset holds the time; the first update comes 500 ms after release", () => {
  const { clock, reg, set } = setup();
  set(RTC.A, 0x76);
  clock.t = 10_000 * MS;
  assert.equal(reg(RTC.SECONDS), 0x45);
  set(RTC.A, 0x26);
  clock.t = 10_499 * MS;
  assert.equal(reg(RTC.SECONDS), 0x45);
  clock.t = 10_500 * MS;
  assert.equal(reg(RTC.SECONDS), 0x46);
});

test("RTC: C and D are read-only; port 70h bit 7 is the NMI mask; CMOS RAM keeps bytes", () => {
  const { rtc, reg, set } = setup();
  set(RTC.C, 0xff);
  set(RTC.D, 0x00);
  assert.equal(reg(RTC.C), 0);
  assert.equal(reg(RTC.D), 0x80);
  rtc.write(0, 1, 0x80 | 0x40);
  assert.equal(rtc.nmiMasked, true);
  rtc.write(1, 1, 0x5a);
  rtc.write(0, 1, 0x40);
  assert.equal(rtc.nmiMasked, false);
  assert.equal(rtc.read(1, 1), 0x5a);
  assert.equal(rtc.read(0, 1), 0xff, "port 70h is write-only");
});

test("CMOS memory size bytes as QEMU's pc machine fills them", () => {
  const { rtc, reg } = setup();
  rtc.fillMemorySize(128 * 1024 * 1024);
  assert.deepEqual([reg(0x15), reg(0x16)], [0x80, 0x02], "640 KiB base");
  assert.deepEqual([reg(0x17), reg(0x18), reg(0x30), reg(0x31)], [0xff, 0xff, 0xff, 0xff], "capped at 65535");
  assert.deepEqual([reg(0x34), reg(0x35)], [0x00, 0x07], "112 MiB / 64 KiB = 1792");
  assert.deepEqual([reg(0x5b), reg(0x5c), reg(0x5d)], [0, 0, 0]);
  const small = memorySizeBytes(32 * 1024 * 1024);
  assert.equal(small.get(0x17)! | (small.get(0x18)! << 8), 31 * 1024);
  const big = memorySizeBytes(8 * 1024 ** 3); // 3 GiB below 4 GiB, 5 GiB above
  assert.equal(big.get(0x34)! | (big.get(0x35)! << 8), (3 * 1024 - 16) * 16);
  assert.equal(big.get(0x5b)! | (big.get(0x5c)! << 8) | (big.get(0x5d)! << 16), 5 * 1024 * 16);
  assert.throws(() => memorySizeBytes(-1), RangeError);
});

test("RTC: reset clears the interrupt enables and flags, keeps the time and RAM", () => {
  const { clock, irq, rtc, reg, set } = setup();
  set(0x40, 0x77);
  set(RTC.B, 0x7a);
  clock.t = 1000 * MS;
  rtc.advance(clock.t);
  assert.equal(irq.level, true);
  rtc.reset();
  assert.equal(irq.level, false);
  assert.equal(reg(RTC.B), 0x02);
  assert.equal(reg(RTC.C), 0);
  assert.equal(reg(0x40), 0x77);
  assert.equal(reg(RTC.SECONDS), 0x46);
});

test("RTC: loading a state with IRQF set drives IRQ8 high", () => {
  const { clock, irq, rtc, set } = setup();
  set(RTC.B, 0x42);
  clock.t = 2 * MS;
  rtc.advance(clock.t);
  assert.equal(irq.level, true);
  const line = new IrqLevel();
  const copy = new Mc146818Rtc({ startTime: 0, clock, irq: line });
  copy.load(rtc.save());
  assert.equal(line.level, true);
});

test("RTC: save/load round trip; corrupt state refused, device unchanged", () => {
  const { clock, rtc, reg, set } = setup();
  set(0x50, 0x12);
  set(RTC.B, 0x42);
  clock.t = 5 * MS;
  const saved = JSON.parse(JSON.stringify(rtc.save()));
  const copy = new Mc146818Rtc({ startTime: 0, clock });
  copy.load(saved);
  assert.deepEqual(copy.save(), saved);
  copy.write(0, 1, 0x50);
  assert.equal(copy.read(1, 1), 0x12);
  copy.write(0, 1, RTC.SECONDS);
  assert.equal(copy.read(1, 1), reg(RTC.SECONDS));
  const before = copy.save();
  assert.throws(() => copy.load({ ...saved, cmos: saved.cmos.slice(1) }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, index: 128 }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, lastSyncNs: saved.originNs - 1 }), /lastSyncNs/);
  assert.throws(() => copy.load({ ...saved, version: 3 }), DeviceStateError);
  assert.deepEqual(copy.save(), before);
});
