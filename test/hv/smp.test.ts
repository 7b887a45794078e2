/**
 * Multiprocessor behaviour of the hypervisor: INIT-SIPI-SIPI through the xAPIC ICR starts an
 * AP at vector << 12 in real mode (SDM Vol.3 8.4.4, 10.6.1); a SIPI to a processor not
 * waiting for one is ignored; INIT is latched while the target is in SMM and taken after
 * RSM; fixed IPIs wake a halted vCPU; the APIC timer wakes HLT once the VM clock reaches
 * its deadline; the local APIC page is per vCPU.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Hypervisor, type Vcpu, type Vm } from "../../src/hv/index.js";
import { GUEST, enterFlat32, installRecordingIdt, load16, load32, read32 } from "../helpers/hv-guest.js";

const ICR_LOW = "0xfee00300";
const ICR_HIGH = "0xfee00310";

function smpVm(count = 2): { vm: Vm; vcpus: Vcpu[] } {
  const vm = new Hypervisor().createVm({ memoryBytes: 2 << 20 });
  const vcpus = Array.from({ length: count }, (_, i) => vm.createVcpu(i));
  return { vm, vcpus };
}

/** Round-robin until every vCPU has halted (or the budget runs out). */
function runAll(vm: Vm, rounds = 50): void {
  for (let i = 0; i < rounds; i++) {
    let active = false;
    for (const v of vm.allVcpus) {
      const e = v.run(10_000);
      if (e.kind === "budget-exhausted") active = true;
      else assert.equal(e.kind, "hlt", `vcpu ${v.id}: unexpected exit ${JSON.stringify(e)}`);
    }
    if (!active) return;
  }
}

/** BSP code: software-enable the APIC, then send INIT and a SIPI with `vector` to APIC ID 1. */
function bspSendsInitSipi(vector: number): string {
  return [
    "mov eax, [0xfee000f0]",
    "or eax, 0x1ff",
    "mov [0xfee000f0], eax",
    `mov dword ptr [${ICR_HIGH}], 0x01000000`,
    `mov dword ptr [${ICR_LOW}], 0x00004500`, // INIT, level assert
    `mov dword ptr [${ICR_HIGH}], 0x01000000`,
    `mov dword ptr [${ICR_LOW}], ${0x4600 | vector}`, // SIPI
    "hlt",
  ].join("\n");
}

test("INIT-SIPI starts an AP in real mode at vector << 12 with CS = vector << 8", () => {
  const { vm, vcpus } = smpVm();
  const [bsp, ap] = vcpus;
  // After power-up an AP waits for a SIPI (SDM Vol.3 8.4.1).
  assert.equal(ap.getMpState(), "init-received");
  load32(vm, bspSendsInitSipi(0x08));
  // AP trampoline at 0x8000: record CS and EDX (the reset signature), then halt.
  load16(vm, "mov ax, cs\nmov [0x7000], ax\nmov [0x7004], edx\nhlt", 0x8000);
  enterFlat32(bsp);
  runAll(vm);
  assert.equal(read32(vm, 0x7000) & 0xffff, 0x0800);
  assert.equal(read32(vm, 0x7004), Number(ap.getRegs().rdx & 0xffffffffn));
  assert.notEqual(read32(vm, 0x7004), 0);
  const cs = ap.getSregs().cs;
  assert.equal(cs.selector, 0x0800);
  assert.equal(cs.base, 0x8000n);
  assert.equal(ap.getMpState(), "halted");
});

