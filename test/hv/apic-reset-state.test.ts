/**
 * Power-up / RESET versus INIT (SDM Vol.3 10.4.7.1, 10.4.7.3, 10.12.5.1 and the state table
 * in shared/context/reset-init-state.md): INIT keeps the APIC ID and IA32_APIC_BASE, RESET
 * restores both. Save/load: a round trip reproduces the state and the behaviour; corrupt
 * states are refused with HvError("bad-state") and leave the APIC unchanged.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalApic, type ApicBus, type LocalApicState } from "../../src/hv/apic/index.js";

const noBus: ApicBus = { sendIpi() {} };

function busyApic(clock = { tsc: 0 }): LocalApic {
  const apic = new LocalApic({ apicId: 5, isBsp: false, bus: noBus, now: () => clock.tsc });
  apic.writeMmio(0xf0, 4, 0x1ff);
  apic.writeMmio(0x20, 4, 0x0a000000);
  apic.writeMmio(0x80, 4, 0x20);
  apic.writeMmio(0xd0, 4, 0x04000000);
  apic.writeMmio(0xe0, 4, 0x0fffffff);
  apic.writeMmio(0x350, 4, 0x700);
  apic.writeMmio(0x3e0, 4, 0b0011);
  apic.writeMmio(0x320, 4, 0x20040);
  apic.writeMmio(0x380, 4, 1000);
  apic.writeMmio(0x310, 4, 0x01000000);
  apic.acceptInterrupt(0x90, "level");
  apic.acceptInterrupt(0x30, "edge");
  apic.acknowledge();
  apic.deliver("nmi", 0, "edge");
  return apic;
}

function assertRegistersAtReset(apic: LocalApic): void {
  for (const offset of [0x80, 0xd0, 0x280, 0x300, 0x310, 0x380, 0x390, 0x3e0]) {
    assert.equal(apic.readMmio(offset), 0, `offset ${offset.toString(16)}H`);
  }
  assert.equal(apic.readMmio(0xe0), 0xffffffff);
  assert.equal(apic.readMmio(0xf0), 0xff);
  for (let offset = 0x100; offset < 0x280; offset += 0x10) assert.equal(apic.readMmio(offset), 0);
  for (const offset of [0x2f0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370])
    assert.equal(apic.readMmio(offset), 0x10000);
  assert.equal(apic.readMmio(0x30), 0x00060014, "the version register is not affected");
}

test("RESET: initial APIC ID, IA32_APIC_BASE = FEE00800H (AP), registers at reset values", () => {
  const apic = busyApic();
  assert.ok(apic.setApicBase(0xfed00800n, false));
  apic.reset("reset");
  assert.equal(apic.getApicBase(), 0xfee00800n);
  assert.equal(apic.readMmio(0x20), 0x05000000);
  assertRegistersAtReset(apic);
  assert.equal(apic.takeNmi(), false);
});

test("INIT: APIC ID and IA32_APIC_BASE kept, every other register reset (10.4.7.3)", () => {
  const apic = busyApic();
  assert.ok(apic.setApicBase(0xfed00800n, false));
  apic.reset("init");
  assert.equal(apic.getApicBase(), 0xfed00800n);
  assert.equal(apic.readMmio(0x20), 0x0a000000, "the software-written xAPIC ID survives INIT");
  assertRegistersAtReset(apic);
  assert.equal(apic.nextTimerDeadline(), undefined);
});

test("INIT in x2APIC mode stays in x2APIC mode; RESET returns to xAPIC (10.12.5.1)", () => {
  const apic = new LocalApic({ apicId: 0x321, isBsp: true, bus: noBus, now: () => 0 });
  assert.ok(apic.setApicBase(0xfee00d00n, false));
  apic.writeMsr(0x80f, 0x1ffn);
  apic.reset("init");
  assert.ok(apic.x2apicEnabled);
  assert.equal(apic.readMsr(0x802), 0x321n);
  assert.equal(apic.readMsr(0x80f), 0xffn);
  apic.reset("power-up");
  assert.ok(apic.xapicEnabled);
  assert.equal(apic.getApicBase(), 0xfee00900n);
  assert.equal(apic.readMmio(0x20), 0x21000000, "xAPIC ID = initial ID[7:0]");
});

test("INIT in the disabled state keeps the APIC disabled", () => {
  const apic = busyApic();
  assert.ok(apic.setApicBase(0xfee00000n, false));
  apic.reset("init");
  assert.equal(apic.hardwareEnabled, false);
});

test("INIT keeps a SIPI that arrived with it; RESET drops all latched events", () => {
  const apic = busyApic();
  apic.deliver("init", 0, "edge");
  apic.deliver("sipi", 0x10, "edge");
  assert.ok(apic.takeInit());
  apic.reset("init");
  assert.equal(apic.takeNmi(), false);
  assert.equal(apic.takeSipi(), 0x10);
  apic.deliver("sipi", 0x11, "edge");
  apic.reset("reset");
  assert.equal(apic.takeSipi(), -1);
  assert.throws(() => apic.reset("warm" as never), { name: "HvError" });
});

test("save/load round trip reproduces state and timer behaviour", () => {
  const clock = { tsc: 0 };
  const source = busyApic(clock);
  clock.tsc = 4000;
  const saved = source.save();
  const copy = new LocalApic({ apicId: 5, isBsp: false, bus: noBus, now: () => clock.tsc });
  copy.load(structuredClone(saved));
  assert.deepEqual(copy.save(), saved);
  for (const offset of [0x20, 0x80, 0xa0, 0xd0, 0xe0, 0x110, 0x120, 0x190, 0x320, 0x350, 0x390]) {
    assert.equal(copy.readMmio(offset), source.readMmio(offset), `offset ${offset.toString(16)}H`);
  }
  assert.equal(copy.nextTimerDeadline(), source.nextTimerDeadline());
  assert.equal(copy.takeNmi(), true);
  const x2 = new LocalApic({ apicId: 7, isBsp: false, bus: noBus, now: () => 0 });
  assert.ok(x2.setApicBase(0xfee00c00n, false));
  x2.writeMmio(0x320, 4, 0); // ignored: MMIO is off in x2APIC mode
  assert.ok(x2.writeMsr(0x80f, 0x1ffn) && x2.writeMsr(0x832, 0x40070n) && x2.writeMsr(0x6e0, 1n << 63n));
  const back = new LocalApic({ apicId: 7, isBsp: false, bus: noBus, now: () => 0 });
  back.load(x2.save());
  assert.ok(back.x2apicEnabled);
  assert.equal(back.readMsr(0x6e0), 1n << 63n);
});

test("corrupt states are refused with HvError bad-state and change nothing", () => {
  const apic = busyApic();
  const good = apic.save();
  const before = structuredClone(good);
  const corruptions: [string, (s: LocalApicState) => unknown][] = [
    ["not an object", () => 42],
    ["null", () => null],
    ["version", (s) => ({ ...s, version: 2 })],
    ["another APIC's state", (s) => ({ ...s, apicId: 6 })],
    ["apicBase not a bigint", (s) => ({ ...s, apicBase: 0xfee00800 })],
    ["apicBase invalid mode", (s) => ({ ...s, apicBase: 0xfee00400n })],
    ["apicBase reserved bit", (s) => ({ ...s, apicBase: 0xfee00a00n })],
    ["tpr out of range", (s) => ({ ...s, tpr: 0x100 })],
    ["xapicId", (s) => ({ ...s, xapicId: -1 })],
    ["ldr reserved bits", (s) => ({ ...s, ldr: 0x00ff0000 })],
    ["dfr low bits", (s) => ({ ...s, dfr: 0xf0000000 })],
    ["irr length", (s) => ({ ...s, irr: [0, 0, 0] })],
    ["irr vector below 16", (s) => ({ ...s, irr: [1, 0, 0, 0, 0, 0, 0, 0] })],
    ["lvt reserved bits", (s) => ({ ...s, lvt: s.lvt.map((v, i) => (i === 6 ? v | 0x700 : v)) })],
    ["lvt timer mode 11B", (s) => ({ ...s, lvt: s.lvt.map((v, i) => (i === 1 ? v | 0x60000 : v)) })],
    ["timer missing", (s) => ({ ...s, timer: undefined })],
    ["timer start time", (s) => ({ ...s, timer: { ...s.timer, startTime: NaN } })],
    ["timer running with no count", (s) => ({ ...s, timer: { ...s.timer, countStart: 0 } })],
    ["tscDeadline 2^64", (s) => ({ ...s, timer: { ...s.timer, tscDeadline: 1n << 64n } })],
    ["sipi vector", (s) => ({ ...s, events: { ...s.events, sipi: 300 } })],
    ["event flag type", (s) => ({ ...s, events: { ...s.events, nmi: 1 } })],
    ["lint", (s) => ({ ...s, lint: [true] })],
    ["icrLow delivery status", (s) => ({ ...s, icrLow: 0x1000 })],
    ["svr reserved bit", (s) => ({ ...s, svr: 0x10ff })],
  ];
  for (const [label, corrupt] of corruptions) {
    assert.throws(
      () => apic.load(corrupt(structuredClone(good))),
      (error: unknown) =>
        error instanceof Error &&
        error.name === "HvError" &&
        (error as { code?: string }).code === "bad-state" &&
        /local APIC state/.test(error.message),
      label,
    );
    assert.deepEqual(apic.save(), before, `${label}: state unchanged`);
  }
});
