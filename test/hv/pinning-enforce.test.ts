/**
 * Enforcement of the pins on guest CR0/CR4 writes, RSM, and INIT/RESET, per profile, with
 * the expressions of the public patches (docs/cr-pinning.md):
 *  rfc2019  `!is_smm && (new ^ old) & pinned`                        -> #GP
 *  jun2020  `!is_smm && (((new ^ high) & high) || ((~new ^ low) & low))` -> #GP
 *  heki2024 `(new & pinned) != pinned`, per VM, also in SMM            -> #GP
 * CR bits from SDM Vol.3 2.5: CR0.PE 0, TS 3, ET 4, NE 5, WP 16, PG 31; CR4.PAE 5, PGE 7,
 * UMIP 11, LA57 12, SMEP 20, SMAP 21.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { handleHypercall, VmPinning, type PinningOptions } from "../../src/hv/paravirt/index.js";

const PE = 1 << 0;
const TS = 1 << 3;
const ET = 1 << 4;
const NE = 1 << 5;
const WP = 1 << 16;
const PG = 1 << 31;
const PAE = 1 << 5;
const PGE = 1 << 7;
const UMIP = 1 << 11;
const SMEP = 1 << 20;
const SMAP = 1 << 21;

/** A typical long-mode CR0 and CR4 with the protections on. */
const CR0_ON = (PG | WP | NE | ET | PE) >>> 0;
const CR4_ON = (SMAP | SMEP | UMIP | PGE | PAE) >>> 0;

const MOV = { inSmm: false, rip: 0xffffffff81000000n, source: "mov" };
const SMM = { inSmm: true, rip: 0x8000n, source: "mov" };

function setup(options: PinningOptions) {
  const vm = new VmPinning(options);
  return { vm, p: vm.createVcpuPinning(0) };
}

/** Heki pin through the hypercall, as the guest does it (a0 = CR, a1 = mask, a2 = 0). */
function hekiPin(vm: VmPinning, cr: 0 | 4, mask: number) {
  const p = vm.createVcpuPinning(100 + cr);
  const r = handleHypercall(
    { rax: 13n, rbx: BigInt(cr), rcx: BigInt(mask), rdx: 0n, rsi: 0n },
    { cpl: 0, longMode64: true, vcpu: p },
  );
  assert.deepEqual(r, { rax: 0n });
}

test("off: nothing is ever refused", () => {
  const { vm, p } = setup({ profile: "off" });
  assert.equal(p.checkControlWrite("cr0", CR0_ON, CR0_ON & ~WP, MOV), null);
  assert.equal(p.checkControlWrite("cr4", CR4_ON, 0, MOV), null);
  assert.equal(p.onRsm(0, 0), "continue");
  assert.equal(vm.log.total, 0);
});

test("rfc2019: clearing a pinned bit is a violation (#GP) with the values logged", () => {
  const { vm, p } = setup({ profile: "rfc2019" });
  p.writeMsr(0x4b564d08, BigInt(WP), false);
  const v = p.checkControlWrite("cr0", CR0_ON, CR0_ON & ~WP, MOV);
  assert.ok(v);
  assert.equal(v.action, "gp");
  assert.equal(v.cr, "cr0");
  assert.equal(v.old, CR0_ON);
  assert.equal(v.attempted, (CR0_ON & ~WP) >>> 0);
  assert.equal(v.pinnedHigh, WP);
  assert.equal(v.pinnedLow, 0);
  assert.equal(v.rip, 0xffffffff81000000n);
  assert.equal(v.profile, "rfc2019");
  assert.equal(v.sequence, 1);
  assert.deepEqual(vm.log.entries(), [v]);
});

test("rfc2019: a pinned bit may not change at all: setting a pinned bit that is 0 is refused too", () => {
  // The v1 check `(new ^ old) & pinned` pins the current value of the bit.
  const { p } = setup({ profile: "rfc2019" });
  p.writeMsr(0x4b564d09, BigInt(SMEP), false);
  const without = (CR4_ON & ~SMEP) >>> 0;
  assert.ok(p.checkControlWrite("cr4", without, CR4_ON, MOV));
  assert.equal(p.checkControlWrite("cr4", without, without | PGE, MOV), null);
});