test("a SIPI to a processor that is not waiting for one is ignored", () => {
  const { vm, vcpus } = smpVm();
  const [bsp, ap] = vcpus;
  load32(
    vm,
    [
      "mov eax, [0xfee000f0]",
      "or eax, 0x1ff",
      "mov [0xfee000f0], eax",
      `mov dword ptr [${ICR_HIGH}], 0x01000000`,
      `mov dword ptr [${ICR_LOW}], 0x4608`,
      "hlt",
    ].join("\n"),
  );
  load16(vm, "mov word ptr [0x7000], 0x1234\nhlt", 0x8000);
  // The AP already runs (halted in protected mode at 0x11000).
  load32(vm, "hlt", 0x11000);
  enterFlat32(ap, 0x11000);
  ap.setMpState("runnable");
  enterFlat32(bsp);
  runAll(vm);
  assert.equal(read32(vm, 0x7000), 0);
  assert.equal(ap.getSregs().cs.selector, 0x08);
  assert.equal(ap.getMpState(), "halted");
});

test("a fixed IPI wakes a halted vCPU and runs its handler", () => {
  const { vm, vcpus } = smpVm();
  const [bsp, ap] = vcpus;
  installRecordingIdt(vm);
  // AP: enable its APIC, STI, HLT; after the interrupt it stores a marker.
  load32(
    vm,
    "mov eax, [0xfee000f0]\nor eax, 0x1ff\nmov [0xfee000f0], eax\nsti\nhlt\nmov dword ptr [0x7010], 1\ncli\nhlt",
    0x11000,
  );
  enterFlat32(ap, 0x11000);
  ap.setMpState("runnable");
  assert.equal(ap.run(10_000).kind, "hlt");
  // BSP: fixed IPI vector 0x40 to APIC ID 1; then EOI is the AP handler's business (the stub IRETs).
  load32(
    vm,
    [
      "mov eax, [0xfee000f0]",
      "or eax, 0x1ff",
      "mov [0xfee000f0], eax",
      `mov dword ptr [${ICR_HIGH}], 0x01000000`,
      `mov dword ptr [${ICR_LOW}], 0x4040`,
      "hlt",
    ].join("\n"),
  );
  enterFlat32(bsp);
  assert.equal(bsp.run(10_000).kind, "hlt");
  assert.equal(ap.run(10_000).kind, "hlt");
  assert.equal(read32(vm, GUEST.faultRecord), 0x40);
  assert.equal(read32(vm, 0x7010), 1);
});

test("the APIC timer wakes HLT once the VM clock reaches its deadline", () => {
  const { vm, vcpus } = smpVm(1);
  const [bsp] = vcpus;
  installRecordingIdt(vm);
  load32(
    vm,
    [
      "mov eax, [0xfee000f0]",
      "or eax, 0x1ff",
      "mov [0xfee000f0], eax",
      "mov dword ptr [0xfee003e0], 0xb", // divide by 1
      "mov dword ptr [0xfee00320], 0x30", // LVT timer: one-shot, vector 30H, unmasked
      "mov dword ptr [0xfee00380], 100000", // initial count
      "sti",
      "hlt",
      "mov dword ptr [0x7020], 1",
      "cli",
      "hlt",
    ].join("\n"),
  );
  enterFlat32(bsp);
  assert.equal(bsp.run(10_000).kind, "hlt");
  assert.equal(read32(vm, 0x7020), 0);
  const when = bsp.nextEventTime();
  assert.ok(when !== undefined && when > bsp.time, "a timer deadline is armed");
  vm.advanceClock(when);
  assert.equal(bsp.run(10_000).kind, "hlt");
  assert.equal(read32(vm, GUEST.faultRecord), 0x30);
  assert.equal(read32(vm, 0x7020), 1);
});

test("each vCPU sees its own APIC ID in the xAPIC page", () => {
  const { vm, vcpus } = smpVm(2);
  load32(vm, "mov eax, [0xfee00020]\nmov [0x7030], eax\nhlt", 0x10000);
  load32(vm, "mov eax, [0xfee00020]\nmov [0x7034], eax\nhlt", 0x11000);
  enterFlat32(vcpus[0], 0x10000);
  enterFlat32(vcpus[1], 0x11000);
  vcpus[1].setMpState("runnable");
  runAll(vm);
  assert.equal(read32(vm, 0x7030) >>> 24, 0);
  assert.equal(read32(vm, 0x7034) >>> 24, 1);
});
