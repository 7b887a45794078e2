/**
 * RDMSR/WRMSR (CPU-owned MSRs and the hook path), RDTSC, CPUID (native answer and the
 * hypervisor hook), RDFSBASE/WRFSBASE/RDGSBASE/WRGSBASE (SDM Vol.2 entries of each mnemonic;
 * Vol.4 chapter 2; Vol.3 2.2.1, 10.8.5, 11.12.2).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterProtected32, LAYOUT, type TestMachine } from "../helpers/machine.js";
import {
  assertFault,
  faultMachine,
  installFaultHandlers,
  runForFault,
  enterUser,
  type FaultInfo,
} from "../helpers/faults.js";
import { CR4, EFER } from "../../src/x86/cr.js";
import { MSR } from "../../src/x86/msr.js";
import { SEG } from "../../src/x86/segment.js";
import { cpuidNative } from "../../src/cpu/ops/msr-cpuid.js";
import { OPCODES } from "../../src/cpu/optable.js";

const CODE = LAYOUT.code;

/** WRMSR `index` ← (lo, hi); returns the fault, if any. */
function wrmsr(m: TestMachine, index: number, lo: number, hi = 0): FaultInfo | null {
  m.cpu.lo[1] = index;
  m.cpu.lo[0] = lo;
  m.cpu.lo[2] = hi;
  return runForFault(m, "wrmsr", 64);
}

/** RDMSR `index` → [lo, hi] (throws if it faulted). */
function rdmsr(m: TestMachine, index: number): [number, number] {
  m.cpu.lo[1] = index;
  assert.equal(runForFault(m, "rdmsr", 64), null);
  return [m.cpu.lo[0] >>> 0, m.cpu.lo[2] >>> 0];
}

test("RDMSR/WRMSR at CPL 3 raise #GP(0)", () => {
  for (const src of ["rdmsr", "wrmsr"]) {
    const m = faultMachine(64);
    m.cpu.lo[1] = MSR.IA32_STAR;
    enterUser(m, 64);
    assertFault(runForFault(m, src, 64), 13);
  }
});

test("FS_BASE/GS_BASE/KERNEL_GS_BASE/LSTAR/CSTAR/SYSENTER_E{SP,IP}: canonical check on write", () => {
  const m = faultMachine(64);
  const idx = [
    MSR.IA32_FS_BASE,
    MSR.IA32_GS_BASE,
    MSR.IA32_KERNEL_GS_BASE,
    MSR.IA32_LSTAR,
    MSR.IA32_CSTAR,
    MSR.IA32_SYSENTER_ESP,
    MSR.IA32_SYSENTER_EIP,
  ];
  for (const i of idx) {
    assertFault(wrmsr(m, i, 0, 0x00008000), 13);
    assertFault(wrmsr(m, i, 0, 0xfffe0000), 13);
    assert.equal(wrmsr(m, i, 0x1000, 0xffff8000), null);
    assert.deepEqual(rdmsr(m, i), [0x1000, 0xffff8000]);
    assert.equal(wrmsr(m, i, 0xfffff000, 0x00007fff), null);
    assert.deepEqual(rdmsr(m, i), [0xfffff000, 0x00007fff]);
  }
  assert.equal(m.cpu.segBase[SEG.FS], 0x7ffffffff000);
  assert.equal(wrmsr(m, MSR.IA32_GS_BASE, 0x2000, 0), null);
  m.mem.write32(0x2008, 0x99);
  assert.equal(runForFault(m, "mov ebx, gs:[8]", 64), null);
  assert.equal(m.cpu.lo[3], 0x99);
});

