/**
 * Inter-processor interrupts through a fake bus joining several APICs: ICR encoding (SDM
 * Vol.3 10.6.1), each delivery mode and shorthand, physical, logical flat and cluster
 * destinations (10.6.2), x2APIC physical and logical destinations (10.12.10), SELF IPI
 * (10.12.11), lowest priority (10.6.2.4, as pinvm simplifies it) and illegal vectors (10.5.3).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalApic, matchesDestination, routeIpi, type ApicBus, type Ipi } from "../../src/hv/apic/index.js";

function system(ids: number[], x2apic = false) {
  const apics: LocalApic[] = [];
  const sent: Ipi[] = [];
  const bus: ApicBus = {
    sendIpi(from, ipi) {
      sent.push(ipi);
      routeIpi(apics, from, ipi);
    },
  };
  for (const [i, apicId] of ids.entries()) {
    const apic = new LocalApic({ apicId, isBsp: i === 0, bus, now: () => 0 });
    if (x2apic) assert.ok(apic.setApicBase(0xfee00c00n, false));
    apic.writeMmio(0xf0, 4, 0x1ff);
    if (x2apic) apic.writeMsr(0x80f, 0x1ffn);
    apics.push(apic);
  }
  return { apics, sent };
}

/** Sends through the xAPIC ICR: high doubleword first, the low write sends (10.6.1). */
function sendIcr(apic: LocalApic, low: number, destination = 0): void {
  apic.writeMmio(0x310, 4, destination << 24);
  apic.writeMmio(0x300, 4, low);
}

/** Which APICs have `vector` pending. */
const receivers = (apics: LocalApic[], vector: number) =>
  apics.flatMap((apic, i) =>
    ((apic.readMmio(0x200 + (vector >>> 5) * 0x10) >>> (vector & 31)) & 1) === 1 ? [i] : [],
  );
const receiversX2 = (apics: LocalApic[], vector: number) =>
  apics.flatMap((apic, i) =>
    ((apic.readMsr(0x820 + (vector >>> 5)) as bigint) >> BigInt(vector & 31)) & 1n ? [i] : [],
  );

test("fixed physical IPI reaches the APIC with that ID; the ICR reads back idle", () => {
  const { apics, sent } = system([0, 1, 2, 3]);
  sendIcr(apics[0], 0x4041, 2);
  assert.deepEqual(receivers(apics, 0x41), [2]);
  assert.equal(apics[0].readMmio(0x300), 0x4041, "delivery status (bit 12) reads 0");
  assert.equal(apics[0].readMmio(0x310), 0x02000000);
  assert.deepEqual(sent[0], {
    vector: 0x41,
    deliveryMode: "fixed",
    destinationMode: "physical",
    level: true,
    trigger: "edge",
    shorthand: "none",
    destination: 2,
  });
});

test("physical destination FFH broadcasts; a changed xAPIC ID is what matches", () => {
  const { apics } = system([0, 1, 2]);
  sendIcr(apics[1], 0x4042, 0xff);
  assert.deepEqual(receivers(apics, 0x42), [0, 1, 2]);
  apics[2].writeMmio(0x20, 4, 0x09000000);
  sendIcr(apics[0], 0x4043, 9);
  assert.deepEqual(receivers(apics, 0x43), [2]);
});

test("shorthands: self, all including self, all excluding self (ICR bits 19:18)", () => {
  const { apics } = system([0, 1, 2]);
  sendIcr(apics[1], 0x44044, 0);
  assert.deepEqual(receivers(apics, 0x44), [1]);
  sendIcr(apics[1], 0x84045, 0);
  assert.deepEqual(receivers(apics, 0x45), [0, 1, 2]);
  sendIcr(apics[1], 0xc4046, 0);
  assert.deepEqual(receivers(apics, 0x46), [0, 2]);
});

test("logical flat model: MDA AND LDR[31:24] (10.6.2.2)", () => {
  const { apics } = system([0, 1, 2, 3]);
  apics.forEach((apic, i) => apic.writeMmio(0xd0, 4, (1 << i) << 24));
  sendIcr(apics[0], 0x4847, 0b0101);
  assert.deepEqual(receivers(apics, 0x47), [0, 2]);
  sendIcr(apics[0], 0x4848, 0xff);
  assert.deepEqual(receivers(apics, 0x48), [0, 1, 2, 3]);
});

test("logical cluster model: MDA[7:4] selects the cluster, MDA[3:0] the members (10.6.2.2)", () => {
  const { apics } = system([0, 1, 2, 3]);
  const ldrs = [0x11, 0x12, 0x21, 0x24];
  apics.forEach((apic, i) => {
    apic.writeMmio(0xe0, 4, 0x0fffffff);
    apic.writeMmio(0xd0, 4, ldrs[i] << 24);
  });
  sendIcr(apics[0], 0x4849, 0x13);
  assert.deepEqual(receivers(apics, 0x49), [0, 1]);
  sendIcr(apics[0], 0x484a, 0x24);
  assert.deepEqual(receivers(apics, 0x4a), [3]);
  sendIcr(apics[0], 0x484b, 0x31);
  assert.deepEqual(receivers(apics, 0x4b), []);
  sendIcr(apics[0], 0x484c, 0xff);
  assert.deepEqual(receivers(apics, 0x4c), [0, 1, 2, 3]);
});

