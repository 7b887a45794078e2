/**
 * Interrupt injection from the VMM into the hypervisor (KVM_SIGNAL_MSI, a userspace 8259
 * on LINT0, KVM_NMI, KVM_SMI): an MSI reaches the local APIC its address selects and runs
 * the guest's handler; the ExtINT line delivers the 8259's vector only while the APIC passes
 * it (LVT LINT0 in ExtINT mode, unmasked); an injected NMI and SMI are taken at the next
 * instruction boundary.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { HvError } from "../../src/hv/index.js";
import {
  GUEST,
  enterFlat32,
  faultRecord,
  installRecordingIdt,
  load16,
  load32,
  newVm,
  read32,
} from "../helpers/hv-guest.js";

/** Guest: software-enable the APIC, STI, HLT, then mark and halt with IF=0. */
const WAIT_FOR_INTERRUPT = [
  "mov eax, [0xfee000f0]",
  "or eax, 0x1ff",
  "mov [0xfee000f0], eax",
  "sti",
  "hlt",
  "mov dword ptr [0x7000], 1",
  "cli",
  "hlt",
].join("\n");

test("signalMsi delivers a fixed interrupt to the addressed APIC (SDM 10.11.1-10.11.2)", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  load32(vm, WAIT_FOR_INTERRUPT);
  enterFlat32(vcpu, GUEST.code, vm);
  assert.equal(vcpu.run().kind, "hlt");
  // Address FEE00000H: destination APIC ID 0, physical; data: vector 51H, fixed, edge.
  vm.signalMsi(0xfee00000, 0x51);
  assert.equal(vcpu.run().kind, "hlt");
  assert.equal(faultRecord(vm).vector, 0x51);
  assert.equal(read32(vm, 0x7000), 1);
  assert.throws(() => vm.signalMsi(0x12345678, 0x51), HvError);
});

test("an MSI to another APIC ID does not reach this vCPU", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  load32(vm, WAIT_FOR_INTERRUPT);
  enterFlat32(vcpu, GUEST.code, vm);
  assert.equal(vcpu.run().kind, "hlt");
  vm.signalMsi((0xfee00000 | (5 << 12)) >>> 0, 0x51);
  assert.equal(vcpu.run().kind, "hlt");
  assert.equal(faultRecord(vm).count, 0);
});

test("the 8259's ExtINT line is delivered only when LVT LINT0 passes ExtINT", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  load32(vm, WAIT_FOR_INTERRUPT);
  enterFlat32(vcpu, GUEST.code, vm);
  assert.equal(vcpu.run().kind, "hlt");
  let acks = 0;
  // LINT0 is masked after reset: nothing happens.
  // The 8259 drops INTR after the INTA cycle (no other request pending).
  const inta = (): number => {
    acks++;
    vcpu.setExtInt(false);
    return 0x68;
  };
  vcpu.setExtInt(true, inta);
  assert.equal(vcpu.run().kind, "hlt");
  assert.equal(acks, 0);
  // The guest (here: the host through the APIC page semantics) unmasks LINT0 as ExtINT (700H).
  vcpu.apic.writeMmio(0x350, 4, 0x700);
  vcpu.setExtInt(true);
  assert.equal(vcpu.run().kind, "hlt");
  assert.equal(acks, 1, "one INTA cycle to the 8259");
  assert.equal(faultRecord(vm).vector, 0x68);
});

test("injectNmi and injectSmi are taken at the next instruction boundary", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  load16(vm, "mov dword ptr cs:[0x100], 0x5a5a\nrsm", 0x38000);
  load32(vm, "1: jmp 1b");
  enterFlat32(vcpu, GUEST.code, vm);
  assert.equal(vcpu.run(100).kind, "budget-exhausted");
  vcpu.injectNmi();
  assert.equal(vcpu.run(100).kind, "budget-exhausted");
  assert.equal(faultRecord(vm).vector, 2);
  vcpu.injectSmi();
  assert.equal(vcpu.run(100).kind, "budget-exhausted");
  assert.equal(read32(vm, 0x30100), 0x5a5a, "the SMI handler at SMBASE+8000H ran");
  assert.equal(vcpu.getVcpuEvents().smi.smm, false, "and returned with RSM");
});
