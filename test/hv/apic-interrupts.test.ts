/**
 * Interrupt acceptance and priority: IRR/TMR on acceptance (SDM Vol.3 10.8.4), PPR and the
 * priority-class rule (10.8.3.1), INTA and EOI order, the spurious vector (10.9), the
 * level-triggered EOI callback, illegal vectors and the ESR (10.5.3), CR8 (10.8.6.1), the
 * LINT pins and other LVT sources (10.5.1), and the latched NMI/SMI/INIT events.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalApic, type ApicBus } from "../../src/hv/apic/index.js";

const noBus: ApicBus = { sendIpi() {} };

function enabledApic(onEoi?: (vector: number) => void): LocalApic {
  const apic = new LocalApic({ apicId: 0, isBsp: true, bus: noBus, now: () => 0, onEoi });
  apic.writeMmio(0xf0, 4, 0x1ff);
  return apic;
}

const eoi = (apic: LocalApic) => apic.writeMmio(0xb0, 4, 0);
const irrBit = (apic: LocalApic, v: number) => (apic.readMmio(0x200 + (v >>> 5) * 0x10) >>> (v & 31)) & 1;
const isrBit = (apic: LocalApic, v: number) => (apic.readMmio(0x100 + (v >>> 5) * 0x10) >>> (v & 31)) & 1;
const tmrBit = (apic: LocalApic, v: number) => (apic.readMmio(0x180 + (v >>> 5) * 0x10) >>> (v & 31)) & 1;

test("acceptance sets IRR, and TMR for level / clears it for edge", () => {
  const apic = enabledApic();
  assert.ok(apic.acceptInterrupt(0x61, "level"));
  assert.equal(irrBit(apic, 0x61), 1);
  assert.equal(tmrBit(apic, 0x61), 1);
  apic.acknowledge();
  eoi(apic);
  apic.acceptInterrupt(0x61, "edge");
  assert.equal(tmrBit(apic, 0x61), 0);
});

test("the highest vector is delivered first; EOI retires the highest in-service vector", () => {
  const apic = enabledApic();
  apic.acceptInterrupt(0x31, "edge");
  apic.acceptInterrupt(0x92, "edge");
  apic.acceptInterrupt(0x55, "edge");
  assert.equal(apic.pendingVector(), 0x92);
  assert.equal(apic.acknowledge(), 0x92);
  assert.equal(irrBit(apic, 0x92), 0);
  assert.equal(isrBit(apic, 0x92), 1);
  assert.equal(apic.readMmio(0xa0), 0x90, "PPR = ISRV[7:4] << 4");
  assert.equal(apic.pendingVector(), -1, "0x55 is below the in-service class");
  eoi(apic);
  assert.equal(apic.acknowledge(), 0x55);
  apic.acceptInterrupt(0xa0, "edge");
  assert.equal(apic.acknowledge(), 0xa0, "a higher class nests");
  eoi(apic);
  assert.equal(isrBit(apic, 0xa0), 0);
  assert.equal(isrBit(apic, 0x55), 1);
  eoi(apic);
  assert.equal(apic.acknowledge(), 0x31);
});

test("PPR = TPR when TPR[7:4] >= ISRV[7:4]; only vectors of a higher class are delivered", () => {
  const apic = enabledApic();
  apic.writeMmio(0x80, 4, 0x45);
  assert.equal(apic.readMmio(0xa0), 0x45);
  apic.acceptInterrupt(0x4f, "edge");
  assert.equal(apic.pendingVector(), -1, "same class as TPR");
  apic.acceptInterrupt(0x50, "edge");
  assert.equal(apic.pendingVector(), 0x50);
  apic.acknowledge();
  assert.equal(apic.readMmio(0xa0), 0x50);
  apic.writeMmio(0x80, 4, 0x5f);
  assert.equal(apic.readMmio(0xa0), 0x5f, "TPR class equal to ISRV class: PPR = TPR");
  assert.equal(apic.readMmio(0x90), 0x50, "APR: TPR[7:4] not above ISRV[7:4], so the class 50H (10.6.2.4)");
  eoi(apic);
  assert.equal(apic.readMmio(0x90), 0x5f, "APR = TPR once TPR[7:4] >= IRRV[7:4] and > ISRV[7:4]");
});

test("INTA with nothing deliverable returns the spurious vector and changes nothing (10.9)", () => {
  const apic = enabledApic();
  apic.writeMmio(0xf0, 4, 0x1e7);
  assert.equal(apic.acknowledge(), 0xe7);
  apic.acceptInterrupt(0x40, "edge");
  apic.setTprFromCr8(4);
  assert.equal(apic.acknowledge(), 0xe7);
  assert.equal(irrBit(apic, 0x40), 1);
  assert.equal(isrBit(apic, 0x40), 0);
});

test("EOI of a level-triggered vector calls onEoi; edge does not", () => {
  const seen: number[] = [];
  const apic = enabledApic((v) => seen.push(v));
  apic.acceptInterrupt(0x70, "level");
  apic.acceptInterrupt(0x60, "edge");
  apic.acknowledge();
  eoi(apic);
  apic.acknowledge();
  eoi(apic);
  assert.deepEqual(seen, [0x70]);
  eoi(apic);
  assert.deepEqual(seen, [0x70], "EOI with an empty ISR does nothing");
});

test("x2APIC EOI through MSR 80BH", () => {
  const seen: number[] = [];
  const apic = enabledApic((v) => seen.push(v));
  assert.ok(apic.setApicBase(0xfee00d00n, false));
  apic.acceptInterrupt(0x80, "level");
  assert.equal(apic.acknowledge(), 0x80);
  assert.equal(apic.readMsr(0x810 + 4), 1n, "ISR word 4 bit 0");
  assert.ok(apic.writeMsr(0x80b, 0n));
  assert.equal(apic.readMsr(0x814), 0n);
  assert.deepEqual(seen, [0x80]);
});

test("vectors 0-15 are refused and logged as Receive Illegal Vector", () => {
  const apic = enabledApic();
  assert.equal(apic.acceptInterrupt(15, "edge"), false);
  assert.equal(apic.readMmio(0x200), 0, "no IRR bit below 16");
  apic.writeMmio(0x280, 4, 0);
  assert.equal(apic.readMmio(0x280), 0x40);
  assert.throws(() => apic.acceptInterrupt(256, "edge"), { name: "HvError" });
});

test("the error LVT raises an interrupt when an error is logged", () => {
  const apic = enabledApic();
  apic.writeMmio(0x370, 4, 0xfe);
  apic.acceptInterrupt(3, "edge");
  assert.equal(apic.pendingVector(), 0xfe);
});

test("a software-disabled APIC refuses fixed interrupts and keeps its LVTs masked (10.4.7.2)", () => {
  const apic = enabledApic();
  apic.writeMmio(0x350, 4, 0x700);
  apic.writeMmio(0x320, 4, 0x40);
  apic.acceptInterrupt(0x41, "edge");
  apic.writeMmio(0xf0, 4, 0xff);
  assert.equal(apic.readMmio(0x350), 0x10700, "masked by the software disable");
  assert.equal(apic.readMmio(0x320), 0x10040);
  apic.writeMmio(0x360, 4, 0x400);
  assert.equal(apic.readMmio(0x360), 0x10400, "the mask cannot be cleared while disabled");
  assert.equal(apic.acceptInterrupt(0x42, "edge"), false);
  assert.equal(apic.pendingVector(), 0x41, "an already pending interrupt is held");
  apic.deliver("nmi", 0, "edge");
  apic.deliver("init", 0, "edge");
  apic.deliver("sipi", 0x9a, "edge");
  apic.deliver("smi", 0, "edge");
  assert.ok(apic.hasEvents());
  assert.equal(apic.takeNmi(), true);
  assert.equal(apic.takeInit(), true);
  assert.equal(apic.takeSipi(), 0x9a);
  assert.equal(apic.takeSmi(), true);
  assert.ok(!apic.hasEvents());
  assert.equal(apic.takeSipi(), -1);
});

test("CR8 writes TPR[7:4] and clears TPR[3:0]; CR8 reads TPR[7:4] (10.8.6.1)", () => {
  const apic = enabledApic();
  apic.writeMmio(0x80, 4, 0x3c);
  assert.equal(apic.cr8, 3);
  apic.setTprFromCr8(0xa);
  assert.equal(apic.readMmio(0x80), 0xa0);
  assert.equal(apic.tpr, 0xa0);
});

test("LINT0 as ExtINT passes the 8259; a masked or non-ExtINT LINT0 does not", () => {
  const apic = enabledApic();
  assert.equal(apic.acceptsExtInt(), false, "masked after reset");
  apic.raiseLint(0, true);
  assert.equal(apic.extIntPending(), false);
  apic.writeMmio(0x350, 4, 0x700);
  assert.equal(apic.acceptsExtInt(), true);
  assert.equal(apic.extIntPending(), true);
  apic.raiseLint(0, false);
  assert.equal(apic.extIntPending(), false);
  assert.ok(apic.setApicBase(0xfee00000n, false));
  assert.equal(apic.acceptsExtInt(), true, "hardware-disabled: LINT0 is the INTR pin");
});

test("LINT1 as NMI latches an NMI on the rising edge only", () => {
  const apic = enabledApic();
  apic.writeMmio(0x360, 4, 0x400);
  apic.raiseLint(1, true);
  apic.raiseLint(1, true);
  assert.equal(apic.takeNmi(), true);
  assert.equal(apic.takeNmi(), false, "still asserted: no second edge");
  apic.raiseLint(1, false);
  apic.raiseLint(1, true);
  assert.equal(apic.takeNmi(), true);
});

test("a level-triggered fixed LINT sets remote IRR until EOI and re-raises while asserted", () => {
  const seen: number[] = [];
  const apic = enabledApic((v) => seen.push(v));
  apic.writeMmio(0x350, 4, 0x8000 | 0x33);
  apic.raiseLint(0, true);
  assert.equal(apic.readMmio(0x350) & 0x4000, 0x4000, "remote IRR");
  assert.equal(apic.acknowledge(), 0x33);
  apic.raiseLint(0, true);
  assert.equal(irrBit(apic, 0x33), 0, "blocked by remote IRR");
  eoi(apic);
  assert.deepEqual(seen, [0x33]);
  assert.equal(irrBit(apic, 0x33), 1, "still asserted after EOI: delivered again");
  assert.equal(apic.readMmio(0x350) & 0x4000, 0x4000);
});

test("thermal, CMCI and performance LVTs deliver by mode; a PMI masks LVT perf", () => {
  const apic = enabledApic();
  apic.writeMmio(0x330, 4, 0x200); // thermal as SMI
  apic.raiseLvt("thermal");
  assert.equal(apic.takeSmi(), true);
  apic.writeMmio(0x2f0, 4, 0x77);
  apic.raiseLvt("cmci");
  assert.equal(apic.pendingVector(), 0x77);
  apic.writeMmio(0x340, 4, 0x400); // perf as NMI
  apic.raiseLvt("perf");
  assert.equal(apic.takeNmi(), true);
  assert.equal(apic.readMmio(0x340), 0x10400);
  apic.raiseLvt("perf");
  assert.equal(apic.takeNmi(), false);
});
