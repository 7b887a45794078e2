/**
 * The machine loop (src/vmm/machine.ts): HLT sleeps until the next timer deadline instead of
 * spinning (the VM clock jumps; one retired instruction is 1 ns of it), and vCPUs are
 * scheduled deterministically (round-robin, fixed slices), so the same SMP guest gives the
 * same interleaving, the same clock and the same state on every run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PcMachine } from "../../src/vmm/machine.js";
import { pitNsAt } from "../../src/vmm/devices/pit-time.js";
import { enterFlat32, GUEST, installRecordingIdt, load32 } from "../helpers/hv-guest.js";

/** PIT counter 0 reload value: 11932 ticks of 1.193182 MHz, about 10 ms. */
const PIT_COUNT = 11932;

test("HLT with interrupts on sleeps until the PIT's next deadline: 30 ms of VM time, a few hundred instructions", () => {
  const m = new PcMachine({ memoryBytes: 4 << 20, debugExit: { iobase: 0xf4, iosize: 4 }, rtcStartMs: 0 });
  installRecordingIdt(m.vm);
  load32(
    m.vm,
    [
      // Local APIC: software-enabled, LINT0 = ExtINT (as firmware leaves it), so the 8259 reaches the BSP.
      "mov dword ptr [0xfee000f0], 0x1ff",
      "mov dword ptr [0xfee00350], 0x700",
      // 8259 master: ICW1-4 with vector base 20H and auto-EOI; only IRQ0 unmasked; slave masked.
      "mov al, 0x11",
      "out 0x20, al",
      "mov al, 0x20",
      "out 0x21, al",
      "mov al, 4",
      "out 0x21, al",
      "mov al, 3",
      "out 0x21, al",
      "mov al, 0xfe",
      "out 0x21, al",
      "mov al, 0xff",
      "out 0xa1, al",
      // PIT counter 0, mode 2 (rate generator), LSB then MSB.
      "mov al, 0x34",
      "out 0x43, al",
      `mov al, ${PIT_COUNT & 0xff}`,
      "out 0x40, al",
      `mov al, ${PIT_COUNT >> 8}`,
      "out 0x40, al",
      "sti",
      "1: hlt",
      `cmp dword ptr [${GUEST.faultRecord + 8}], 4`,
      "jb 1b",
      "cli",
      `mov eax, [${GUEST.faultRecord}]`,
      "out 0xf4, eax",
    ].join("\n"),
  );
  enterFlat32(m.vcpu, GUEST.code, m.vm);
  const r = m.run({ maxInstructions: 1_000_000 });
  assert.equal(r.kind, "debug-exit");
  if (r.kind === "debug-exit") assert.equal(r.guestCode, 0x20, "the interrupts were IRQ0 at vector 20H");
  // Four interrupts: the edge of programming mode 2, then one per period; three periods passed.
  assert.ok(m.vm.now() >= pitNsAt(3 * PIT_COUNT), `VM time ${m.vm.now()} ns`);
  assert.ok(m.vm.now() < pitNsAt(4 * PIT_COUNT), `VM time ${m.vm.now()} ns`);
  assert.ok(r.instructions < 1000, `${r.instructions} instructions: HLT slept, it did not spin`);
});

/** Two vCPUs take turns at a shared counter; each logs its APIC ID at the slot it got. */
function raceMachine(slice: number): { m: PcMachine; log: number[]; result: string } {
  const m = new PcMachine({
    memoryBytes: 4 << 20,
    cpus: 2,
    debugExit: { iobase: 0xf4, iosize: 4 },
    rtcStartMs: 0,
  });
  const worker = (id: number, tail: string[]) =>
    [
      "mov ecx, 500",
      "1: mov eax, 1",
      "lock xadd [0x7000], eax",
      `mov byte ptr [0x8000 + eax], ${id}`,
      "mov ebx, 7",
      "2: dec ebx",
      "jnz 2b",
      "dec ecx",
      "jnz 1b",
      ...tail,
    ].join("\n");
  load32(
    m.vm,
    worker(0, ["3: cmp dword ptr [0x7000], 1000", "jb 3b", "mov eax, 0x55", "out 0xf4, eax"]),
    0x10000,
  );
  load32(m.vm, worker(1, ["4: hlt", "jmp 4b"]), 0x11000);
  enterFlat32(m.vcpus[0], 0x10000, m.vm);
  enterFlat32(m.vcpus[1], 0x11000, m.vm);
  m.vcpus[1].setMpState("runnable");
  const r = m.run({ maxInstructions: 10_000_000, sliceInstructions: slice });
  return {
    m,
    log: [...m.vm.readPhysical(0x8000, 1000)],
    result: `${r.kind} ${r.exitCode} ${r.instructions}`,
  };
}

test("deterministic scheduling: the same SMP guest interleaves identically on every run", () => {
  const a = raceMachine(37);
  const b = raceMachine(37);
  assert.equal(a.result.split(" ")[0], "debug-exit");
  assert.equal(b.result, a.result);
  assert.deepEqual(b.log, a.log, "the same interleaving of the two vCPUs");
  assert.equal(b.m.vm.now(), a.m.vm.now(), "the same VM time");
  assert.deepEqual(
    b.m.vcpus.map((v) => v.getRegs()),
    a.m.vcpus.map((v) => v.getRegs()),
  );
  // Both vCPUs did take turns (slices of 37 instructions), so the log is a real interleaving.
  assert.ok(a.log.includes(0) && a.log.includes(1));
  assert.ok(a.log.slice(0, 100).includes(1), "the AP ran within the first slices");
  // The order is the schedule's: another slice length gives another interleaving.
  assert.notDeepEqual(raceMachine(53).log, a.log);
});
