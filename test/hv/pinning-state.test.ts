/**
 * The audit log (bounded ring + total, VMM-readable) and the saved state of the pinning
 * module: round trips through JSON-free structured clone, and refusal of corrupt input
 * without any change (atomic load).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { HvError } from "../../src/hv/errors.js";
import { AuditLog, handleHypercall, VmPinning } from "../../src/hv/paravirt/index.js";

const WP = 1 << 16;
const SMEP = 1 << 20;
const SMAP = 1 << 21;
const MOV = { inSmm: false, rip: 0x401000n, source: "mov" };

function violate(n: number, capacity: number) {
  const vm = new VmPinning({ profile: "jun2020", auditCapacity: capacity });
  const p = vm.createVcpuPinning(2);
  p.writeMsr(0x4b564d0d, BigInt(SMEP), false);
  for (let i = 0; i < n; i++) p.checkControlWrite("cr4", SMEP, i << 2, { ...MOV, rip: BigInt(i) });
  return { vm, p };
}

test("the audit log keeps the last `capacity` entries, oldest first, and counts them all", () => {
  const { vm } = violate(10, 4);
  assert.equal(vm.log.total, 10);
  assert.equal(vm.log.dropped, 6);
  const entries = vm.log.entries();
  assert.deepEqual(
    entries.map((e) => [e.sequence, e.rip, e.attempted]),
    [
      [7, 6n, 6 << 2],
      [8, 7n, 7 << 2],
      [9, 8n, 8 << 2],
      [10, 9n, 9 << 2],
    ],
  );
  assert.ok(entries.every((e) => e.vcpu === 2 && e.old === SMEP && e.pinnedHigh === SMEP));
});

test("the default capacity is 4096 entries", () => {
  const { vm } = violate(4100, 4096);
  assert.equal(vm.log.capacity, 4096);
  assert.equal(vm.log.entries().length, 4096);
  assert.equal(vm.log.entries()[0].sequence, 5);
  assert.equal(vm.log.total, 4100);
});

test("entries() returns copies: the VMM cannot edit the log", () => {
  const { vm } = violate(1, 8);
  vm.log.entries()[0].attempted = 0x1234;
  assert.notEqual(vm.log.entries()[0].attempted, 0x1234);
  assert.throws(() => new AuditLog(0), HvError);
});

test("VM state round trip: audit log and Heki per-VM pins survive save/load", () => {
  const vm = new VmPinning({ profile: "heki2024", auditCapacity: 3 });
  const p = vm.createVcpuPinning(0);
  const call = (a0: bigint, a1: bigint) =>
    handleHypercall({ rax: 13n, rbx: a0, rcx: a1, rdx: 0n, rsi: 0n }, { cpl: 0, longMode64: true, vcpu: p });
  call(0n, BigInt(WP));
  call(4n, BigInt(SMEP | SMAP));
  for (let i = 0; i < 5; i++) p.checkControlWrite("cr4", SMEP | SMAP, 0, MOV);
  const saved = structuredClone(vm.save());

  const target = new VmPinning({ profile: "heki2024", auditCapacity: 3 });
  target.load(saved);
  assert.deepEqual(target.hekiPins(), { cr0: WP, cr4: SMEP | SMAP });
  assert.deepEqual(target.log.entries(), vm.log.entries());
  assert.equal(target.log.total, 5);
  const q = target.createVcpuPinning(0);
  assert.equal(q.checkControlWrite("cr4", SMEP | SMAP, SMEP, MOV)?.sequence, 6);
});

test("vCPU state round trip for jun2020 and rfc2019", () => {
  for (const [profile, msr] of [
    ["jun2020", 0x4b564d0c],
    ["rfc2019", 0x4b564d09],
  ] as const) {
    const src = new VmPinning({ profile }).createVcpuPinning(1);
    src.writeMsr(msr, BigInt(SMAP), true);
    src.writeMsr(profile === "jun2020" ? 0x4b564d0b : 0x4b564d08, BigInt(WP), true);
    const dst = new VmPinning({ profile }).createVcpuPinning(1);
    dst.load(structuredClone(src.save()));
    assert.deepEqual(dst.pins(), src.pins());
    assert.deepEqual(dst.save(), src.save());
  }
});

test("corrupt vCPU state is refused with HvError bad-state and changes nothing", () => {
  const p = new VmPinning({ profile: "jun2020" }).createVcpuPinning(0);
  p.writeMsr(0x4b564d0d, BigInt(SMEP), true);
  const good = p.save();
  const corrupt: [string, unknown][] = [
    ["not an object", 42],
    ["wrong format", { ...good, format: "qemu" }],
    ["future version", { ...good, version: 2 }],
    ["other profile", { ...good, profile: "rfc2019" }],
    ["other vcpu", { ...good, vcpu: 1 }],
    ["bits outside allowed", { ...good, cr4: { high: 1 << 5, low: 0 } }],
    ["high and low overlap", { ...good, cr4: { high: SMEP, low: SMEP } }],
    ["not a number", { ...good, cr0: { high: "65536", low: 0 } }],
    ["negative", { ...good, cr0: { high: -1, low: 0 } }],
    ["missing register", { ...good, cr0: undefined }],
  ];
  for (const [what, state] of corrupt) {
    assert.throws(
      () => p.load(state),
      (e) => e instanceof HvError && e.code === "bad-state",
      what,
    );
    assert.deepEqual(p.pins(), { cr0: { high: 0, low: 0 }, cr4: { high: SMEP, low: 0 } }, what);
  }
  const v1 = new VmPinning({ profile: "rfc2019" }).createVcpuPinning(0);
  const lowPin = { ...v1.save(), cr4: { high: 0, low: SMEP } };
  assert.throws(() => v1.load(lowPin), /cannot pin to 0/);
  const heki = new VmPinning({ profile: "heki2024" }).createVcpuPinning(0);
  assert.throws(() => heki.load({ ...heki.save(), cr0: { high: WP, low: 0 } }), /no per-vCPU pins/);
});

test("corrupt VM state is refused and changes neither the log nor the Heki pins", () => {
  const { vm } = violate(3, 8);
  const good = vm.save();
  const before = vm.log.entries();
  const log = good.log as { entries: Record<string, unknown>[] };
  const corrupt: [string, unknown][] = [
    ["other allowed mask", { ...good, allowedCr4: 0xffff }],
    ["other rsm policy", { ...good, rsm: "rewrite" }],
    ["other profile", { ...good, profile: "heki2024" }],
    ["heki pins in jun2020", { ...good, heki: { cr0: WP, cr4: 0 } }],
    ["log missing", { ...good, log: undefined }],
    ["log capacity", { ...good, log: { ...log, capacity: 9 } }],
    ["log total below entries", { ...good, log: { ...log, total: 1 } }],
    ["log entry rip not bigint", { ...good, log: { ...log, entries: [{ ...log.entries[0], rip: 5 }] } }],
    [
      "log sequence gap",
      {
        ...good,
        log: { ...log, entries: [log.entries[0], { ...log.entries[1], sequence: 9 }, log.entries[2]] },
      },
    ],
    [
      "log action unknown",
      { ...good, log: { ...log, entries: log.entries.map((e) => ({ ...e, action: "?" })) } },
    ],
  ];
  for (const [what, state] of corrupt) {
    assert.throws(
      () => vm.load(state),
      (e) => e instanceof HvError && e.code === "bad-state",
      what,
    );
    assert.deepEqual(vm.log.entries(), before, what);
    assert.equal(vm.log.total, 3, what);
  }
});
