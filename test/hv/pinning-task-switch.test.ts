/**
 * CR pinning and the hardware task switch, end to end on a vCPU. A task switch sets CR0.TS
 * (SDM Vol.3 2.5 "Control Registers": "The processor sets this flag on every task switch";
 * 7.3 "Task Switching"), so it is one of the guest write paths the issue lists ("MOV to
 * CR0/CR4, LMSW, CLTS, task switch, RSM"): when CR0.TS is pinnable (the VMM widened
 * `allowedCr0`) and pinned so that setting it breaks the pin, the switch faults with #GP(0)
 * before anything changes (the old task keeps running: TR, both TSS descriptors, the old
 * TSS image and CR0 are untouched), and the violation is in the audit log with source
 * "task-switch" and the RIP of the switching instruction. Covered: JMP to a TSS, INT n
 * through an IDT task gate, jun2020 pinned low (refused) and high (allowed), rfc2019 (a
 * pinned bit may not change), heki2024 (pin-to-1 only, so never refused) and
 * `violations: "exit"`.
 *
 * KVM itself differs here: its emulator (emulator_do_task_switch in arch/x86/kvm/emulate.c)
 * sets TS with `ops->set_cr(ctxt, 0, get_cr(ctxt, 0) | X86_CR0_TS)` after the switch is done
 * and ignores the result, so the 2019/2020 patches would have completed the switch with TS
 * silently left clear. pinvm follows the rule instead (docs/cr-pinning.md section 3).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { type Vcpu, type Vm, type VmOptions, Hypervisor } from "../../src/hv/index.js";
import { assemble } from "../helpers/asm.js";
import { GUEST, enterFlat32, faultRecord, installRecordingIdt, load32, read32 } from "../helpers/hv-guest.js";

const TS = 1 << 3;
const WP = 1 << 16;
const JUN_CR0_PINNED_LOW = 0x4b564d0a;
const JUN_CR0_PINNED_HIGH = 0x4b564d0b;
const RFC_CR0_PINNED = 0x4b564d08;
const KVM_HC_LOCK_CR_UPDATE = 13;

/** This test's GDT: null, 08H code, 10H data (as hv-guest's), 18H TSS A (busy), 20H TSS B. */
const GDT = 0x6000;
const TSS_A = 0x6100;
const TSS_B = 0x6200;
const SEL_A = 0x18;
const SEL_B = 0x20;
const CODE_B = 0x12000;
/** Records: task B's marker, TR and CR0; task A's CR0 and TR after the attempt. */
const REC = { bMarker: 0x7100, bTr: 0x7104, bCr0: 0x7108, aCr0: 0x7000, aTr: 0x7004 } as const;
/** Value the old TSS's EIP field holds until a switch saves the old task into it. */
const SENTINEL = 0x5a5a5a5a;
/** The #GP handler skips the 7-byte far JMP (EA ptr16:32), or INT n (2 bytes) and 5 NOPs. */
const SKIP = 7;

/** An 8-byte system descriptor for a 32-bit TSS (SDM Vol.3 Figure 7-3) with limit 67H. */
function tssDescriptor(base: number, busy: boolean): Uint8Array {
  const d = new Uint8Array(8);
  d[0] = 0x67;
  d[2] = base & 0xff;
  d[3] = (base >>> 8) & 0xff;
  d[4] = (base >>> 16) & 0xff;
  d[5] = busy ? 0x8b : 0x89; // P=1, DPL 0, type 1011B busy / 1001B available
  d[7] = base >>> 24;
  return d;
}

/** The access byte (P, DPL, type) of the descriptor for `selector` in this test's GDT. */
function accessByte(vm: Vm, selector: number): number {
  return vm.readPhysical(GDT + selector + 5, 1)[0];
}

/** Writes the GDT, both TSSs (B: a flat ring-0 task at CODE_B) and task B's code. */
function installTasks(vm: Vm): void {
  const gdt = new Uint8Array(0x28);
  gdt.set(vm.readPhysical(GUEST.gdt, 0x18)); // null, 08H code, 10H data from hv-guest
  gdt.set(tssDescriptor(TSS_A, true), SEL_A);
  gdt.set(tssDescriptor(TSS_B, false), SEL_B);
  vm.writePhysical(GDT, gdt);
  const tss = (base: number, eip: number): Uint8Array => {
    const t = new Uint8Array(0x68);
    const dv = new DataView(t.buffer);
    dv.setUint32(0x20, eip, true);
    dv.setUint32(0x24, 2, true); // EFLAGS
    dv.setUint32(0x38, 0x8800, true); // ESP
    [0x10, 0x08, 0x10, 0x10, 0x10, 0x10].forEach((sel, n) => dv.setUint32(0x48 + n * 4, sel, true));
    dv.setUint32(0x64, 0x68 << 16, true); // I/O map base, T = 0
    return t;
  };
  vm.writePhysical(TSS_A, tss(TSS_A, SENTINEL));
  vm.writePhysical(TSS_B, tss(TSS_B, CODE_B));
  load32(
    vm,
    [
      `mov dword ptr [${REC.bMarker}], 0xb0b`,
      "str ax",
      `mov [${REC.bTr}], eax`,
      "mov eax, cr0",
      `mov [${REC.bCr0}], eax`,
      "hlt",
    ].join("\n"),
    CODE_B,
  );
}

