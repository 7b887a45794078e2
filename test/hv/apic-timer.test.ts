/**
 * The APIC timer (SDM Vol.3 10.5.4): one-shot and periodic counts under every divide
 * configuration (Figure 10-10), the current-count register, masking, and the TSC-deadline
 * mode (10.5.4.1). Time is a fake TSC the test moves by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalApic, type ApicBus } from "../../src/hv/apic/index.js";

const noBus: ApicBus = { sendIpi() {} };

function timerApic(timerDivisorBase?: number) {
  const clock = { tsc: 1000 };
  const apic = new LocalApic({ apicId: 0, isBsp: true, bus: noBus, now: () => clock.tsc, timerDivisorBase });
  apic.writeMmio(0xf0, 4, 0x1ff);
  return { apic, clock };
}

const fired = (apic: LocalApic, vector: number) =>
  ((apic.readMmio(0x200 + (vector >>> 5) * 0x10) >>> (vector & 31)) & 1) === 1;

/** DCR encodings and their divisors, SDM Vol.3 Figure 10-10. */
const DIVISORS: [number, number][] = [
  [0b0000, 2],
  [0b0001, 4],
  [0b0010, 8],
  [0b0011, 16],
  [0b1000, 32],
  [0b1001, 64],
  [0b1010, 128],
  [0b1011, 1],
];

for (const [dcr, divisor] of DIVISORS) {
  test(`one-shot with DCR ${dcr.toString(2).padStart(4, "0")}B counts at TSC / ${divisor}`, () => {
    const { apic, clock } = timerApic();
    apic.writeMmio(0x3e0, 4, dcr);
    apic.writeMmio(0x320, 4, 0x41);
    apic.writeMmio(0x380, 4, 100);
    assert.equal(apic.nextTimerDeadline(), 1000 + 100 * divisor);
    clock.tsc = 1000 + 40 * divisor;
    assert.equal(apic.readMmio(0x390), 60, "current count");
    clock.tsc = 1000 + 100 * divisor - 1;
    apic.updateTimer();
    assert.equal(fired(apic, 0x41), false, "one cycle early");
    clock.tsc = 1000 + 100 * divisor;
    apic.updateTimer();
    assert.equal(fired(apic, 0x41), true);
    assert.equal(apic.readMmio(0x390), 0, "a one-shot count stays at 0");
    assert.equal(apic.readMmio(0x380), 100, "initial count unchanged");
    assert.equal(apic.nextTimerDeadline(), undefined);
  });
}

test("timerDivisorBase scales the input clock", () => {
  const { apic } = timerApic(25);
  apic.writeMmio(0x3e0, 4, 0b0001);
  apic.writeMmio(0x320, 4, 0x41);
  apic.writeMmio(0x380, 4, 10);
  assert.equal(apic.nextTimerDeadline(), 1000 + 10 * 4 * 25);
});

test("periodic reloads from the initial count and fires once per period", () => {
  const { apic, clock } = timerApic();
  apic.writeMmio(0x3e0, 4, 0b1011); // divide by 1
  apic.writeMmio(0x320, 4, 0x20000 | 0x52);
  apic.writeMmio(0x380, 4, 100);
  clock.tsc = 1100;
  apic.updateTimer();
  assert.ok(fired(apic, 0x52));
  assert.equal(apic.nextTimerDeadline(), 1200);
  assert.equal(apic.readMmio(0x390), 100, "reloaded");
  assert.equal(apic.acknowledge(), 0x52);
  apic.writeMmio(0xb0, 4, 0);
  clock.tsc = 1350; // two and a half periods later: one interrupt, next deadline 1400
  assert.equal(apic.readMmio(0x390), 50);
  apic.updateTimer();
  assert.ok(fired(apic, 0x52));
  assert.equal(apic.nextTimerDeadline(), 1400);
});

test("writing 0 to the initial count stops the timer", () => {
  const { apic, clock } = timerApic();
  apic.writeMmio(0x320, 4, 0x20041);
  apic.writeMmio(0x380, 4, 10);
  apic.writeMmio(0x380, 4, 0);
  assert.equal(apic.nextTimerDeadline(), undefined);
  clock.tsc = 10_000;
  apic.updateTimer();
  assert.equal(fired(apic, 0x41), false);
  assert.equal(apic.readMmio(0x390), 0);
});

