/**
 * The paravirtual CR-pin MSR rules of each profile, guest vs host, read vs write, against
 * the values in the public patches (docs/cr-pinning.md): rfc2019 = RFC/RESEND Dec 2019
 * (4b564d06H-09H), jun2020 = PATCH 2/4 of 17 Jun 2020 (4b564d08H-0dH). Bit positions are
 * the SDM's (Vol.3 2.5): CR0.WP = bit 16, CR4.UMIP = 11, FSGSBASE = 16, SMEP = 20, SMAP = 21.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { HvError } from "../../src/hv/errors.js";
import { PinRuleError, VmPinning, type PinningOptions } from "../../src/hv/paravirt/index.js";

const WP = 1 << 16;
const UMIP = 1 << 11;
const FSGSBASE = 1 << 16;
const SMEP = 1 << 20;
const SMAP = 1 << 21;
const CR4_DEFAULT = SMEP | SMAP | UMIP;

// rfc2019 (Dec 2019)
const V1_CR0_ALLOWED = 0x4b564d06;
const V1_CR4_ALLOWED = 0x4b564d07;
const V1_CR0_PINNED = 0x4b564d08;
const V1_CR4_PINNED = 0x4b564d09;
// jun2020
const CR0_ALLOWED = 0x4b564d08;
const CR4_ALLOWED = 0x4b564d09;
const CR0_LOW = 0x4b564d0a;
const CR0_HIGH = 0x4b564d0b;
const CR4_LOW = 0x4b564d0c;
const CR4_HIGH = 0x4b564d0d;

function vcpu(options: PinningOptions) {
  return new VmPinning(options).createVcpuPinning(0);
}

function hostRefuses(fn: () => unknown, rule: string) {
  assert.throws(fn, (e) => e instanceof PinRuleError && e.rule === rule && e.message.includes(rule));
}

test("rfc2019 owns 4b564d06H-09H; jun2020 owns 4b564d08H-0dH; off and heki2024 own none", () => {
  assert.deepEqual(
    vcpu({ profile: "rfc2019" }).msrIndexList(),
    [0x4b564d06, 0x4b564d07, 0x4b564d08, 0x4b564d09],
  );
  assert.deepEqual(
    vcpu({ profile: "jun2020" }).msrIndexList(),
    [0x4b564d08, 0x4b564d09, 0x4b564d0a, 0x4b564d0b, 0x4b564d0c, 0x4b564d0d],
  );
  assert.deepEqual(vcpu({ profile: "off" }).msrIndexList(), []);
  assert.deepEqual(vcpu({ profile: "heki2024" }).msrIndexList(), []);
  assert.equal(vcpu({ profile: "rfc2019" }).ownsMsr(0x4b564d0a), false);
  assert.equal(vcpu({ profile: "jun2020" }).ownsMsr(0x4b564d07), false);
  assert.equal(vcpu({ profile: "off" }).ownsMsr(0x4b564d08), false);
});

test("an MSR the profile does not own is API misuse (HvError bad-msr), not a #GP", () => {
  const p = vcpu({ profile: "jun2020" });
  assert.throws(
    () => p.readMsr(0x4b564d06, false),
    (e) => e instanceof HvError && e.code === "bad-msr",
  );
  assert.throws(
    () => p.writeMsr(0x10, 0n, true),
    (e) => e instanceof HvError && e.code === "bad-msr",
  );
  assert.throws(
    () => p.writeMsr(CR0_HIGH, -1n, true),
    (e) => e instanceof HvError && e.code === "bad-value",
  );
  assert.throws(
    () => p.writeMsr(CR0_HIGH, 1n << 64n, false),
    (e) => e instanceof HvError,
  );
});

test("rfc2019: ALLOWED reads WP / SMEP|SMAP|UMIP for guest and host", () => {
  const p = vcpu({ profile: "rfc2019" });
  for (const host of [false, true]) {
    assert.equal(p.readMsr(V1_CR0_ALLOWED, host), BigInt(WP));
    assert.equal(p.readMsr(V1_CR4_ALLOWED, host), BigInt(CR4_DEFAULT));
  }
});

test("rfc2019: ALLOWED writes are unhandled: guest #GP, host error 'allowed-msr-read-only'", () => {
  const p = vcpu({ profile: "rfc2019" });
  assert.equal(p.writeMsr(V1_CR0_ALLOWED, BigInt(WP), false), "gp");
  assert.equal(p.writeMsr(V1_CR4_ALLOWED, 0n, false), "gp");
  hostRefuses(() => p.writeMsr(V1_CR0_ALLOWED, BigInt(WP), true), "allowed-msr-read-only");
  assert.equal(p.readMsr(V1_CR0_ALLOWED, true), BigInt(WP));
});

test("rfc2019: guest RDMSR of PINNED is #GP; the host reads it", () => {
  const p = vcpu({ profile: "rfc2019" });
  assert.equal(p.writeMsr(V1_CR4_PINNED, BigInt(SMEP), false), "ok");
  assert.equal(p.readMsr(V1_CR4_PINNED, false), "gp");
  assert.equal(p.readMsr(V1_CR0_PINNED, false), "gp");
  assert.equal(p.readMsr(V1_CR4_PINNED, true), BigInt(SMEP));
  assert.equal(p.readMsr(V1_CR0_PINNED, true), 0n);
});

test("rfc2019: a guest write ORs (sticky); a host write replaces (may clear)", () => {
  const p = vcpu({ profile: "rfc2019" });
  assert.equal(p.writeMsr(V1_CR4_PINNED, BigInt(SMEP), false), "ok");
  assert.equal(p.writeMsr(V1_CR4_PINNED, BigInt(UMIP), false), "ok");
  assert.equal(p.readMsr(V1_CR4_PINNED, true), BigInt(SMEP | UMIP));
  assert.equal(p.writeMsr(V1_CR4_PINNED, 0n, false), "ok"); // OR with 0: nothing unpinned
  assert.equal(p.readMsr(V1_CR4_PINNED, true), BigInt(SMEP | UMIP));
  assert.equal(p.writeMsr(V1_CR4_PINNED, BigInt(SMAP), true), "ok");
  assert.equal(p.readMsr(V1_CR4_PINNED, true), BigInt(SMAP));
  assert.equal(p.writeMsr(V1_CR4_PINNED, 0n, true), "ok");
  assert.equal(p.readMsr(V1_CR4_PINNED, true), 0n);
});

test("rfc2019: bits outside ALLOWED fail for guest (#GP) and host ('bits-not-allowed'), state unchanged", () => {
  const p = vcpu({ profile: "rfc2019" });
  p.writeMsr(V1_CR0_PINNED, BigInt(WP), true);
  assert.equal(p.writeMsr(V1_CR0_PINNED, BigInt(WP | 1), false), "gp"); // PE is not pinnable
  assert.equal(p.writeMsr(V1_CR4_PINNED, BigInt(FSGSBASE), false), "gp");
  assert.equal(p.writeMsr(V1_CR4_PINNED, 1n << 32n, false), "gp");
  hostRefuses(() => p.writeMsr(V1_CR0_PINNED, 1n << 63n, true), "bits-not-allowed");
  hostRefuses(() => p.writeMsr(V1_CR4_PINNED, BigInt(SMEP | FSGSBASE), true), "bits-not-allowed");
  assert.equal(p.readMsr(V1_CR0_PINNED, true), BigInt(WP));
  assert.equal(p.readMsr(V1_CR4_PINNED, true), 0n);
});

test("jun2020: ALLOWED reads the mask; writing exactly it is a no-op success, anything else fails", () => {
  const p = vcpu({ profile: "jun2020" });
  for (const host of [false, true]) {
    assert.equal(p.readMsr(CR0_ALLOWED, host), BigInt(WP));
    assert.equal(p.readMsr(CR4_ALLOWED, host), BigInt(CR4_DEFAULT));
    assert.equal(p.writeMsr(CR0_ALLOWED, BigInt(WP), host), "ok");
    assert.equal(p.writeMsr(CR4_ALLOWED, BigInt(CR4_DEFAULT), host), "ok");
  }
  assert.equal(p.writeMsr(CR0_ALLOWED, 0n, false), "gp");
  assert.equal(p.writeMsr(CR4_ALLOWED, BigInt(CR4_DEFAULT | FSGSBASE), false), "gp");
  hostRefuses(() => p.writeMsr(CR4_ALLOWED, BigInt(SMEP), true), "allowed-msr-value");
  hostRefuses(() => p.writeMsr(CR0_ALLOWED, 0n, true), "allowed-msr-value");
  assert.equal(p.readMsr(CR4_ALLOWED, false), BigInt(CR4_DEFAULT));
});

test("jun2020: the guest and the host read all six MSRs", () => {
  const p = vcpu({ profile: "jun2020" });
  p.writeMsr(CR0_HIGH, BigInt(WP), true);
  p.writeMsr(CR4_HIGH, BigInt(SMEP), true);
  p.writeMsr(CR4_LOW, BigInt(SMAP), true);
  for (const host of [false, true]) {
    assert.equal(p.readMsr(CR0_HIGH, host), BigInt(WP));
    assert.equal(p.readMsr(CR0_LOW, host), 0n);
    assert.equal(p.readMsr(CR4_HIGH, host), BigInt(SMEP));
    assert.equal(p.readMsr(CR4_LOW, host), BigInt(SMAP));
  }
});

test("jun2020: PINNED_LOW/HIGH with bits outside ALLOWED fail for guest and host", () => {
  const p = vcpu({ profile: "jun2020" });
  for (const msr of [CR0_LOW, CR0_HIGH]) {
    assert.equal(p.writeMsr(msr, BigInt((WP | (1 << 31)) >>> 0), false), "gp");
    hostRefuses(() => p.writeMsr(msr, 1n << 40n, true), "bits-not-allowed");
  }
  for (const msr of [CR4_LOW, CR4_HIGH]) {
    assert.equal(p.writeMsr(msr, BigInt(FSGSBASE), false), "gp");
    hostRefuses(() => p.writeMsr(msr, BigInt(SMEP | (1 << 5)), true), "bits-not-allowed");
  }
  assert.deepEqual(p.pins(), { cr0: { high: 0, low: 0 }, cr4: { high: 0, low: 0 } });
});

test("jun2020: pinning a bit both low and high conflicts, for guest and host", () => {
  const p = vcpu({ profile: "jun2020" });
  assert.equal(p.writeMsr(CR4_HIGH, BigInt(SMEP), false), "ok");
  assert.equal(p.writeMsr(CR4_LOW, BigInt(SMEP), false), "gp");
  hostRefuses(() => p.writeMsr(CR4_LOW, BigInt(SMEP | SMAP), true), "pin-conflict");
  assert.equal(p.writeMsr(CR0_LOW, BigInt(WP), true), "ok");
  assert.equal(p.writeMsr(CR0_HIGH, BigInt(WP), false), "gp");
  hostRefuses(() => p.writeMsr(CR0_HIGH, BigInt(WP), true), "pin-conflict");
  assert.deepEqual(p.pins(), { cr0: { high: 0, low: WP }, cr4: { high: SMEP, low: 0 } });
});

test("jun2020: guest writes must be supersets (sticky); the host may set any legal value", () => {
  const p = vcpu({ profile: "jun2020" });
  assert.equal(p.writeMsr(CR4_HIGH, BigInt(SMEP), false), "ok");
  assert.equal(p.writeMsr(CR4_HIGH, BigInt(SMEP | UMIP), false), "ok"); // superset
  assert.equal(p.writeMsr(CR4_HIGH, BigInt(UMIP), false), "gp"); // drops SMEP
  assert.equal(p.writeMsr(CR4_HIGH, 0n, false), "gp");
  assert.equal(p.readMsr(CR4_HIGH, false), BigInt(SMEP | UMIP));
  assert.equal(p.writeMsr(CR4_LOW, BigInt(SMAP), false), "ok");
  assert.equal(p.writeMsr(CR4_LOW, 0n, false), "gp");
  assert.equal(p.writeMsr(CR4_HIGH, BigInt(UMIP), true), "ok"); // host unpins SMEP
  assert.equal(p.writeMsr(CR4_LOW, 0n, true), "ok");
  assert.deepEqual(p.pins().cr4, { high: UMIP, low: 0 });
});

test("the VMM may widen the allowed masks at VM creation (e.g. FSGSBASE); both ABIs honour them", () => {
  const v1 = vcpu({ profile: "rfc2019", allowedCr4: CR4_DEFAULT | FSGSBASE });
  assert.equal(v1.readMsr(V1_CR4_ALLOWED, false), BigInt(CR4_DEFAULT | FSGSBASE));
  assert.equal(v1.writeMsr(V1_CR4_PINNED, BigInt(FSGSBASE), false), "ok");
  const v3 = vcpu({ profile: "jun2020", allowedCr0: WP | (1 << 3), allowedCr4: 0xffff_ffff });
  assert.equal(v3.readMsr(CR4_ALLOWED, false), 0xffff_ffffn);
  assert.equal(v3.writeMsr(CR4_ALLOWED, 0xffff_ffffn, false), "ok");
  assert.equal(v3.writeMsr(CR0_HIGH, BigInt(1 << 3), false), "ok"); // TS now pinnable
  assert.equal(v3.writeMsr(CR4_LOW, BigInt(1 << 12), false), "ok"); // LA57 pinned to 0
});

test("bad pinning options are HvErrors naming the option", () => {
  const bad = (options: unknown, pattern: RegExp) =>
    assert.throws(
      () => new VmPinning(options as PinningOptions),
      (e) => e instanceof HvError && pattern.test(e.message),
    );
  bad({ profile: "v4" }, /profile/);
  bad({ profile: "jun2020", allowedCr0: 1 << 7 }, /allowedCr0/); // CR0 bit 7 does not exist
  bad({ profile: "jun2020", allowedCr4: -1 }, /allowedCr4/);
  bad({ profile: "jun2020", pinsOnInit: "maybe" }, /pinsOnInit/);
  bad({ profile: "heki2024", pinsOnInit: "clear" }, /pinsOnInit/);
  bad({ profile: "jun2020", rsm: "ignore" }, /rsm/);
  bad({ profile: "jun2020", denialExit: ["cr3"] }, /denialExit/);
  bad({ profile: "jun2020", configureExit: ["cr0"] }, /configureExit/);
  bad({ profile: "jun2020", allowedCR4: 0 }, /unknown option 'allowedCR4'/);
  bad(null, /expected an object/);
  const vm = new VmPinning({ profile: "jun2020" });
  vm.createVcpuPinning(3);
  assert.throws(
    () => vm.createVcpuPinning(3),
    (e) => e instanceof HvError && e.code === "bad-vcpu",
  );
});
