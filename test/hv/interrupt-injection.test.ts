/**
 * Interrupt injection from the VMM into the hypervisor (KVM_SIGNAL_MSI, a userspace 8259
 * on LINT0, KVM_NMI, KVM_SMI): an MSI reaches the local APIC its address selects and runs
 * the guest's handler; the ExtINT line delivers the 8259's vector only while the APIC passes
 * it (LVT LINT0 in ExtINT mode, unmasked); an injected NMI and SMI are taken at the next
 * instruction boundary; a level-triggered message (the IOAPIC's path, vm.deliverInterrupt)
 * reports its EOI to the VMM; an MSI in logical mode reaches every matching APIC, and one
 * with delivery mode INIT parks an AP in wait-for-SIPI.
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

test("an IOAPIC-style level-triggered message: the guest's EOI reaches the VMM's EOI listener (SDM 10.8.5)", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  // Vector 61H gets its own handler that records like the others and writes EOI before IRET.
  load32(
    vm,
    ["mov dword ptr [0x2800], 0x61", "inc dword ptr [0x2808]", "mov dword ptr [0xfee000b0], 0", "iretd"].join(
      "\n",
    ),
    0x5800,
  );
  const gate = new Uint8Array([0x00, 0x58, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00]);
  vm.writePhysical(GUEST.idt + 0x61 * 8, gate);
  const eois: number[] = [];
  vm.setEoiListener((v) => eois.push(v));
  load32(vm, WAIT_FOR_INTERRUPT);
  enterFlat32(vcpu, GUEST.code, vm);
  assert.equal(vcpu.run().kind, "hlt");
  vm.deliverInterrupt({
    vector: 0x61,
    deliveryMode: "fixed",
    destinationMode: "physical",
    destination: 0,
    trigger: "level",
  });
  assert.equal(vcpu.run().kind, "hlt");
  assert.equal(faultRecord(vm).vector, 0x61);
  assert.deepEqual(eois, [0x61], "a level-triggered EOI is broadcast to the IOAPIC");
  assert.throws(() => vm.deliverInterrupt(null as never), HvError);
});

test("an MSI in logical flat mode reaches every APIC whose LDR matches; delivery mode INIT parks an AP", () => {
  const vm = newVm().vm;
  const ap = vm.createVcpu(1);
  const bsp = vm.getVcpu(0);
  assert.ok(bsp);
  installRecordingIdt(vm);
  for (const [v, ldr] of [
    [bsp, 0x01000000],
    [ap, 0x02000000],
  ] as const) {
    v.apic.writeMmio(0xd0, 4, ldr); // LDR: logical ID bit 0 / bit 1 (flat model, DFR = FFFFFFFFH)
  }
  load32(vm, WAIT_FOR_INTERRUPT);
  load32(vm, WAIT_FOR_INTERRUPT, 0x11000);
  enterFlat32(bsp, GUEST.code, vm);
  enterFlat32(ap, 0x11000, vm);
  ap.setMpState("runnable");
  assert.equal(bsp.run().kind, "hlt");
  assert.equal(ap.run().kind, "hlt");
  // Address FEE03004H: destination 03H (both logical IDs), DM = 1 (logical); vector 52H, fixed.
  vm.signalMsi(0xfee03004, 0x52);
  assert.equal(bsp.run().kind, "hlt");
  assert.equal(ap.run().kind, "hlt");
  assert.equal(faultRecord(vm).count, 2, "both vCPUs took 52H");
  // Data 0500H: delivery mode INIT to logical ID 2 (the AP only).
  vm.signalMsi(0xfee02004, 0x500);
  assert.equal(ap.run().kind, "hlt");
  assert.equal(ap.getMpState(), "init-received");
  assert.equal(bsp.getMpState(), "halted");
});