test("x2APIC physical: 32-bit IDs, FFFFFFFFH broadcasts", () => {
  const { apics } = system([0, 0x100, 0x1ff], true);
  assert.ok(apics[0].writeMsr(0x830, (0x100n << 32n) | 0x4050n));
  assert.deepEqual(receiversX2(apics, 0x50), [1], "0x100 is not 0");
  assert.ok(apics[0].writeMsr(0x830, (0xffffffffn << 32n) | 0x4051n));
  assert.deepEqual(receiversX2(apics, 0x51), [0, 1, 2]);
});

test("x2APIC logical: cluster << 16 | bit, from LDR derived from the x2APIC ID (10.12.10.2)", () => {
  const { apics } = system([0x10, 0x11, 0x20, 0x1f], true);
  assert.ok(apics[0].writeMsr(0x830, (0x00010003n << 32n) | 0x4852n));
  assert.deepEqual(receiversX2(apics, 0x52), [0, 1]);
  assert.ok(apics[0].writeMsr(0x830, (0x00018000n << 32n) | 0x4853n));
  assert.deepEqual(receiversX2(apics, 0x53), [3]);
  assert.ok(apics[0].writeMsr(0x830, (0x00020001n << 32n) | 0x4854n));
  assert.deepEqual(receiversX2(apics, 0x54), [2]);
});

test("x2APIC SELF IPI (MSR 83FH) is a fixed edge interrupt to the sender only", () => {
  const { apics, sent } = system([0, 1], true);
  assert.ok(apics[1].writeMsr(0x83f, 0x55n));
  assert.deepEqual(receiversX2(apics, 0x55), [1]);
  assert.equal(sent[0].shorthand, "self");
  assert.equal(sent[0].trigger, "edge");
});

test("NMI, SMI, INIT and SIPI are latched at the target for its vCPU", () => {
  const { apics } = system([0, 1, 2]);
  sendIcr(apics[0], 0x4400, 1);
  sendIcr(apics[0], 0x4200, 2);
  sendIcr(apics[0], 0xc4500, 0);
  sendIcr(apics[0], 0xc4608, 0);
  assert.equal(apics[1].takeNmi(), true);
  assert.equal(apics[2].takeNmi(), false);
  assert.equal(apics[2].takeSmi(), true);
  for (const i of [1, 2]) {
    assert.equal(apics[i].takeInit(), true, `INIT at ${i}`);
    assert.equal(apics[i].takeSipi(), 0x08, `SIPI at ${i}`);
  }
  assert.equal(apics[0].hasEvents(), false, "all-excluding-self");
});

test("INIT level de-assert is sent to everyone and changes nothing (10.6.1)", () => {
  const { apics, sent } = system([0, 1]);
  sendIcr(apics[0], 0x88500, 0);
  assert.equal(sent[0].deliveryMode, "init-deassert");
  assert.ok(!apics[0].hasEvents() && !apics[1].hasEvents());
});

test("reserved ICR delivery modes 011B and 111B send nothing", () => {
  const { apics, sent } = system([0, 1]);
  sendIcr(apics[0], 0x4340, 1);
  sendIcr(apics[0], 0x4740, 1);
  assert.equal(sent.length, 0);
});

test("lowest priority goes to the matching enabled APIC with the lowest TPR", () => {
  const { apics } = system([0, 1, 2, 3]);
  apics.forEach((apic, i) => apic.writeMmio(0xd0, 4, (1 << i) << 24));
  [0x20, 0x10, 0x30, 0x00].forEach((tpr, i) => apics[i].writeMmio(0x80, 4, tpr));
  apics[3].writeMmio(0xf0, 4, 0xff); // software-disabled: not a candidate
  sendIcr(apics[0], 0x4956, 0x0f);
  assert.deepEqual(receivers(apics, 0x56), [1]);
  sendIcr(apics[0], 0x4957, 0x05);
  assert.deepEqual(receivers(apics, 0x57), [0]);
});

test("fixed IPIs are not accepted by software-disabled or hardware-disabled APICs", () => {
  const { apics } = system([0, 1, 2]);
  apics[1].writeMmio(0xf0, 4, 0xff);
  assert.ok(apics[2].setApicBase(0xfee00000n, false));
  sendIcr(apics[0], 0x84058, 0);
  assert.deepEqual(receivers(apics, 0x58), [0]);
  assert.equal(matchesDestination(apics[2], "physical", 0xff, "none", apics[0]), false);
  sendIcr(apics[0], 0xc4400, 0);
  assert.equal(apics[1].takeNmi(), true, "software-disabled still takes NMI");
  assert.equal(apics[2].takeNmi(), false, "hardware-disabled takes nothing");
});

test("an illegal vector: Send Illegal Vector at the sender, Receive Illegal Vector at the target", () => {
  const { apics } = system([0, 1]);
  sendIcr(apics[0], 0x4005, 1);
  apics[0].writeMmio(0x280, 4, 0);
  apics[1].writeMmio(0x280, 4, 0);
  assert.equal(apics[0].readMmio(0x280), 0x20);
  assert.equal(apics[1].readMmio(0x280), 0x40);
  assert.equal(apics[1].readMmio(0x200), 0);
});

test("matchesDestination accepts a boolean 'is the sender' for messages without a sender APIC", () => {
  const { apics } = system([0, 1]);
  assert.equal(matchesDestination(apics[0], "physical", 0, "none", false), true);
  assert.equal(matchesDestination(apics[0], "physical", 0, "all-excluding-self", true), false);
  assert.equal(matchesDestination(apics[0], "physical", 0, "self", true), true);
});