test("a DCR write during a count continues from the current count at the new rate", () => {
  const { apic, clock } = timerApic();
  apic.writeMmio(0x3e0, 4, 0b1011);
  apic.writeMmio(0x320, 4, 0x41);
  apic.writeMmio(0x380, 4, 100);
  clock.tsc = 1040;
  apic.writeMmio(0x3e0, 4, 0b0011); // divide by 16
  assert.equal(apic.readMmio(0x390), 60);
  assert.equal(apic.nextTimerDeadline(), 1040 + 60 * 16);
});

test("a masked timer counts but does not interrupt, and unmasking later does not replay it", () => {
  const { apic, clock } = timerApic();
  apic.writeMmio(0x3e0, 4, 0b1011);
  apic.writeMmio(0x320, 4, 0x10041);
  apic.writeMmio(0x380, 4, 100);
  assert.equal(apic.nextTimerDeadline(), undefined, "nothing to wake for");
  clock.tsc = 1050;
  assert.equal(apic.readMmio(0x390), 50, "still counting");
  clock.tsc = 1200;
  apic.writeMmio(0x320, 4, 0x41);
  apic.updateTimer();
  assert.equal(fired(apic, 0x41), false);
  assert.equal(apic.readMmio(0x390), 0);
});

test("TSC-deadline: fires when TSC >= IA32_TSC_DEADLINE, then clears it (10.5.4.1)", () => {
  const { apic, clock } = timerApic();
  apic.writeMmio(0x320, 4, 0x40000 | 0x63);
  assert.ok(apic.writeMsr(0x6e0, 5000n));
  assert.equal(apic.readMsr(0x6e0), 5000n);
  assert.equal(apic.nextTimerDeadline(), 5000);
  apic.writeMmio(0x380, 4, 7);
  assert.equal(apic.readMmio(0x380), 0, "initial count writes are ignored");
  assert.equal(apic.readMmio(0x390), 0, "current count reads 0");
  clock.tsc = 4999;
  apic.updateTimer();
  assert.equal(fired(apic, 0x63), false);
  clock.tsc = 5000;
  apic.updateTimer();
  assert.ok(fired(apic, 0x63));
  assert.equal(apic.readMsr(0x6e0), 0n);
  assert.equal(apic.nextTimerDeadline(), undefined);
});

test("TSC-deadline: writing 0 disarms; a deadline in the past fires at the next update", () => {
  const { apic, clock } = timerApic();
  apic.writeMmio(0x320, 4, 0x40063);
  apic.writeMsr(0x6e0, 3000n);
  apic.writeMsr(0x6e0, 0n);
  clock.tsc = 4000;
  apic.updateTimer();
  assert.equal(fired(apic, 0x63), false);
  apic.writeMsr(0x6e0, 10n);
  apic.updateTimer();
  assert.ok(fired(apic, 0x63));
});

test("IA32_TSC_DEADLINE reads 0 and ignores writes outside TSC-deadline mode", () => {
  const { apic } = timerApic();
  apic.writeMmio(0x320, 4, 0x63);
  assert.ok(apic.writeMsr(0x6e0, 5000n));
  assert.equal(apic.readMsr(0x6e0), 0n);
  apic.writeMmio(0x320, 4, 0x40063);
  assert.equal(apic.readMsr(0x6e0), 0n, "the ignored write did not arm it");
});

test("switching between TSC-deadline and the other modes disarms the timer", () => {
  const { apic } = timerApic();
  apic.writeMmio(0x320, 4, 0x40063);
  apic.writeMsr(0x6e0, 5000n);
  apic.writeMmio(0x320, 4, 0x63);
  apic.writeMmio(0x320, 4, 0x40063);
  assert.equal(apic.readMsr(0x6e0), 0n);
  apic.writeMmio(0x320, 4, 0x63);
  apic.writeMmio(0x380, 4, 100);
  apic.writeMmio(0x320, 4, 0x40063);
  apic.writeMmio(0x320, 4, 0x63);
  assert.equal(apic.nextTimerDeadline(), undefined);
  assert.equal(apic.readMmio(0x390), 0);
});

test("one-shot <-> periodic keeps the count running", () => {
  const { apic, clock } = timerApic();
  apic.writeMmio(0x3e0, 4, 0b1011);
  apic.writeMmio(0x320, 4, 0x41);
  apic.writeMmio(0x380, 4, 100);
  apic.writeMmio(0x320, 4, 0x20041);
  clock.tsc = 1100;
  apic.updateTimer();
  assert.ok(fired(apic, 0x41));
  assert.equal(apic.nextTimerDeadline(), 1200);
});
