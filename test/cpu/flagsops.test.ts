/**
 * PUSHF/POPF tests: the pushed image (VM and RF cleared), and which bits POPF may change by
 * mode, CPL and IOPL. Expected values follow the SDM Vol.2 PUSHF and POPF Operation sections
 * (the table of modifiable bits). The PUSHFQ image was also checked natively on the host
 * (gcc inline asm, Linux user space: `stc; std; pushfq` gives 0x603 = IF|DF|CF|bit 1).
 */
import test from "node:test";
import assert from "node:assert/strict";
import {
  createMachine,
  enterLong64,
  enterProtected32,
  enterReal,
  runCode,
  type TestMachine,
} from "../helpers/machine.js";
import { readDescriptor, loadFromDescriptor } from "../../src/cpu/segmentation.js";
import { OPCODES, OPF_TERMINAL } from "../../src/cpu/optable.js";
import { Instr } from "../../src/cpu/instr.js";
import { CpuFault } from "../../src/cpu/fault.js";
import { FLAGS } from "../../src/x86/eflags.js";

const IOPL3 = 3 << 12;

/** Switch the 64-bit test machine to CPL 3 (user code 0x2b, user data 0x33). */
function enterUser64(m: TestMachine): void {
  const { cpu } = m;
  for (const [seg, sel] of [
    [1, 0x2b],
    [2, 0x33],
    [3, 0x33],
    [0, 0x33],
  ]) {
    const d = readDescriptor(cpu, sel);
    assert.ok(d);
    loadFromDescriptor(cpu, seg, sel, d);
  }
  cpu.cpl = 3;
  cpu.updateMode();
}

/** Run 64-bit code that ends in a self-loop (so no HLT runs: CPL 3 code works) for `n` instructions. */
function run64(m: TestMachine, src: string, n = 100): void {
  assert.equal(runCode(m, `${src}\n1: jmp 1b`, 64, undefined, n), "limit");
}

test("PUSHFQ pushes RFLAGS with RF cleared; PUSHF with 66h pushes 16 bits", () => {
  const m = createMachine();
  enterLong64(m);
  m.cpu.setEflags(0x2 | FLAGS.RF | FLAGS.AC | FLAGS.ID | IOPL3 | FLAGS.NT);
  runCode(m, "stc\nstd\npushfq\npop rax\ncld\nmov rbx, rsp\npushfw\nmov rcx, rsp\npop dx", 64);
  assert.equal(m.cpu.reg64(0), 0x2 | 1 | FLAGS.DF | FLAGS.AC | FLAGS.ID | IOPL3 | FLAGS.NT);
  assert.equal(m.cpu.reg64(3) - m.cpu.reg64(1), 2);
  assert.equal(m.cpu.lo[2] & 0xffff, 0x2 | 1 | IOPL3 | FLAGS.NT);
});

test("PUSHFD in 32-bit mode and PUSHF in real mode", () => {
  const m = createMachine();
  enterProtected32(m);
  runCode(m, "stc\npushfd\npop eax\npushfw\npop bx", 32);
  assert.equal(m.cpu.lo[0], 0x3);
  assert.equal(m.cpu.lo[3] & 0xffff, 0x3);
  const r = createMachine();
  enterReal(r);
  runCode(r, "stc\npushf\nmov bx, sp\npop ax", 16, 0x7c00);
  assert.equal(r.cpu.lo[0] & 0xffff, 0x3);
  assert.equal(r.cpu.lo[3] & 0xffff, 0x7000 - 2);
});

test("PUSHF in virtual-8086 mode (IOPL 3) clears VM in the image; IOPL < 3 is #GP(0)", () => {
  const m = createMachine();
  enterProtected32(m);
  m.cpu.setEflags(0x2 | FLAGS.VM | IOPL3);
  assert.equal(m.cpu.v86, true);
  const push = OPCODES[0x9c]!.exec!;
  const i = new Instr(push);
  i.osize = 4;
  push(m.cpu, i);
  const sp = m.cpu.lo[4] & 0xffff;
  assert.equal(m.mem.read32(m.cpu.segBase[2] + sp), 0x2 | IOPL3);
  m.cpu.setEflags(0x2 | FLAGS.VM);
  assert.throws(
    () => push(m.cpu, i),
    (e: unknown) => e instanceof CpuFault && e.vector === 13 && e.errorCode === 0,
  );
  const pop = OPCODES[0x9d]!.exec!;
  assert.throws(
    () => pop(m.cpu, i),
    (e: unknown) => e instanceof CpuFault && e.vector === 13,
  );
  assert.equal(m.cpu.lo[4] & 0xffff, sp, "no stack change on #GP");
});