/** Makes task A (TSS_A, busy) the current task of `vcpu` in this test's GDT. */
function enterTaskA(vcpu: Vcpu, vm: Vm): void {
  enterFlat32(vcpu, GUEST.code, vm);
  vcpu.setSregs({
    gdt: { base: BigInt(GDT), limit: 0x27 },
    tr: {
      selector: SEL_A,
      base: BigInt(TSS_A),
      limit: 0x67,
      type: 11,
      s: 0,
      dpl: 0,
      present: 1,
      avl: 0,
      l: 0,
      db: 0,
      g: 0,
    },
  });
}

/** IDT entry `vector` becomes a task gate to TSS B (SDM Vol.3 Figure 7-8). */
function taskGate(vm: Vm, vector: number): void {
  const g = new Uint8Array(8);
  g[2] = SEL_B;
  g[5] = 0x85; // P=1, DPL 0, type 0101B
  vm.writePhysical(GUEST.idt + vector * 8, g);
}

interface Outcome {
  vm: Vm;
  vcpu: Vcpu;
  /** Guest-physical address (= RIP, flat CS) of the switching instruction. */
  switchRip: number;
}

/**
 * Runs `pin` (guest code that pins CR0.TS), then a task switch to TSS B by `how`, then, back
 * in task A (only if the switch faulted), records CR0 and TR and halts.
 */
function attempt(options: Partial<VmOptions>, pin: string[], how: "jmp" | "int"): Outcome & { exit: string } {
  const vm = new Hypervisor().createVm({ memoryBytes: 2 << 20, ...options });
  const vcpu = vm.createVcpu(0);
  installRecordingIdt(vm, SKIP);
  installTasks(vm);
  if (how === "int") taskGate(vm, 0x40);
  const before = pin.join("\n");
  const switching = how === "jmp" ? [`jmp ${SEL_B}:0`] : ["int 0x40", "nop", "nop", "nop", "nop", "nop"];
  load32(
    vm,
    [
      before,
      ...switching,
      "mov eax, cr0",
      `mov [${REC.aCr0}], eax`,
      "str ax",
      `mov [${REC.aTr}], eax`,
      "hlt",
    ].join("\n"),
  );
  const switchRip = GUEST.code + (before === "" ? 0 : assemble(before, 32, GUEST.code).length);
  enterTaskA(vcpu, vm);
  const exit = vcpu.run().kind;
  return { vm, vcpu, switchRip, exit };
}

/** WRMSR of `value` (low 32 bits) to `msr`. */
function wrmsr(msr: number, value: number): string[] {
  return [`mov ecx, ${msr}`, `mov eax, ${value}`, "xor edx, edx", "wrmsr"];
}

/** Asserts that the switch happened: task B ran with TS set, A is free, B busy. */
function assertSwitched(o: Outcome): void {
  const { vm } = o;
  assert.equal(read32(vm, REC.bMarker), 0xb0b, "task B ran");
  assert.equal(read32(vm, REC.bTr) & 0xffff, SEL_B, "TR = B in task B");
  assert.ok(read32(vm, REC.bCr0) & TS, "CR0.TS set by the task switch");
  assert.equal(faultRecord(vm).count, 0, "no exception");
}

/** Asserts that the switch was refused with #GP(0) and the old task is intact. */
function assertRefused(o: Outcome, how: "jmp" | "int"): void {
  const { vm, vcpu } = o;
  assert.deepEqual(faultRecord(vm), { vector: 13, errorCode: 0, count: 1 }, "#GP(0)");
  assert.equal(read32(vm, REC.bMarker), 0, "task B never ran");
  assert.equal(read32(vm, REC.aCr0) & TS, 0, "CR0.TS still clear");
  assert.equal(Number(vcpu.getSregs().cr0) & TS, 0);
  assert.equal(read32(vm, REC.aTr) & 0xffff, SEL_A, "TR still A");
  assert.equal(accessByte(vm, SEL_A), 0x8b, "A still busy");
  assert.equal(accessByte(vm, SEL_B), 0x89, "B still available");
  assert.equal(read32(vm, TSS_A + 0x20), SENTINEL, "old task's state not saved into its TSS");
  if (how === "int") assert.equal(read32(vm, TSS_B), 0, "no back link written into B");
}