test("EFER: reserved bits #GP; LME change with paging on #GP; LMA read-only; hook and veto", () => {
  const m = faultMachine(64);
  assertFault(wrmsr(m, MSR.IA32_EFER, 0x500 | 2), 13);
  assertFault(wrmsr(m, MSR.IA32_EFER, 0x500, 1), 13);
  assertFault(wrmsr(m, MSR.IA32_EFER, 0x400), 13); // clears LME while paging
  const seen: number[][] = [];
  m.hooks.controlWrite = (reg, ol, oh, nl, nh) => {
    if (reg === "efer") seen.push([ol, oh, nl, nh]);
    return !(nl & EFER.SCE);
  };
  assert.equal(wrmsr(m, MSR.IA32_EFER, 0x100 | EFER.NXE), null); // LMA bit written 0: ignored
  assert.equal(m.cpu.efer, 0x500 | EFER.NXE);
  assertFault(wrmsr(m, MSR.IA32_EFER, 0x500 | EFER.SCE), 13);
  assert.equal(m.cpu.efer, 0x500 | EFER.NXE);
  assert.deepEqual(seen, [
    [0x500, 0, 0xd00, 0],
    [0xd00, 0, 0x501, 0],
  ]);
  // With paging off LME may change.
  const p = createMachine();
  enterProtected32(p);
  installFaultHandlers(p, 32);
  p.cpu.lo[1] = MSR.IA32_EFER;
  p.cpu.lo[0] = EFER.LME;
  p.cpu.lo[2] = 0;
  assert.equal(runForFault(p, "wrmsr", 32), null);
  assert.equal(p.cpu.efer, EFER.LME);
});

test("PAT accepts memory types 0,1,4-7 per byte; 2, 3 and >7 raise #GP(0)", () => {
  const m = faultMachine(64);
  assert.deepEqual(rdmsr(m, MSR.IA32_PAT), [0x00070406, 0x00070406]);
  assert.equal(wrmsr(m, MSR.IA32_PAT, 0x07060504, 0x00010006), null);
  assert.deepEqual(rdmsr(m, MSR.IA32_PAT), [0x07060504, 0x00010006]);
  for (const [lo, hi] of [
    [0x02, 0],
    [0, 0x0300],
    [0x08, 0],
    [0, 0x10000000],
  ]) {
    assertFault(wrmsr(m, MSR.IA32_PAT, lo, hi), 13);
  }
  assert.deepEqual(rdmsr(m, MSR.IA32_PAT), [0x07060504, 0x00010006]);
});

test("TSC: WRMSR sets the counter; RDTSC at CPL 3 with CR4.TSD raises #GP(0)", () => {
  const m = faultMachine(64);
  assert.equal(wrmsr(m, MSR.IA32_TIME_STAMP_COUNTER, 0, 0x10), null);
  assert.equal(runForFault(m, "rdtsc", 64), null);
  assert.equal(m.cpu.lo[2], 0x10);
  assert.ok(m.cpu.lo[0] >>> 0 < 100);
  enterUser(m, 64);
  const f = runForFault(m, "rdtsc", 64);
  assert.ok(f && f.rip === CODE + 2, "RDTSC allowed at CPL 3 without TSD (the HLT after it faults)");
  m.cpu.cr4 |= CR4.TSD;
  enterUser(m, 64);
  assertFault(runForFault(m, "rdtsc", 64), 13);
});