test("POPF in virtual-8086 mode with IOPL 3 changes IF but not IOPL or VM", () => {
  const m = createMachine();
  enterProtected32(m);
  m.cpu.setEflags(0x2 | FLAGS.VM | IOPL3);
  const pop = OPCODES[0x9d]!.exec!;
  const i = new Instr(pop);
  i.osize = 4;
  const sp = m.cpu.lo[4] & 0xffff;
  m.mem.write32(m.cpu.segBase[2] + sp, FLAGS.IF | 0x8d5);
  pop(m.cpu, i);
  assert.equal(m.cpu.getEflags(), 0x2 | FLAGS.VM | IOPL3 | FLAGS.IF | 0x8d5);
  assert.equal(m.cpu.v86, true);
});

test("POPFQ at CPL 3 changes neither IOPL nor IF (CPL > IOPL)", () => {
  const m = createMachine();
  enterLong64(m);
  enterUser64(m);
  const v = IOPL3 | FLAGS.IF | FLAGS.DF | 0x8d5 | FLAGS.AC | FLAGS.ID | FLAGS.NT;
  run64(m, `mov rbx, ${v}\npush rbx\npopfq\npushfq\npop rax`);
  assert.equal(m.cpu.cpl, 3);
  assert.equal(m.cpu.reg64(0), 0x2 | FLAGS.DF | 0x8d5 | FLAGS.AC | FLAGS.ID | FLAGS.NT);
  assert.equal(m.cpu.accessMode, 2);
});

test("POPFQ at CPL 3 with IOPL 3 changes IF but not IOPL", () => {
  const m = createMachine();
  enterLong64(m);
  enterUser64(m);
  m.cpu.setEflags(0x2 | IOPL3);
  run64(m, `mov rbx, ${FLAGS.IF | 1}\npush rbx\npopfq\npushfq\npop rax`);
  assert.equal(m.cpu.reg64(0), 0x2 | IOPL3 | FLAGS.IF | 1);
});

test("POPFQ at CPL 0 changes IOPL, IF and AC (and the SMAP access mode), never VM/VIF/VIP/RF", () => {
  const m = createMachine();
  enterLong64(m);
  const all = 0x3f7fd5 & ~FLAGS.TF; // everything except TF (which would single-step)
  run64(m, `mov rbx, ${all}\npush rbx\npopfq`);
  assert.equal(m.cpu.getEflags(), (all | 0x2) & ~(FLAGS.VM | FLAGS.VIF | FLAGS.VIP | FLAGS.RF));
  assert.equal(m.cpu.accessMode, 1, "AC=1 at CPL 0 overrides SMAP");
  assert.equal(m.cpu.v86, false);
  run64(m, "push 2\npopfq");
  assert.equal(m.cpu.getEflags(), 0x2);
  assert.equal(m.cpu.accessMode, 0);
});

test("POPF keeps VIF/VIP and clears RF at CPL 0 (32-bit)", () => {
  const m = createMachine();
  enterProtected32(m);
  m.cpu.setEflags(0x2 | FLAGS.VIF | FLAGS.VIP | FLAGS.RF);
  runCode(m, "push 0x203\npopfd", 32);
  assert.equal(m.cpu.getEflags(), 0x2 | 0x201 | FLAGS.VIF | FLAGS.VIP);
});

test("16-bit POPF in real mode replaces bits 15:0 only (IOPL and NT included)", () => {
  const m = createMachine();
  enterReal(m);
  m.cpu.setEflags(0x2 | FLAGS.AC | FLAGS.ID);
  runCode(m, "mov ax, 0x72d5\npush ax\npopf\npushfd\npop ebx", 16, 0x7c00);
  assert.equal(m.cpu.lo[3] >>> 0, 0x72d7 | FLAGS.AC | FLAGS.ID);
});

test("16-bit POPF at CPL 3 (operand-size prefix) keeps IOPL and IF", () => {
  const m = createMachine();
  enterLong64(m);
  enterUser64(m);
  m.cpu.setEflags(0x2 | FLAGS.IF | FLAGS.AC);
  run64(m, "push 0x38d5\npopfw\npushfq\npop rax");
  assert.equal(m.cpu.reg64(0), 0x2 | FLAGS.IF | FLAGS.AC | 0x8d5);
});

test("POPF ends the decoded block; PUSHF does not need to", () => {
  assert.ok((OPCODES[0x9d]!.flags & OPF_TERMINAL) !== 0);
});