test("rfc2019: unrelated bits and rewriting the same value pass; SMM is exempt", () => {
  const { vm, p } = setup({ profile: "rfc2019" });
  p.writeMsr(0x4b564d09, BigInt(SMEP | SMAP), false);
  assert.equal(p.checkControlWrite("cr4", CR4_ON, CR4_ON & ~PGE, MOV), null);
  assert.equal(p.checkControlWrite("cr4", CR4_ON, CR4_ON, MOV), null);
  assert.equal(p.checkControlWrite("cr4", CR4_ON, 0, SMM), null);
  assert.equal(p.checkControlWrite("cr0", CR0_ON, 0, MOV), null); // CR0 not pinned
  assert.equal(vm.log.total, 0);
});

test("jun2020: a bit pinned high may not be 0, a bit pinned low may not be 1", () => {
  const { p } = setup({ profile: "jun2020" });
  p.writeMsr(0x4b564d0b, BigInt(WP), false); // CR0_PINNED_HIGH
  p.writeMsr(0x4b564d0d, BigInt(SMEP | UMIP), false); // CR4_PINNED_HIGH
  p.writeMsr(0x4b564d0c, BigInt(SMAP), false); // CR4_PINNED_LOW
  const cr4 = (CR4_ON & ~SMAP) >>> 0;
  const cleared = p.checkControlWrite("cr0", CR0_ON, CR0_ON & ~WP, MOV);
  assert.ok(cleared);
  assert.equal(cleared.pinnedHigh, WP);
  const set = p.checkControlWrite("cr4", cr4, cr4 | SMAP, MOV);
  assert.ok(set);
  assert.deepEqual([set.pinnedHigh, set.pinnedLow], [SMEP | UMIP, SMAP]);
  assert.ok(p.checkControlWrite("cr4", cr4, cr4 & ~UMIP, MOV));
});

test("jun2020: unrelated bits pass, setting a bit pinned high passes, SMM is exempt", () => {
  const { vm, p } = setup({ profile: "jun2020" });
  p.writeMsr(0x4b564d0d, BigInt(SMEP), false);
  p.writeMsr(0x4b564d0c, BigInt(SMAP), false);
  const cr4 = (CR4_ON & ~SMAP) >>> 0;
  assert.equal(p.checkControlWrite("cr4", cr4, cr4 & ~PGE, MOV), null);
  assert.equal(p.checkControlWrite("cr4", cr4 & ~SMEP, cr4, MOV), null);
  assert.equal(p.checkControlWrite("cr4", cr4, SMAP, SMM), null);
  assert.equal(vm.log.total, 0);
  // A state check: with SMEP pinned high while CR4.SMEP = 0, a write that leaves it 0 fails.
  assert.ok(p.checkControlWrite("cr4", PAE, PAE | PGE, MOV));
});

test("every writing path is checked: LMSW and CLTS are logged with their source", () => {
  const { vm, p } = setup({ profile: "jun2020", allowedCr0: WP | TS | PE });
  p.writeMsr(0x4b564d0b, BigInt(TS), true); // host pins CR0.TS high
  const v = p.checkControlWrite("cr0", CR0_ON | TS, CR0_ON, { inSmm: false, rip: 0x1000n, source: "clts" });
  assert.equal(v?.source, "clts");
  p.writeMsr(0x4b564d0a, BigInt(PE), true); // and PE low (VMM-widened mask)
  const w = p.checkControlWrite("cr0", TS, TS | PE, { inSmm: false, rip: 0x1004n, source: "lmsw" });
  assert.equal(w?.source, "lmsw");
  assert.deepEqual(
    vm.log.entries().map((e) => [e.sequence, e.source, e.rip]),
    [
      [1, "clts", 0x1000n],
      [2, "lmsw", 0x1004n],
    ],
  );
});

