/**
 * Physical memory tests: MMIO ranges reach their handler with the right address, size and
 * value; self-modifying code is seen by the very next instruction (SDM Vol.3 11.6: a write
 * to a code byte that has been fetched is detected and the instruction re-fetched); code on
 * a page boundary.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterLong64, enterProtected32, runCode } from "../helpers/machine.js";

test("MMIO reads and writes go to the handler, not RAM", () => {
  const log: string[] = [];
  const p = createMachine();
  p.mem.addMmio(0xfec00000, 0x1000, {
    read: (addr, size) => {
      log.push(`r${size}@${addr.toString(16)}`);
      return 0x11223344;
    },
    write: (addr, size, value) => log.push(`w${size}@${addr.toString(16)}=${value.toString(16)}`),
  });
  enterProtected32(p);
  runCode(p, "mov dword ptr [0xfec00010], 0xabcd\nmov eax, [0xfec00020]\nmov bx, [0xfec00004]", 32);
  assert.deepEqual(log, ["w4@fec00010=abcd", "r4@fec00020", "r2@fec00004"]);
  assert.equal(p.cpu.lo[0] >>> 0, 0x11223344);
  assert.equal(p.cpu.lo[3] & 0xffff, 0x3344);
});

test("a store into the next instruction's immediate is seen when it executes", () => {
  const m = createMachine();
  enterLong64(m);
  // patch: the immediate of `mov eax, 1` (at label p, opcode B8 + imm32) becomes 42.
  runCode(m, "lea rbx, [rip + p]\nmov dword ptr [rbx + 1], 42\np: mov eax, 1", 64);
  assert.equal(m.cpu.lo[0], 42);
});

test("self-modifying loop: rewriting already-executed code takes effect on the next pass", () => {
  const m = createMachine();
  enterLong64(m);
  const src = `
    xor ecx, ecx
    lea rbx, [rip + body]
  again:
  body:
    add ecx, 1
    mov byte ptr [rbx + 2], 10
    cmp ecx, 100
    jb again`;
  runCode(m, src, 64);
  // First pass adds 1, then the immediate is 10: 1 + 10*k until >= 100 → 101.
  assert.equal(m.cpu.lo[1], 101);
});

test("an instruction that straddles a page boundary executes", () => {
  const m = createMachine();
  enterLong64(m);
  // Place code so that `mov rax, imm64` (10 bytes) crosses the 4 KiB boundary.
  runCode(m, "mov rax, 0x1122334455667788", 64, 0x100ffb);
  assert.equal(m.cpu.lo[0] >>> 0, 0x55667788);
  assert.equal(m.cpu.hi[0] >>> 0, 0x11223344);
});
