/**
 * IA32_APIC_BASE (MSR 1BH): reserved bits and the xAPIC / x2APIC / disabled state machine
 * (SDM Vol.3 10.4.4, 10.12.5.1, Figure 10-27), guest versus host-initiated writes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalApic, type ApicBus } from "../../src/hv/apic/index.js";

const noBus: ApicBus = { sendIpi() {} };
const DISABLED = 0xfee00000n;
const XAPIC = 0xfee00800n;
const X2APIC = 0xfee00c00n;
const INVALID = 0xfee00400n;

function apicIn(mode: bigint, apicId = 0x1234): LocalApic {
  const apic = new LocalApic({ apicId, isBsp: false, bus: noBus, now: () => 0 });
  if (mode === X2APIC) assert.ok(apic.setApicBase(X2APIC, false));
  if (mode === DISABLED) assert.ok(apic.setApicBase(DISABLED, false));
  assert.equal(apic.getApicBase(), mode);
  return apic;
}

const names = new Map([
  [DISABLED, "disabled"],
  [XAPIC, "xAPIC"],
  [X2APIC, "x2APIC"],
  [INVALID, "invalid"],
]);

test("guest transitions follow Figure 10-27", () => {
  const legal: [bigint, bigint, boolean][] = [
    [XAPIC, XAPIC, true],
    [XAPIC, X2APIC, true],
    [XAPIC, DISABLED, true],
    [XAPIC, INVALID, false],
    [X2APIC, X2APIC, true],
    [X2APIC, DISABLED, true],
    [X2APIC, XAPIC, false],
    [X2APIC, INVALID, false],
    [DISABLED, DISABLED, true],
    [DISABLED, XAPIC, true],
    [DISABLED, X2APIC, false],
    [DISABLED, INVALID, false],
  ];
  for (const [from, to, ok] of legal) {
    const apic = apicIn(from);
    const label = `${names.get(from)} -> ${names.get(to)}`;
    assert.equal(apic.setApicBase(to, false), ok, label);
    assert.equal(apic.getApicBase(), ok ? to : from, label);
  }
});

test("host-initiated writes may skip steps but never reach the invalid state", () => {
  const a = apicIn(X2APIC);
  assert.ok(a.setApicBase(XAPIC, true));
  assert.ok(a.xapicEnabled);
  const b = apicIn(DISABLED);
  assert.ok(b.setApicBase(X2APIC, true));
  assert.ok(b.x2apicEnabled);
  assert.equal(apicIn(XAPIC).setApicBase(INVALID, true), false);
});

test("reserved bits 7:0, 9 and MAXPHYADDR..63 are refused (#GP)", () => {
  for (const bad of [XAPIC | 1n, XAPIC | 0x80n, XAPIC | 0x200n, XAPIC | (1n << 46n), XAPIC | (1n << 63n)]) {
    assert.equal(apicIn(XAPIC).setApicBase(bad, false), false, bad.toString(16));
    assert.equal(apicIn(XAPIC).setApicBase(bad, true), false, `host ${bad.toString(16)}`);
  }
  const wide = new LocalApic({ apicId: 0, isBsp: true, bus: noBus, now: () => 0, maxPhysAddr: 52 });
  assert.ok(wide.setApicBase((1n << 51n) | 0x900n, false));
  assert.equal(wide.mmioBase, 2 ** 51);
});

test("EXTD is reserved when x2APIC is not supported", () => {
  const apic = new LocalApic({ apicId: 0, isBsp: false, bus: noBus, now: () => 0, x2apicSupported: false });
  assert.equal(apic.setApicBase(X2APIC, false), false);
  assert.ok(apic.xapicEnabled);
});

test("the APIC page moves with the base address; the BSP flag is kept as written", () => {
  const apic = apicIn(XAPIC, 2);
  assert.ok(apic.setApicBase(0xfed00900n, false));
  assert.equal(apic.mmioBase, 0xfed00000);
  assert.equal(apic.getApicBase(), 0xfed00900n);
  assert.equal(apic.readMmio(0x20), 0x02000000);
});

test("xAPIC -> x2APIC keeps the physical ID and derives the logical x2APIC ID (10.12.5.1)", () => {
  const apic = apicIn(XAPIC, 0x1234);
  apic.writeMmio(0xf0, 4, 0x1ff);
  apic.writeMmio(0x80, 4, 0x30);
  assert.ok(apic.setApicBase(X2APIC, false));
  assert.equal(apic.readMsr(0x802), 0x1234n);
  assert.equal(apic.readMsr(0x80d), (0x123n << 16n) | (1n << 4n));
  assert.equal(apic.readMsr(0x808), 0x30n, "pinvm keeps the programmed registers");
});

test("x2APIC -> disabled -> xAPIC: the x2APIC ID survives, other registers are reset", () => {
  const apic = apicIn(X2APIC, 0x1234);
  assert.ok(apic.writeMsr(0x80f, 0x1ffn));
  assert.ok(apic.writeMsr(0x808, 0x40n));
  apic.acceptInterrupt(0x50, "edge");
  assert.ok(apic.setApicBase(DISABLED, false));
  assert.ok(!apic.hardwareEnabled);
  assert.equal(apic.pendingVector(), -1, "a disabled APIC delivers nothing");
  assert.equal(apic.acceptInterrupt(0x51, "edge"), false);
  assert.ok(apic.setApicBase(XAPIC, false));
  assert.equal(apic.readMmio(0x20), 0x34000000, "legacy xAPIC ID = x2APIC ID[7:0]");
  assert.equal(apic.readMmio(0x80), 0);
  assert.equal(apic.readMmio(0xf0), 0xff);
  assert.equal(apic.readMmio(0x200 + 0x20), 0, "IRR cleared");
});