test("heki2024: per-VM pins refuse clearing on every vCPU; setting and unrelated bits pass", () => {
  const { vm, p } = setup({ profile: "heki2024" });
  const other = vm.createVcpuPinning(1);
  hekiPin(vm, 0, WP);
  hekiPin(vm, 4, SMEP | SMAP);
  for (const vcpu of [p, other]) {
    assert.ok(vcpu.checkControlWrite("cr0", CR0_ON, CR0_ON & ~WP, MOV));
    assert.ok(vcpu.checkControlWrite("cr4", CR4_ON, CR4_ON & ~SMAP, MOV));
    assert.equal(vcpu.checkControlWrite("cr4", CR4_ON, CR4_ON & ~UMIP, MOV), null);
    assert.equal(vcpu.checkControlWrite("cr4", PAE, PAE | SMEP | SMAP, MOV), null);
    assert.deepEqual(vcpu.pins(), { cr0: { high: WP, low: 0 }, cr4: { high: SMEP | SMAP, low: 0 } });
  }
  assert.deepEqual(
    vm.log.entries().map((e) => [e.vcpu, e.cr]),
    [
      [0, "cr0"],
      [0, "cr4"],
      [1, "cr0"],
      [1, "cr4"],
    ],
  );
});

test("heki2024: SMM is not exempt (heki_check_cr has no is_smm test)", () => {
  const { p } = setup({ profile: "heki2024" });
  hekiPin(p.vm, 4, SMEP);
  const v = p.checkControlWrite("cr4", 0, PAE, SMM);
  assert.ok(v);
  assert.equal(v.pinnedHigh, SMEP);
});

test("denialExit makes the violation an exit (and #GP on resume); other registers stay #GP", () => {
  const { p } = setup({ profile: "heki2024", denialExit: ["cr4"] });
  hekiPin(p.vm, 0, WP);
  hekiPin(p.vm, 4, SMEP);
  assert.equal(p.checkControlWrite("cr4", CR4_ON, 0, MOV)?.action, "exit");
  assert.equal(p.checkControlWrite("cr0", CR0_ON, 0, MOV)?.action, "gp");
  const j = setup({ profile: "jun2020", denialExit: ["cr0"] }).p;
  j.writeMsr(0x4b564d0b, BigInt(WP), false);
  assert.equal(j.checkControlWrite("cr0", CR0_ON, 0, MOV)?.action, "exit");
});

test("checkControlWrite rejects values that are not 32-bit, registers that cannot be pinned, bad context", () => {
  const { p } = setup({ profile: "jun2020" });
  assert.throws(() => p.checkControlWrite("cr0", 0.5, 0, MOV), /cr0 old value/);
  assert.throws(() => p.checkControlWrite("cr0", -(2 ** 31) - 1, 0, MOV), /cr0 old value/);
  assert.throws(() => p.checkControlWrite("cr4", 0, 2 ** 32, MOV), /cr4 new value/);
  assert.throws(() => p.checkControlWrite("cr3" as "cr0", 0, 0, MOV), /cannot pin cr3/);
  assert.throws(() => p.checkControlWrite("cr0", 0, 0, { ...MOV, rip: 1 as unknown as bigint }), /rip/);
  assert.throws(
    () => p.checkControlWrite("cr0", 0, 0, { ...MOV, inSmm: undefined as unknown as boolean }),
    /inSmm/,
  );
});

test("RSM rfc2019: default 'continue' restores as is (logged as allowed); 'rewrite' forces pinned bits", () => {
  const { vm, p } = setup({ profile: "rfc2019" });
  p.writeMsr(0x4b564d08, BigInt(WP), false);
  p.writeMsr(0x4b564d09, BigInt(SMEP), false);
  assert.equal(p.onRsm(CR0_ON, CR4_ON), "continue");
  assert.equal(vm.log.total, 0);
  assert.equal(p.onRsm(CR0_ON & ~WP, CR4_ON, { rip: 0x8000n, oldCr0: 0x33, oldCr4: 0 }), "continue");
  const [entry] = vm.log.entries();
  assert.deepEqual(
    [entry.source, entry.action, entry.cr, entry.old, entry.attempted],
    ["rsm", "allowed", "cr0", 0x33, (CR0_ON & ~WP) >>> 0],
  );
  const r = setup({ profile: "rfc2019", rsm: "rewrite" }).p;
  r.writeMsr(0x4b564d08, BigInt(WP), false);
  r.writeMsr(0x4b564d09, BigInt(SMEP), false);
  assert.deepEqual(r.onRsm(CR0_ON & ~WP, PAE), { cr0: CR0_ON, cr4: PAE | SMEP });
  assert.equal(r.vm.log.entries()[1].action, "rewrite");
});

