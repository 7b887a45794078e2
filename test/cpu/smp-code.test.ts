/**
 * Several processors on one PhysicalMemory (memory.ts code-write listeners): a write by any
 * processor or by the host to code another processor has decoded — and compiled — must be
 * seen by that processor's next execution (SDM Vol.3 11.6 cross-modifying code; pinvm makes
 * it immediate), and one processor dropping its decoded blocks must not stop writes from
 * being reported to the others.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../helpers/asm.js";
import { createMachine, enterLong64, LAYOUT, type TestMachine } from "../helpers/machine.js";
import { Cpu } from "../../src/cpu/cpu.js";
import { defaultHooks } from "../../src/cpu/hooks.js";

/** A second processor over the memory of `m`, in 64-bit mode like the first. */
function secondCpu(m: TestMachine): TestMachine {
  const hooks = defaultHooks();
  const b: TestMachine = { cpu: new Cpu(m.mem, hooks), mem: m.mem, out: [], hooks };
  enterLong64(b);
  return b;
}

/** Code at A: EAX := imm32; HLT. The immediate is the 4 bytes at A + 1. */
const A = LAYOUT.code;
/** Code at B: store byte BL at A + 1; HLT. */
const B = LAYOUT.code + 0x2000;

/** Run the code at `addr` on `m` to its HLT; returns EAX. */
function call(m: TestMachine, addr: number): number {
  m.cpu.rip = addr;
  m.cpu.halted = false;
  assert.equal(m.cpu.run(1000), "halt");
  return m.cpu.lo[0];
}

test("CPU B patches code that CPU A has decoded and compiled; A runs the new code", () => {
  const a = createMachine();
  enterLong64(a);
  const b = secondCpu(a);
  a.mem.load(A, assemble("mov eax, 1\nhlt", 64, A));
  a.mem.load(B, assemble(`mov byte ptr [${A + 1}], bl\nhlt`, 64, B));
  a.cpu.jitThreshold = 2;
  for (let n = 0; n < 20; n++) assert.equal(call(a, A), 1); // hot: decoded, then compiled
  b.cpu.lo[3] = 2;
  call(b, B);
  assert.equal(call(a, A), 2);
  b.cpu.lo[3] = 3;
  call(b, B);
  assert.equal(call(a, A), 3);
});

test("the host's writes reach every processor; one processor's flush keeps the others' tracking", () => {
  const a = createMachine();
  enterLong64(a);
  const b = secondCpu(a);
  a.mem.load(A, assemble("mov eax, 1\nhlt", 64, A));
  const page = A >>> 12;
  assert.equal(call(a, A), 1);
  assert.equal(call(b, A), 1);
  assert.equal(a.mem.codePage[page], 2); // both processors hold decoded code from the page
  a.cpu.flushCodeCache();
  assert.equal(a.mem.codePage[page], 1);
  a.mem.write8(A + 1, 4); // host write (e.g. a loader or DMA)
  assert.equal(call(b, A), 4);
  a.mem.load(A + 1, new Uint8Array([5]));
  assert.equal(call(b, A), 5);
  assert.equal(call(a, A), 5);
  // A processor that is detached stops holding the page and stops listening.
  b.cpu.detach();
  assert.equal(a.mem.codePage[page], 1);
  a.cpu.detach();
  assert.equal(a.mem.codePage[page], 0);
});

test("a REP STOS by one processor over another's code invalidates it", () => {
  const a = createMachine();
  enterLong64(a);
  const b = secondCpu(a);
  a.mem.load(A, assemble("mov eax, 0x01010101\nhlt", 64, A));
  assert.equal(call(a, A), 0x01010101);
  // B: fill the immediate with 4 bytes of 09H through the string fast path.
  a.mem.load(B, assemble(`mov edi, ${A + 1}\nmov ecx, 4\nmov al, 9\nrep stosb\nhlt`, 64, B));
  call(b, B);
  assert.equal(call(a, A), 0x09090909);
});