test("control: with CR0.TS pinnable but not pinned, JMP and INT n through a task gate switch tasks", () => {
  for (const how of ["jmp", "int"] as const) {
    const o = attempt({ pinning: { profile: "jun2020", allowedCr0: WP | TS } }, [], how);
    assert.equal(o.exit, "hlt");
    assertSwitched(o);
    if (how === "int") assert.equal(read32(o.vm, TSS_B) & 0xffff, SEL_A, "back link to A");
    assert.equal(o.vm.pinning.log.total, 0);
  }
});

test("jun2020: a task switch with CR0.TS pinned low is #GP(0), the old task intact, logged as 'task-switch'", () => {
  for (const how of ["jmp", "int"] as const) {
    const o = attempt(
      { pinning: { profile: "jun2020", allowedCr0: WP | TS } },
      wrmsr(JUN_CR0_PINNED_LOW, TS),
      how,
    );
    assert.equal(o.exit, "hlt");
    assertRefused(o, how);
    const entries = o.vm.pinning.log.entries();
    assert.equal(entries.length, 1, how);
    const v = entries[0];
    assert.equal(v.cr, "cr0");
    assert.equal(v.source, "task-switch");
    assert.equal(v.vcpu, 0);
    assert.equal(v.rip, BigInt(o.switchRip), "RIP of the JMP / INT");
    assert.equal(v.old & TS, 0);
    assert.equal(v.attempted, (v.old | TS) >>> 0, "the switch only sets TS");
    assert.equal(v.pinnedLow, TS);
    assert.equal(v.pinnedHigh, 0);
    assert.equal(v.profile, "jun2020");
    assert.equal(v.action, "gp");
  }
});

test("jun2020: CR0.TS pinned high does not stop a task switch (it sets TS)", () => {
  const o = attempt(
    { pinning: { profile: "jun2020", allowedCr0: WP | TS } },
    wrmsr(JUN_CR0_PINNED_HIGH, TS),
    "jmp",
  );
  assert.equal(o.exit, "hlt");
  assertSwitched(o);
  assert.equal(o.vm.pinning.log.total, 0);
});

test("rfc2019: a pinned CR0.TS that is 0 may not change, so a task switch is #GP(0)", () => {
  const o = attempt(
    { pinning: { profile: "rfc2019", allowedCr0: WP | TS } },
    wrmsr(RFC_CR0_PINNED, TS),
    "jmp",
  );
  assert.equal(o.exit, "hlt");
  assertRefused(o, "jmp");
  const [v] = o.vm.pinning.log.entries();
  assert.equal(v.source, "task-switch");
  assert.equal(v.pinnedHigh, TS, "rfc2019 pins are recorded as pinned (to the current value)");
});

test("heki2024: pins are pin-to-1, so a task switch (which sets TS) is never refused", () => {
  const o = attempt(
    { pinning: { profile: "heki2024", allowedCr0: WP | TS } },
    [
      "mov eax, cr0",
      `or eax, ${WP}`,
      "mov cr0, eax",
      `mov eax, ${KVM_HC_LOCK_CR_UPDATE}`,
      "xor ebx, ebx",
      `mov ecx, ${WP | TS}`,
      "xor edx, edx",
      "vmcall",
    ],
    "jmp",
  );
  assert.equal(o.exit, "hlt");
  assert.equal(o.vm.pinning.hekiPins().cr0, WP | TS, "the hypercall pinned WP and TS");
  assertSwitched(o);
  assert.equal(o.vm.pinning.log.total, 0);
});

test("violations 'exit': a refused task switch returns a cr-pin-violation exit, then #GP(0) is taken", () => {
  const o = attempt(
    { pinning: { profile: "jun2020", allowedCr0: WP | TS }, violations: "exit" },
    wrmsr(JUN_CR0_PINNED_LOW, TS),
    "jmp",
  );
  assert.equal(o.exit, "cr-pin-violation");
  assert.equal(o.vm.pinning.log.entries()[0].source, "task-switch");
  assert.equal(o.vcpu.run().kind, "hlt");
  assertRefused(o, "jmp");
});
