/**
 * Tests of the first-cut hypervisor API (src/hv): register get/set round trips, the
 * KVM-style consistency checks of setSregs, HvError on misuse, and run() exits.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Hypervisor, HvError, type Segment } from "../../src/hv/index.js";

function flat(selector: number, type: number, l = 0, db = 1): Segment {
  return { selector, base: 0n, limit: 0xffffffff, type, s: 1, dpl: 0, present: 1, avl: 0, l, db, g: 1 };
}

function newVcpu() {
  const vm = new Hypervisor().createVm({ memoryBytes: 1 << 20 });
  return { vm, vcpu: vm.createVcpu(0) };
}

test("a new vCPU is in the power-up state: real mode at F000:FFF0", () => {
  const { vcpu } = newVcpu();
  const s = vcpu.getSregs();
  assert.equal(s.cs.selector, 0xf000);
  assert.equal(s.cs.base, 0xffff0000n);
  assert.equal(vcpu.getRegs().rip, 0xfff0n);
  assert.equal(vcpu.getRegs().rflags, 2n);
});

test("setRegs/getRegs round-trip full 64-bit values", () => {
  const { vcpu } = newVcpu();
  vcpu.setRegs({ rax: 0xfedcba9876543210n, r15: 0x8000000000000001n, rflags: 0x202n });
  const r = vcpu.getRegs();
  assert.equal(r.rax, 0xfedcba9876543210n);
  assert.equal(r.r15, 0x8000000000000001n);
  assert.equal(r.rflags, 0x202n);
});

test("misuse throws HvError with a clear message", () => {
  const { vm, vcpu } = newVcpu();
  assert.throws(
    () => vcpu.setRegs({ eax: 1n } as never),
    (e) => e instanceof HvError && /unknown register 'eax'/.test(e.message),
  );
  assert.throws(
    () => vcpu.setRegs({ rax: 1 as never }),
    (e) => e instanceof HvError && e.code === "bad-value",
  );
  assert.throws(() => vcpu.setRegs({ rax: 1n << 64n }), HvError);
  assert.throws(
    () => vcpu.getMsr(0x12345),
    (e) => e instanceof HvError && /unknown MSR index 0x12345/.test(e.message),
  );
  assert.throws(() => vcpu.setRegs({ rip: 0x1_0000_0000n }), /needs 64-bit mode/);
  assert.throws(() => vm.createVcpu(0), HvError);
  assert.throws(() => new Hypervisor().createVm({ memoryBytes: 12 }), HvError);
  assert.throws(() => vcpu.run(0), HvError);
});

test("setSregs checks CR0/CR4/EFER like KVM and changes nothing when it refuses", () => {
  const { vcpu } = newVcpu();
  const before = vcpu.getSregs();
  assert.throws(() => vcpu.setSregs({ cr0: 0x80000000n }), /PG set without PE/);
  assert.throws(() => vcpu.setSregs({ cr0: 0x80000001n, efer: 0x100n, cr4: 0n }), /needs CR4.PAE/);
  assert.throws(() => vcpu.setSregs({ efer: 0x400n }), /LMA set without/);
  assert.deepEqual(vcpu.getSregs(), before);
});

test("setSregs puts the vCPU in flat 32-bit protected mode; code then runs to HLT", () => {
  const { vm, vcpu } = newVcpu();
  const data = flat(0x10, 3);
  vcpu.setSregs({ cs: flat(0x08, 0xb), ds: data, es: data, ss: data, fs: data, gs: data, cr0: 0x11n });
  // mov eax, 0x12345678 ; out 0x80, al ; hlt
  vm.writePhysical(0x1000, Uint8Array.from([0xb8, 0x78, 0x56, 0x34, 0x12, 0xe6, 0x80, 0xf4]));
  const writes: number[] = [];
  vm.setPortIoHandler({ read: () => 0xff, write: (port, _size, value) => writes.push(port, value) });
  vcpu.setRegs({ rip: 0x1000n, rflags: 2n });
  assert.deepEqual(vcpu.run(1000), { kind: "hlt" });
  assert.equal(vcpu.getRegs().rax, 0x12345678n);
  assert.deepEqual(writes, [0x80, 0x78]);
  assert.equal(vcpu.getSregs().cs.db, 1);
});

test("requestStop from an I/O handler ends run() after the OUT; a triple fault is a shutdown exit", () => {
  const { vm, vcpu } = newVcpu();
  const data = flat(0x10, 3);
  vcpu.setSregs({
    cs: flat(0x08, 0xb),
    ds: data,
    es: data,
    ss: data,
    cr0: 0x11n,
    idt: { base: 0n, limit: 0 },
  });
  // out 0xf4, al ; ud2
  vm.writePhysical(0x2000, Uint8Array.from([0xe6, 0xf4, 0x0f, 0x0b]));
  vm.setPortIoHandler({ read: () => 0xff, write: () => vcpu.requestStop() });
  vcpu.setRegs({ rip: 0x2000n });
  assert.deepEqual(vcpu.run(1000), { kind: "stopped" });
  assert.equal(vcpu.getRegs().rip, 0x2002n);
  const exit = vcpu.run(1000);
  assert.equal(exit.kind, "shutdown");
});

test("host MSR access: EFER, FS base, PAT", () => {
  const { vcpu } = newVcpu();
  vcpu.setMsr(0xc0000100, 0xffff800000001000n);
  assert.equal(vcpu.getMsr(0xc0000100), 0xffff800000001000n);
  vcpu.setMsr(0x277, 0x0007040600070406n);
  assert.equal(vcpu.getMsr(0x277), 0x0007040600070406n);
  assert.throws(() => vcpu.setMsr(0xc0000080, 0x400n), /LMA/);
});
