/**
 * Tests of Vcpu.run() exits (src/hv/exits.ts): port I/O and MMIO that no synchronous
 * handler claims leave run() as io-in/io-out/mmio-read/mmio-write, reads are restarted with
 * the value the VMM supplies, REP OUTS queues one exit per element, system events, guest
 * debugging (single step, breakpoints), and misuse of the completion protocol.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { HvError } from "../../src/hv/index.js";
import { GUEST, enterFlat32, load32, newVm, read32 } from "../helpers/hv-guest.js";

/** Port handler that serves only `ports`; everything else exits. */
function claiming(ports: number[], log: string[] = []) {
  return {
    claims: (port: number) => ports.includes(port),
    read: (port: number) => {
      log.push(`in ${port.toString(16)}`);
      return 0x5a;
    },
    write: (port: number, _size: number, value: number) => {
      log.push(`out ${port.toString(16)}=${value.toString(16)}`);
    },
  };
}

test("OUT to an unclaimed port is an io-out exit after the write completed", () => {
  const { vm, vcpu } = newVm();
  vm.setPortIoHandler(claiming([]));
  load32(vm, "mov al, 0x42\nout 0x80, al\nmov ebx, 7\nhlt");
  enterFlat32(vcpu);
  const exit = vcpu.run();
  assert.deepEqual(exit, { kind: "io-out", port: 0x80, size: 1, value: 0x42 });
  // The OUT has retired: RIP is past it, EBX not yet written.
  assert.equal(vcpu.getRegs().rip, BigInt(GUEST.code + 4));
  assert.equal(vcpu.getRegs().rbx, 0n);
  assert.deepEqual(vcpu.run(), { kind: "hlt" });
  assert.equal(vcpu.getRegs().rbx, 7n);
});

test("IN from an unclaimed port exits, and re-executes with the value from completeRead", () => {
  const { vm, vcpu } = newVm();
  vm.setPortIoHandler(claiming([]));
  load32(vm, "mov ecx, 3\nin ax, 0x71\nmov ebx, eax\nhlt");
  enterFlat32(vcpu);
  assert.deepEqual(vcpu.run(), { kind: "io-in", port: 0x71, size: 2 });
  // Rolled back: RIP on the IN, nothing retired past it.
  assert.equal(vcpu.getRegs().rip, BigInt(GUEST.code + 5));
  assert.throws(
    () => vcpu.run(),
    (e) => e instanceof HvError && /completeRead/.test(e.message),
  );
  assert.throws(() => vcpu.completeRead(0x1_0000), HvError);
  vcpu.completeRead(0xbeef);
  assert.deepEqual(vcpu.run(), { kind: "hlt" });
  assert.equal(vcpu.getRegs().rbx & 0xffffn, 0xbeefn);
  assert.throws(() => vcpu.completeRead(1), /no io-in or mmio-read exit is waiting/);
});

test("claimed ports complete inside run() without exits", () => {
  const { vm, vcpu } = newVm();
  const log: string[] = [];
  vm.setPortIoHandler(claiming([0x3f8], log));
  load32(vm, "mov dx, 0x3f8\nmov al, 0x41\nout dx, al\nin al, dx\nmov ebx, eax\nhlt");
  enterFlat32(vcpu);
  assert.deepEqual(vcpu.run(), { kind: "hlt" });
  assert.deepEqual(log, ["out 3f8=41", "in 3f8"]);
  assert.equal(vcpu.getRegs().rbx & 0xffn, 0x5an);
});

test("REP OUTSB to an unclaimed port gives one io-out exit per byte, in order", () => {
  const { vm, vcpu } = newVm();
  vm.setPortIoHandler(claiming([]));
  vm.writePhysical(0x5000, new Uint8Array([1, 2, 3]));
  load32(vm, "mov esi, 0x5000\nmov ecx, 3\nmov dx, 0xe9\nrep outsb\nhlt");
  enterFlat32(vcpu);
  const values: number[] = [];
  for (;;) {
    const e = vcpu.run();
    if (e.kind === "hlt") break;
    assert.equal(e.kind, "io-out");
    if (e.kind === "io-out") values.push(e.value);
  }
  assert.deepEqual(values, [1, 2, 3]);
  assert.equal(vcpu.getRegs().rcx, 0n);
});

test("MMIO exit ranges: writes exit after completing, reads restart with the supplied value", () => {
  const { vm, vcpu } = newVm();
  vm.addMmioExitRange(0xd000_0000, 0x1000);
  load32(vm, "mov dword ptr [0xd0000010], 0x12345678\nmov eax, [0xd0000020]\nmov [0x6000], eax\nhlt");
  enterFlat32(vcpu);
  assert.deepEqual(vcpu.run(), { kind: "mmio-write", address: 0xd000_0010, size: 4, value: 0x12345678 });
  assert.deepEqual(vcpu.run(), { kind: "mmio-read", address: 0xd000_0020, size: 4 });
  vcpu.completeRead(0xcafef00d);
  assert.deepEqual(vcpu.run(), { kind: "hlt" });
  assert.equal(read32(vm, 0x6000), 0xcafef00d);
});

test("a system event stops every run() until cleared", () => {
  const { vm, vcpu } = newVm();
  load32(vm, "1: jmp 1b");
  enterFlat32(vcpu);
  assert.deepEqual(vcpu.run(1000), { kind: "budget-exhausted" });
  vm.requestSystemEvent("reset");
  assert.deepEqual(vcpu.run(1000), { kind: "system-event", event: "reset" });
  vm.clearSystemEvent();
  assert.deepEqual(vcpu.run(1000), { kind: "budget-exhausted" });
});

test("single-step and breakpoints return debug exits", () => {
  const { vm, vcpu } = newVm();
  load32(vm, "inc eax\ninc eax\ninc eax\nhlt");
  enterFlat32(vcpu);
  vcpu.setGuestDebug({ singleStep: true });
  assert.deepEqual(vcpu.run(), { kind: "debug", reason: "single-step", rip: BigInt(GUEST.code + 1) });
  assert.equal(vcpu.getRegs().rax, 1n);
  vcpu.setGuestDebug({ breakpoints: [BigInt(GUEST.code + 2)] });
  assert.deepEqual(vcpu.run(), { kind: "debug", reason: "breakpoint", rip: BigInt(GUEST.code + 2) });
  assert.equal(vcpu.getRegs().rax, 2n);
  // Resuming from the breakpoint executes the instruction there.
  vcpu.setGuestDebug({});
  assert.deepEqual(vcpu.run(), { kind: "hlt" });
  assert.equal(vcpu.getRegs().rax, 3n);
});

test("requestStop makes run() return stopped at an instruction boundary", () => {
  const { vm, vcpu } = newVm();
  vm.setPortIoHandler({
    read: () => 0,
    write: () => vcpu.requestStop(),
  });
  load32(vm, "out 0x80, al\nmov ebx, 1\nhlt");
  enterFlat32(vcpu);
  assert.deepEqual(vcpu.run(), { kind: "stopped" });
  assert.equal(vcpu.getRegs().rbx, 0n);
  assert.deepEqual(vcpu.run(), { kind: "hlt" });
});
