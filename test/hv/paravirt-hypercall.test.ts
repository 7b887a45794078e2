/**
 * The KVM hypercall ABI (hypercalls.rst, kvm_emulate_hypercall) and Heki RFC v3's
 * KVM_HC_LOCK_CR_UPDATE (13): argument rules, version query, per-VM scope, configure exit.
 * Return codes from include/uapi/linux/kvm_para.h: KVM_ENOSYS 1000, KVM_EINVAL = EINVAL 22,
 * KVM_EPERM = EPERM 1, returned negated in RAX.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { HvError } from "../../src/hv/errors.js";
import {
  handleHypercall,
  VmPinning,
  type PinningOptions,
  type VcpuPinning,
} from "../../src/hv/paravirt/index.js";

const WP = 1 << 16;
const PE = 1 << 0;
const UMIP = 1 << 11;
const FSGSBASE = 1 << 16;
const SMEP = 1 << 20;
const SMAP = 1 << 21;

const neg64 = (n: bigint) => (1n << 64n) - n;
const neg32 = (n: bigint) => (1n << 32n) - n;
const ENOSYS64 = neg64(1000n);
const EINVAL64 = neg64(22n);
const EPERM64 = neg64(1n);

function vcpuOf(options: PinningOptions = { profile: "heki2024" }) {
  return new VmPinning(options).createVcpuPinning(0);
}

function call(vcpu: VcpuPinning, nr: bigint, a0 = 0n, a1 = 0n, a2 = 0n, cpl = 0, longMode64 = true) {
  return handleHypercall({ rax: nr, rbx: a0, rcx: a1, rdx: a2, rsi: 0n }, { cpl, longMode64, vcpu });
}

test("KVM_HC_VAPIC_POLL_IRQ (1) returns 0 in every profile", () => {
  for (const profile of ["off", "rfc2019", "jun2020", "heki2024"] as const) {
    assert.deepEqual(call(vcpuOf({ profile }), 1n), { rax: 0n });
  }
});

test("an unknown hypercall returns -KVM_ENOSYS (-1000); 13 is unknown outside heki2024", () => {
  const heki = vcpuOf();
  assert.deepEqual(call(heki, 0n), { rax: ENOSYS64 });
  assert.deepEqual(call(heki, 12n), { rax: ENOSYS64 });
  assert.deepEqual(call(heki, 14n), { rax: ENOSYS64 });
  for (const profile of ["off", "rfc2019", "jun2020"] as const) {
    assert.deepEqual(call(vcpuOf({ profile }), 13n, 0n, BigInt(WP)), { rax: ENOSYS64 });
  }
});

test("CPL > 0: -KVM_EPERM in RAX for every number (no #UD), and nothing is pinned", () => {
  const p = vcpuOf();
  for (const cpl of [1, 2, 3]) {
    assert.deepEqual(call(p, 13n, 0n, BigInt(WP), 0n, cpl), { rax: EPERM64 });
    assert.deepEqual(call(p, 1n, 0n, 0n, 0n, cpl), { rax: EPERM64 });
    assert.deepEqual(call(p, 999n, 0n, 0n, 0n, cpl), { rax: EPERM64 });
  }
  assert.deepEqual(p.vm.hekiPins(), { cr0: 0, cr4: 0 });
  assert.deepEqual(call(p, 1n, 0n, 0n, 0n, 3, false), { rax: neg32(1n) });
});

test("outside 64-bit mode the number, arguments and result are 32 bits", () => {
  const p = vcpuOf();
  assert.deepEqual(call(p, (5n << 32n) | 1n, 0n, 0n, 0n, 0, false), { rax: 0n }); // nr = 1
  assert.deepEqual(call(p, 2n, 0n, 0n, 0n, 0, false), { rax: neg32(1000n) });
  // a0 = 1<<32 | 4 truncates to CR4 in 32-bit mode, but is > U32_MAX (EINVAL) in 64-bit mode.
  assert.deepEqual(call(p, 13n, (1n << 32n) | 4n, BigInt(SMEP), 0n, 0, true), { rax: EINVAL64 });
  assert.deepEqual(p.vm.hekiPins().cr4, 0);
  assert.deepEqual(call(p, 13n, (1n << 32n) | 4n, BigInt(SMEP), 0n, 0, false), { rax: 0n });
  assert.deepEqual(p.vm.hekiPins().cr4, SMEP);
  assert.deepEqual(call(p, 13n, 5n, 1n, 0n, 0, false), { rax: neg32(22n) });
});

test("Heki version query: a2 = KVM_LOCK_CR_UPDATE_VERSION with a0 = a1 = 0 returns 1", () => {
  const p = vcpuOf();
  assert.deepEqual(call(p, 13n, 0n, 0n, 1n), { rax: 1n });
  assert.deepEqual(call(p, 13n, 4n, 0n, 1n), { rax: EINVAL64 });
  assert.deepEqual(call(p, 13n, 0n, BigInt(WP), 1n), { rax: EINVAL64 });
  assert.deepEqual(call(p, 13n, 0n, 0n, 2n), { rax: EINVAL64 });
  assert.deepEqual(call(p, 13n, 0n, 0n, 3n), { rax: EINVAL64 });
  assert.deepEqual(p.vm.hekiPins(), { cr0: 0, cr4: 0 });
});

test("Heki argument rules: every bad argument returns -KVM_EINVAL and pins nothing", () => {
  const p = vcpuOf();
  const cases: [string, bigint, bigint][] = [
    ["mask 0 for CR0", 0n, 0n],
    ["mask 0 for CR4", 4n, 0n],
    ["CR0 mask without WP", 0n, BigInt(PE)],
    ["CR0 mask beyond the allowed set", 0n, BigInt(WP | PE)],
    ["CR4 mask beyond the allowed set", 4n, BigInt(SMEP | FSGSBASE)],
    ["CR4 mask with bit 32", 4n, (1n << 32n) | BigInt(SMEP)],
    ["CR3", 3n, BigInt(WP)],
    ["CR8", 8n, 1n],
    ["a0 above U32_MAX", 1n << 32n, BigInt(WP)],
  ];
  for (const [what, a0, a1] of cases) assert.deepEqual(call(p, 13n, a0, a1), { rax: EINVAL64 }, what);
  assert.deepEqual(p.vm.hekiPins(), { cr0: 0, cr4: 0 });
});

test("Heki pins accumulate per VM (OR, never unpinned) and apply to every vCPU", () => {
  const vm = new VmPinning({ profile: "heki2024", allowedCr4: SMEP | SMAP | UMIP | FSGSBASE });
  const a = vm.createVcpuPinning(0);
  const b = vm.createVcpuPinning(1);
  assert.deepEqual(call(a, 13n, 4n, BigInt(SMEP)), { rax: 0n });
  assert.deepEqual(call(b, 13n, 4n, BigInt(FSGSBASE)), { rax: 0n });
  assert.deepEqual(call(b, 13n, 0n, BigInt(WP)), { rax: 0n });
  assert.deepEqual(vm.hekiPins(), { cr0: WP, cr4: SMEP | FSGSBASE });
  assert.deepEqual(call(a, 13n, 4n, BigInt(SMAP)), { rax: 0n });
  assert.deepEqual(a.pins().cr4, { high: SMEP | SMAP | FSGSBASE, low: 0 });
  assert.deepEqual(b.pins().cr4, { high: SMEP | SMAP | FSGSBASE, low: 0 });
  assert.ok(
    b.checkControlWrite("cr4", SMEP | SMAP | FSGSBASE, SMEP | SMAP, { inSmm: false, rip: 0n, source: "mov" }),
  );
});

test("Heki configure exit: the pin is in force, the exit names it, RAX = 0 on resume", () => {
  const p = vcpuOf({ profile: "heki2024", configureExit: ["cr4"] });
  assert.deepEqual(call(p, 13n, 4n, BigInt(SMEP)), {
    exit: { kind: "heki-configure", cr: "cr4", mask: SMEP },
    raxOnResume: 0n,
  });
  assert.equal(p.vm.hekiPins().cr4, SMEP);
  assert.deepEqual(call(p, 13n, 0n, BigInt(WP)), { rax: 0n }); // CR0 not configured to exit
  assert.deepEqual(call(p, 13n, 4n, 0n), { rax: EINVAL64 }); // failures never exit
});

test("bad hypercall context is API misuse", () => {
  const p = vcpuOf();
  assert.throws(() => call(p, 1n, 0n, 0n, 0n, 4), HvError);
  assert.throws(() => call(p, -1n), HvError);
  assert.throws(
    () =>
      handleHypercall(
        { rax: 1n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 1 as unknown as bigint },
        { cpl: 0, longMode64: true, vcpu: p },
      ),
    HvError,
  );
});
