/**
 * ALU tests: results and RFLAGS of ADD/ADC/SUB/SBB/AND/OR/XOR/CMP/INC/DEC/NEG/NOT at 8, 16,
 * 32 and 64 bits. Expected values follow from the SDM's flag definitions (Vol.1 Appendix A).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterLong64, enterProtected32, runCode } from "../helpers/machine.js";

const STATUS = 0x8d5;

test("64-bit add with carry out of bit 63 sets CF and ZF", () => {
  const m = createMachine();
  enterLong64(m);
  const r = runCode(m, "mov rax, -1\nmov rbx, 1\nadd rax, rbx", 64);
  assert.equal(r, "halt");
  assert.equal(m.cpu.reg64(0), 0);
  assert.equal(m.cpu.getEflags() & STATUS, 0x1 | 0x4 | 0x10 | 0x40); // CF PF AF ZF
});

test("32-bit sub borrow and signed overflow", () => {
  const m = createMachine();
  enterProtected32(m);
  runCode(m, "mov eax, 0x80000000\nsub eax, 1", 32);
  assert.equal(m.cpu.lo[0] >>> 0, 0x7fffffff);
  // OF (sign change), AF (borrow from bit 4), PF (0xff has 8 bits → even), CF=0
  assert.equal(m.cpu.getEflags() & STATUS, 0x800 | 0x10 | 0x4);
});

test("8-bit ops on AH and inc preserving CF", () => {
  const m = createMachine();
  enterProtected32(m);
  runCode(m, "mov eax, 0x1234\nstc\ninc ah\nadd al, 0xcc", 32);
  assert.equal(m.cpu.lo[0] & 0xffff, 0x1300);
  assert.equal(m.cpu.getEflags() & 1, 1); // carry from 0x34+0xcc
});

test("adc/sbb chains at 64 bits", () => {
  const m = createMachine();
  enterLong64(m);
  runCode(m, "mov rax, -1\nmov rdx, 5\nadd rax, 1\nadc rdx, 0\nmov rcx, 0\nsub rcx, 1\nsbb r8, r8", 64);
  assert.equal(m.cpu.reg64(2), 6);
  assert.equal(m.cpu.reg64(8), -1);
});

test("neg sets CF for non-zero; 32-bit write zero-extends", () => {
  const m = createMachine();
  enterLong64(m);
  runCode(m, "mov rax, -1\nmov eax, 5\nneg eax", 64);
  assert.equal(m.cpu.hi[0], 0);
  assert.equal(m.cpu.lo[0] >>> 0, 0xfffffffb);
  assert.equal(m.cpu.getEflags() & 1, 1);
});

test("64-bit LEA is exact for operands above 2^53 and wraps modulo 2^64", () => {
  const m = createMachine();
  enterLong64(m);
  runCode(
    m,
    "mov r13, 0xf05a7550d92e6def\nmov rdi, 0x2345678912345679\nlea r15, [r13+rdi*1]\nlea r14, [r13+rdi*8-0x100]\nmov rbx, 0x100000000\nlea rcx, [rbx-1]\nlea edx, [r13+rdi]",
    64,
  );
  // Expected values by 64-bit modular arithmetic: f05a7550d92e6def + 2345678912345679, etc.
  assert.equal(m.cpu.hi[15] >>> 0, 0x139fdcd9);
  assert.equal(m.cpu.lo[15] >>> 0, 0xeb62c468);
  assert.equal(m.cpu.hi[14] >>> 0, 0x0a85b199);
  assert.equal(m.cpu.lo[14] >>> 0, 0x6ad120b7);
  assert.equal(m.cpu.reg64(1), 0xffffffff);
  assert.equal(m.cpu.hi[2], 0);
  assert.equal(m.cpu.lo[2] >>> 0, 0xeb62c468);
});