test("other CPU-owned MSRs: XSS=0 only, TSC_AUX/FMASK high half reserved, MTRRCAP read-only, MTRR_DEF_TYPE", () => {
  const m = faultMachine(64);
  assert.equal(wrmsr(m, MSR.IA32_XSS, 0), null);
  assertFault(wrmsr(m, MSR.IA32_XSS, 1), 13);
  assert.equal(wrmsr(m, MSR.IA32_TSC_AUX, 0xabcd), null);
  assert.deepEqual(rdmsr(m, MSR.IA32_TSC_AUX), [0xabcd, 0]);
  assertFault(wrmsr(m, MSR.IA32_TSC_AUX, 0, 1), 13);
  assertFault(wrmsr(m, MSR.IA32_FMASK, 0, 1), 13);
  assert.equal(wrmsr(m, MSR.IA32_STAR, 0, 0x00230010), null);
  assert.deepEqual(rdmsr(m, MSR.IA32_STAR), [0, 0x00230010]);
  assertFault(wrmsr(m, MSR.IA32_MTRRCAP, 0), 13);
  assert.equal(wrmsr(m, MSR.IA32_MTRR_DEF_TYPE, 0x806), null);
  assertFault(wrmsr(m, MSR.IA32_MTRR_DEF_TYPE, 0x802), 13);
  assertFault(wrmsr(m, MSR.IA32_MTRR_DEF_TYPE, 0x406), 13);
  assert.equal(rdmsr(m, MSR.IA32_MISC_ENABLE)[0] & 1, 1);
  assertFault(wrmsr(m, MSR.IA32_MISC_ENABLE, 0x1800 | (1 << 22)), 13);
  assert.equal(wrmsr(m, MSR.IA32_MISC_ENABLE, 0x1800), null);
});

test("MSRs the CPU does not own go to the hooks (value or #GP)", () => {
  const m = faultMachine(64);
  const writes: number[][] = [];
  m.hooks.rdmsr = (index) => (index === 0x4b564d06 ? { lo: 0x10000, hi: 0 } : "gp");
  m.hooks.wrmsr = (index, lo, hi) => {
    writes.push([index, lo, hi]);
    return index === 0x4b564d08;
  };
  assert.deepEqual(rdmsr(m, 0x4b564d06), [0x10000, 0]);
  m.cpu.lo[1] = 0x1b;
  assertFault(runForFault(m, "rdmsr", 64), 13);
  assert.equal(wrmsr(m, 0x4b564d08, 0x10000, 0), null);
  assertFault(wrmsr(m, 0x1b, 0xfee00900, 0), 13);
  assert.deepEqual(writes, [
    [0x4b564d08, 0x10000, 0],
    [0x1b, 0xfee00900, 0],
  ]);
});

test("CPUID: vendor, leaves, features pinvm implements; OSXSAVE mirrors CR4", () => {
  const m = faultMachine(64);
  m.cpu.lo[0] = 0;
  assert.equal(runForFault(m, "cpuid", 64), null);
  const vendor = [3, 2, 1]
    .map((r) => String.fromCharCode(...[0, 8, 16, 24].map((s) => (m.cpu.lo[r] >>> s) & 0xff)))
    .join("");
  assert.equal(vendor, "GenuineIntel");
  assert.equal(m.cpu.reg64(0), 0xd);
  const l1 = cpuidNative(m.cpu, 1, 0);
  assert.equal((l1.eax >>> 8) & 0xf, 6);
  for (const b of [2, 3, 4, 5, 6, 9, 11, 13, 16]) assert.ok(l1.edx & (1 << b), `leaf 1 EDX bit ${b}`);
  // VME and HTT are not provided; MTRR is (variable ranges, test/cpu/mtrr.test.ts).
  for (const b of [1, 28]) assert.equal(l1.edx & (1 << b), 0, `leaf 1 EDX bit ${b} off`);
  assert.equal(l1.edx & (1 << 12), 1 << 12, "leaf 1 EDX bit 12 (MTRR) on");
  // Features provided by other instruction groups follow the opcode table.
  assert.equal(l1.edx & 1, OPCODES[0xd9] !== undefined ? 1 : 0, "FPU iff the x87 is registered");
  assert.ok(l1.ecx & (1 << 17) && l1.ecx & (1 << 26));
  assert.equal(l1.ecx & ((1 << 27) | (1 << 31) | (1 << 5)), 0);
  // SSE3/SSSE3/SSE4.1/SSE4.2 follow the SSE groups; SSE/SSE2/FXSR likewise in EDX.
  for (const b of [0, 9, 13, 19, 20, 23]) assert.ok(l1.ecx & (1 << b), `leaf 1 ECX bit ${b}`);
  for (const b of [24, 25, 26]) assert.ok(l1.edx & (1 << b), `leaf 1 EDX bit ${b}`);
  m.cpu.cr4 |= CR4.OSXSAVE;
  assert.ok(cpuidNative(m.cpu, 1, 0).ecx & (1 << 27));
  const l7 = cpuidNative(m.cpu, 7, 0);
  assert.equal(l7.ebx, (1 << 0) | (1 << 7) | (1 << 20));
  assert.equal(l7.ecx, 1 << 2);
  assert.deepEqual(cpuidNative(m.cpu, 7, 1), { eax: 0, ebx: 0, ecx: 0, edx: 0 });
  assert.deepEqual(cpuidNative(m.cpu, 0xd, 0), { eax: 3, ebx: 576, ecx: 576, edx: 0 });
  assert.equal(cpuidNative(m.cpu, 0x80000000, 0).eax, 0x80000008);
  const e1 = cpuidNative(m.cpu, 0x80000001, 0);
  for (const b of [11, 20, 27, 29]) assert.ok(e1.edx & (1 << b), `80000001 EDX bit ${b}`);
  assert.equal(e1.ecx, 1 | (1 << 5)); // LAHF/SAHF, ABM (LZCNT)
  assert.equal(cpuidNative(m.cpu, 0x80000008, 0).eax, 0x3028);
  // Beyond the maximum: the highest basic leaf.
  assert.deepEqual(cpuidNative(m.cpu, 0x40000000, 0), cpuidNative(m.cpu, 0xd, 0));
});