test("RSM jun2020: default is the internal-error exit; 'rewrite' sets high and clears low bits", () => {
  const { vm, p } = setup({ profile: "jun2020" });
  p.writeMsr(0x4b564d0b, BigInt(WP), false);
  p.writeMsr(0x4b564d0c, BigInt(SMAP), false);
  assert.equal(p.onRsm(CR0_ON, CR4_ON & ~SMAP), "continue");
  assert.equal(p.onRsm(CR0_ON, CR4_ON), "exit");
  assert.equal(vm.log.entries()[0].action, "internal-error");
  assert.equal(p.onRsm(CR0_ON & ~WP, CR4_ON & ~SMAP), "exit");
  const r = setup({ profile: "jun2020", rsm: "rewrite" }).p;
  r.writeMsr(0x4b564d0b, BigInt(WP), false);
  r.writeMsr(0x4b564d0c, BigInt(SMAP), false);
  assert.deepEqual(r.onRsm(PE, SMAP | PAE), { cr0: PE | WP, cr4: PAE });
  const c = setup({ profile: "jun2020", rsm: "continue" }).p;
  c.writeMsr(0x4b564d0b, BigInt(WP), false);
  assert.equal(c.onRsm(PE, 0), "continue");
});

test("RSM heki2024: default 'continue' (RSM bypasses heki_check_cr); 'exit' and 'rewrite' on request", () => {
  const { vm, p } = setup({ profile: "heki2024" });
  hekiPin(vm, 4, SMEP | SMAP);
  assert.equal(p.onRsm(CR0_ON, PAE), "continue");
  assert.equal(vm.log.entries()[0].action, "allowed");
  const e = setup({ profile: "heki2024", rsm: "exit" });
  hekiPin(e.vm, 4, SMEP);
  assert.equal(e.p.onRsm(CR0_ON, PAE), "exit");
  const w = setup({ profile: "heki2024", rsm: "rewrite" });
  hekiPin(w.vm, 0, WP);
  assert.deepEqual(w.p.onRsm(PE | PG, PAE), { cr0: (PE | PG | WP) >>> 0, cr4: PAE });
});

test("RESET and power-up clear the pins; INIT follows pinsOnInit (rfc2019 keeps, jun2020 clears)", () => {
  const pinned = (options: PinningOptions, msr: number) => {
    const p = setup(options).p;
    p.writeMsr(msr, BigInt(SMEP), true);
    return p;
  };
  const cases: [PinningOptions, number, boolean][] = [
    [{ profile: "rfc2019" }, 0x4b564d09, true],
    [{ profile: "rfc2019", pinsOnInit: "clear" }, 0x4b564d09, false],
    [{ profile: "jun2020" }, 0x4b564d0d, false],
    [{ profile: "jun2020", pinsOnInit: "keep" }, 0x4b564d0d, true],
  ];
  for (const [options, msr, keptByInit] of cases) {
    const init = pinned(options, msr);
    init.reset("init");
    assert.equal(init.pins().cr4.high, keptByInit ? SMEP : 0, JSON.stringify(options));
    for (const kind of ["reset", "power-up"] as const) {
      const p = pinned(options, msr);
      p.reset(kind);
      assert.deepEqual(p.pins(), { cr0: { high: 0, low: 0 }, cr4: { high: 0, low: 0 } });
      assert.equal(p.checkControlWrite("cr4", CR4_ON, 0, MOV), null);
    }
  }
  assert.throws(() => setup({ profile: "jun2020" }).p.reset("soft" as "init"), /reset kind/);
});

test("heki2024: vCPU INIT/RESET leave the per-VM pins; only the VMM's systemReset clears them", () => {
  const { vm, p } = setup({ profile: "heki2024" });
  hekiPin(vm, 4, SMEP);
  p.reset("init");
  p.reset("reset");
  p.reset("power-up");
  assert.equal(p.pins().cr4.high, SMEP);
  vm.systemReset();
  assert.equal(p.pins().cr4.high, 0);
  assert.equal(p.checkControlWrite("cr4", CR4_ON, 0, MOV), null);
});
