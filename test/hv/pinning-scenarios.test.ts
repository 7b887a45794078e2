/**
 * End-to-end scenarios from the history of the ABI (docs/cr-pinning.md, version table):
 * the kvm-unit-tests x86/cr_pin_high.c and cr_pin_low.c flows of 17 Jun 2020, the QEMU
 * reboot rule ("Host userspace must clear pinned bits on reboot") against a vCPU reset, and
 * a generic KVM_GET_MSR_INDEX_LIST save/restore of the pin MSRs in both MSR ABIs.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { PinRuleError, VmPinning, type VcpuPinning } from "../../src/hv/paravirt/index.js";

const WP = 1 << 16;
const PE = 1 << 0;
const PG = 1 << 31;
const UMIP = 1 << 11;
const SMEP = 1 << 20;
const SMAP = 1 << 21;
const MOV = { inSmm: false, rip: 0x400000n, source: "mov" };

/** A guest-side MOV to CR: applies the write unless the pinning vetoes it; returns the vector. */
function writeCr(p: VcpuPinning, regs: { cr0: number; cr4: number }, cr: "cr0" | "cr4", value: number) {
  if (p.checkControlWrite(cr, regs[cr], value, MOV)) return 13; // #GP
  regs[cr] = value >>> 0;
  return 0;
}

test("kvm-unit-tests cr_pin_high flow (jun2020): pin CR0.WP and CR4.SMEP|UMIP high", () => {
  const p = new VmPinning({ profile: "jun2020" }).createVcpuPinning(0);
  const regs = { cr0: (PG | PE) >>> 0, cr4: SMAP };
  assert.equal(p.readMsr(0x4b564d08, false), BigInt(WP)); // MSR_KVM_CR0_PIN_ALLOWED
  assert.equal(writeCr(p, regs, "cr0", regs.cr0 | WP), 0);
  assert.equal(p.writeMsr(0x4b564d0b, BigInt(WP), false), "ok"); // CR0_PINNED_HIGH
  assert.equal(p.readMsr(0x4b564d0b, false), BigInt(WP));
  assert.equal(writeCr(p, regs, "cr0", regs.cr0), 0); // "write same value"
  assert.equal(writeCr(p, regs, "cr0", regs.cr0 & ~WP), 13); // "disable pinned bits"
  assert.equal(regs.cr0 & WP, WP);
  assert.equal(writeCr(p, regs, "cr4", regs.cr4 | SMEP | UMIP), 0);
  assert.equal(p.writeMsr(0x4b564d0d, BigInt(SMEP | UMIP), false), "ok");
  assert.equal(writeCr(p, regs, "cr4", regs.cr4 & ~SMAP), 0); // SMAP not pinned
  assert.equal(writeCr(p, regs, "cr4", regs.cr4 & ~UMIP), 13);
  assert.equal(writeCr(p, regs, "cr4", regs.cr4 & ~SMEP), 13);
});

test("kvm-unit-tests cr_pin_low flow (jun2020): pin CR0.WP low", () => {
  const p = new VmPinning({ profile: "jun2020" }).createVcpuPinning(0);
  const regs = { cr0: (PG | PE | WP) >>> 0, cr4: 0 };
  assert.equal(writeCr(p, regs, "cr0", regs.cr0 & ~WP), 0);
  assert.equal(p.writeMsr(0x4b564d0a, BigInt(WP), false), "ok"); // CR0_PINNED_LOW
  assert.equal(writeCr(p, regs, "cr0", regs.cr0 | WP), 13);
  assert.equal(regs.cr0 & WP, 0);
  assert.equal(p.writeMsr(0x4b564d0b, BigInt(WP), false), "gp"); // already pinned low
});

test("reboot: the VMM zeroing the pin MSRs by host writes equals reset('reset')", () => {
  for (const [profile, msrs, cr0Pin, cr4Pin] of [
    ["rfc2019", [0x4b564d08, 0x4b564d09], 0x4b564d08, 0x4b564d09],
    ["jun2020", [0x4b564d0a, 0x4b564d0b, 0x4b564d0c, 0x4b564d0d], 0x4b564d0b, 0x4b564d0d],
  ] as const) {
    const byMsr = new VmPinning({ profile }).createVcpuPinning(0);
    const byReset = new VmPinning({ profile }).createVcpuPinning(0);
    for (const p of [byMsr, byReset]) {
      assert.equal(p.writeMsr(cr0Pin, BigInt(WP), false), "ok");
      assert.equal(p.writeMsr(cr4Pin, BigInt(SMEP), false), "ok");
    }
    assert.notDeepEqual(byMsr.save(), new VmPinning({ profile }).createVcpuPinning(0).save());
    for (const msr of msrs) assert.equal(byMsr.writeMsr(msr, 0n, true), "ok");
    byReset.reset("reset");
    assert.deepEqual(byMsr.save(), byReset.save(), profile);
  }
});

test("generic MSR-list migration: jun2020 round-trips; rfc2019 fails on its ALLOWED MSRs", () => {
  const migrate = (profile: "rfc2019" | "jun2020") => {
    const src = new VmPinning({ profile }).createVcpuPinning(0);
    src.writeMsr(profile === "rfc2019" ? 0x4b564d09 : 0x4b564d0d, BigInt(SMEP), false);
    const dst = new VmPinning({ profile }).createVcpuPinning(0);
    for (const msr of src.msrIndexList()) {
      const value = src.readMsr(msr, true);
      assert.notEqual(value, "gp");
      dst.writeMsr(msr, value as bigint, true);
    }
    return dst;
  };
  assert.equal(migrate("jun2020").pins().cr4.high, SMEP);
  assert.throws(
    () => migrate("rfc2019"),
    (e) => e instanceof PinRuleError && e.rule === "allowed-msr-read-only" && e.msr === 0x4b564d06,
  );
});
