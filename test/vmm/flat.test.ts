/**
 * Tests of the flat-image loaders on a real hypervisor VM: a BIOS image ending at 1 MiB runs
 * from the reset vector F000:FFF0 (SDM Vol.3 9.1.4) and its first far jump lands where a PC
 * BIOS expects; a raw binary runs in real mode or 32-bit protected mode; bad images and
 * placements are refused with a LoaderError.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hypervisor } from "../../src/hv/index.js";
import { bootTargetOf, LoaderError } from "../../src/vmm/loaders/common.js";
import { loadFlatBinary, loadFlatBios } from "../../src/vmm/loaders/flat.js";

function machine(memoryBytes = 2 * 1024 * 1024) {
  const vm = new Hypervisor().createVm({ memoryBytes });
  const vcpu = vm.createVcpu(0);
  return { vm, vcpu, target: bootTargetOf(vm, vcpu) };
}

test("BIOS image: ends at 1 MiB, starts at F000:FFF0, far jump to F000:E05B runs there", () => {
  const { vm, vcpu, target } = machine();
  const bios = new Uint8Array(0x10000); // 64 KiB: F0000H-FFFFFH
  // Reset vector (last 16 bytes): JMP FAR F000:E05B, as PC BIOSes do.
  bios.set([0xea, 0x5b, 0xe0, 0x00, 0xf0], 0xfff0);
  // At F000:E05B: MOV AX,1234H; MOV BX,CS; HLT.
  bios.set([0xb8, 0x34, 0x12, 0x8c, 0xcb, 0xf4], 0xe05b);
  const info = loadFlatBios(target, bios);
  assert.equal(info.address, 0xf0000);
  const sregs = vcpu.getSregs();
  assert.equal(sregs.cs.selector, 0xf000);
  assert.equal(sregs.cs.base, 0xf0000n);
  assert.equal(sregs.cr0 & 1n, 0n, "real mode");
  assert.equal(vcpu.getRegs().rip, 0xfff0n);
  assert.deepEqual(Array.from(vm.readPhysical(0xffff0, 5)), [0xea, 0x5b, 0xe0, 0x00, 0xf0]);
  const exit = vcpu.run(100);
  assert.equal(exit.kind, "hlt");
  const regs = vcpu.getRegs();
  assert.equal(regs.rax & 0xffffn, 0x1234n);
  assert.equal(regs.rbx & 0xffffn, 0xf000n);
  assert.equal(regs.rip, 0xe061n);
});

test("BIOS image: empty, larger than 128 KiB, or RAM below 1 MiB are refused", () => {
  assert.throws(() => loadFlatBios(machine().target, new Uint8Array(0)), LoaderError);
  assert.throws(() => loadFlatBios(machine().target, new Uint8Array(0x20001)), /at most 0x20000/);
  assert.throws(() => loadFlatBios(machine(512 * 1024).target, new Uint8Array(16)), /outside guest RAM/);
});

test("raw binary in real mode: CS:IP from the entry address", () => {
  const { vcpu, target } = machine();
  const info = loadFlatBinary(target, Uint8Array.from([0x90, 0xb8, 0xcd, 0xab, 0xf4]), {
    address: 0x17c00,
    entry: 0x17c01,
    mode: "real",
  });
  assert.deepEqual(info.csIp, { cs: 0x1000, ip: 0x7c01 });
  assert.equal(vcpu.getSregs().cs.base, 0x10000n);
  assert.equal(vcpu.run(100).kind, "hlt");
  assert.equal(vcpu.getRegs().rax & 0xffffn, 0xabcdn);
});

test("raw binary in 32-bit protected mode reaches above 1 MiB", () => {
  const { vcpu, target } = machine();
  // MOV EAX,[100100H]; HLT
  loadFlatBinary(target, Uint8Array.from([0xa1, 0x00, 0x01, 0x10, 0x00, 0xf4]), {
    address: 0x100000,
    mode: "protected32",
  });
  target.writePhysical(0x100100, Uint8Array.from([0x78, 0x56, 0x34, 0x12]));
  const sregs = vcpu.getSregs();
  assert.equal(sregs.cs.selector, 0x10);
  assert.equal(sregs.cs.db, 1);
  assert.equal(sregs.cr0 & 0x8000_0001n, 1n, "PE set, PG clear");
  assert.equal(vcpu.run(100).kind, "hlt");
  assert.equal(vcpu.getRegs().rax, 0x12345678n);
});

test("raw binary: bad placements and entries are refused", () => {
  const { target } = machine();
  const code = new Uint8Array(16);
  assert.throws(() => loadFlatBinary(target, code, { address: 0x1ffff8, mode: "real" }), /outside guest RAM/);
  assert.throws(
    () => loadFlatBinary(target, code, { address: 0x9fff8, mode: "real" }),
    /legacy VGA\/BIOS hole/,
  );
  assert.throws(
    () => loadFlatBinary(target, code, { address: 0x1000, entry: 0x1010, mode: "real" }),
    /not inside/,
  );
  assert.throws(() => loadFlatBinary(target, code, { address: 0x100000, mode: "real" }), /below 1 MiB/);
  assert.throws(() => loadFlatBinary(target, new Uint8Array(0), { address: 0x1000, mode: "real" }), /empty/);
});