test("CPUID goes through hooks.cpuid, which may add hypervisor leaves; upper halves cleared", () => {
  const m = faultMachine(64);
  m.hooks.cpuid = (leaf, sub, native) =>
    leaf === 0x40000001 ? { eax: 1 << 14, ebx: sub, ecx: 0, edx: 0 } : native;
  m.cpu.lo[0] = 0x40000001;
  m.cpu.lo[1] = 7;
  m.cpu.hi[0] = -1;
  m.cpu.hi[3] = -1;
  assert.equal(runForFault(m, "cpuid", 64), null);
  assert.equal(m.cpu.reg64(0), 1 << 14);
  assert.equal(m.cpu.reg64(3), 7);
});

test("RD/WR FS/GS BASE: #UD without CR4.FSGSBASE or outside 64-bit mode; 32-bit forms; canonical writes", () => {
  const m = faultMachine(64);
  assertFault(runForFault(m, "rdfsbase rax", 64), 6);
  m.cpu.cr4 |= CR4.FSGSBASE;
  m.cpu.lo[0] = 0x1000;
  m.cpu.hi[0] = 0xffff8000 | 0;
  assert.equal(
    runForFault(m, "wrfsbase rax\nrdfsbase rbx\nmov ecx, -1\nwrgsbase ecx\nrdgsbase rdx\nrdgsbase esi", 64),
    null,
  );
  assert.equal(m.cpu.segBase[SEG.FS], -0x800000000000 + 0x1000);
  assert.equal(m.cpu.reg64(3), -0x800000000000 + 0x1000);
  assert.equal(m.cpu.segBase[SEG.GS], 0xffffffff);
  assert.equal(m.cpu.reg64(2), 0xffffffff);
  assert.equal(m.cpu.reg64(6), 0xffffffff);
  m.cpu.hi[0] = 0x8000;
  assertFault(runForFault(m, "wrgsbase rax", 64), 13);
  assert.equal(m.cpu.segBase[SEG.GS], 0xffffffff);
  // Not privileged.
  enterUser(m, 64);
  const f = runForFault(m, "rdfsbase rax", 64);
  assert.ok(f && f.rip === CODE + 5, "completes at CPL 3 (then HLT faults)");
  const p = createMachine();
  enterProtected32(p);
  installFaultHandlers(p, 32);
  p.cpu.cr4 |= CR4.FSGSBASE;
  assertFault(runForFault(p, ".byte 0xf3, 0x0f, 0xae, 0xc0", 32), 6);
});
