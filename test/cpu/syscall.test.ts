/**
 * Fast system calls: SYSCALL/SYSRET with IA32_STAR/LSTAR/FMASK (SDM Vol.2 SYSCALL, SYSRET;
 * Intel: #UD outside 64-bit mode, #GP(0) at CPL 0 for a non-canonical RCX) and
 * SYSENTER/SYSEXIT with the IA32_SYSENTER_* MSRs, including 64-bit SYSEXIT (REX.W).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, runCode, type TestMachine } from "../helpers/machine.js";
import { assemble } from "../helpers/asm.js";
import { protected32World, long64World, peek32, peek64 } from "../helpers/descriptors.js";
import { MSR } from "../../src/x86/msr.js";
import { SEG } from "../../src/x86/segment.js";

const KERNEL = 0x300000;
const USER32 = 0x310000;
const TO_RING3_64 =
  "push 0x23\npush 0x60000\npush 0x202\npush 0x2b\nlea rax, [rip+user]\npush rax\niretq\nuser:\n";

/** 64-bit world with STAR = (0x18 << 48) | (0x08 << 32), LSTAR = KERNEL, FMASK = IF|TF|DF|NT. */
function syscallWorld(kernel: string): TestMachine {
  const m = createMachine();
  long64World(m);
  m.cpu.msrs.set(MSR.IA32_STAR, [0, (0x18 << 16) | 0x08]);
  m.cpu.msrs.set(MSR.IA32_LSTAR, [KERNEL, 0]);
  m.cpu.msrs.set(MSR.IA32_FMASK, [0x4700, 0]);
  m.mem.load(KERNEL, assemble(kernel, 64, KERNEL));
  return m;
}

test("SYSCALL from ring 3: RCX/R11 saved, CS/SS from STAR, RFLAGS masked by FMASK", () => {
  const m = syscallWorld("hlt");
  runCode(m, TO_RING3_64 + "mov ebx, 5\nsyscall", 64);
  const { cpu } = m;
  assert.equal(cpu.cpl, 0);
  assert.equal(cpu.segSel[SEG.CS], 0x08);
  assert.equal(cpu.segSel[SEG.SS], 0x10);
  assert.equal(cpu.long64, true);
  assert.equal(cpu.reg64(1), 0x100000 + 24 + 5 + 2, "RCX = next RIP");
  assert.equal(cpu.reg64(11), 0x202);
  assert.equal(cpu.getEflags() & 0x200, 0, "IF masked");
  assert.equal(cpu.rip, KERNEL + 1);
});

test("SYSRETQ returns to 64-bit ring 3 with RFLAGS from R11", () => {
  const m = syscallWorld("or r11, 0x800\nsysretq");
  runCode(m, TO_RING3_64 + "syscall\npushfq\npop rbx\nint 0x80", 64);
  const { cpu } = m;
  assert.equal(cpu.lo[7], 0x80);
  const rsp = cpu.reg64(4);
  assert.equal(peek64(m, rsp + 8), 0x2b, "user CS = STAR[63:48] + 16 | 3");
  assert.equal(peek64(m, rsp + 32), 0x23, "user SS = STAR[63:48] + 8 | 3");
  assert.equal(cpu.lo[3] & 0xa00, 0xa00, "IF and the OF set in R11 restored");
});

test("SYSRET (32-bit operand) returns to compatibility mode at ECX", () => {
  const m = syscallWorld(`mov ecx, ${USER32}\n.byte 0x0f, 0x07`);
  m.mem.load(USER32, new Uint8Array([0xcd, 0x80])); // int 0x80
  runCode(m, TO_RING3_64 + "syscall", 64);
  assert.equal(m.cpu.lo[7], 0x80);
  const rsp = m.cpu.reg64(4);
  assert.equal(peek64(m, rsp + 8), 0x1b, "user CS = STAR[63:48] | 3");
  assert.equal(peek64(m, rsp), USER32 + 2);
});

test("SYSRETQ to a non-canonical RCX is #GP(0) taken at CPL 0 (Intel)", () => {
  const m = syscallWorld("mov rcx, 0x0000800000000000\nsysretq");
  runCode(m, TO_RING3_64 + "syscall", 64);
  assert.deepEqual([m.cpu.lo[7], m.cpu.lo[6]], [13, 0]);
  assert.equal(m.cpu.reg64(4), 0x60000 - 40, "#GP frame on the current stack (SYSCALL does not switch RSP)");
});

test("SYSCALL with EFER.SCE=0 and SYSRET at CPL 3 fault", () => {
  const m = syscallWorld("hlt");
  m.cpu.efer &= ~1;
  runCode(m, "syscall", 64);
  assert.deepEqual([m.cpu.lo[7], m.cpu.lo[6]], [6, -1]);
  const m2 = syscallWorld("hlt");
  runCode(m2, TO_RING3_64 + "sysretq", 64);
  assert.deepEqual([m2.cpu.lo[7], m2.cpu.lo[6]], [13, 0]);
});

test("SYSENTER / SYSEXIT in 32-bit protected mode", () => {
  const m = createMachine();
  protected32World(m);
  m.cpu.msrs.set(MSR.IA32_SYSENTER_CS, [0x08, 0]);
  m.cpu.msrs.set(MSR.IA32_SYSENTER_ESP, [0x80000, 0]);
  m.cpu.msrs.set(MSR.IA32_SYSENTER_EIP, [KERNEL, 0]);
  m.mem.load(KERNEL, assemble(`mov ebx, esp\nmov ecx, 0x60000\nmov edx, ${USER32}\nsysexit`, 32, KERNEL));
  m.mem.load(USER32, new Uint8Array([0xcd, 0x80]));
  const toRing3 = "push 0x23\npush 0x60000\npush 0x202\npush 0x1b\npush offset user\niretd\nuser:\n";
  runCode(m, toRing3 + "sysenter", 32);
  const { cpu } = m;
  assert.equal(cpu.lo[7], 0x80);
  assert.equal(cpu.lo[3], 0x80000, "ESP from IA32_SYSENTER_ESP");
  const sp = cpu.lo[4] >>> 0;
  assert.equal(peek32(m, sp + 4), 0x1b, "SYSEXIT CS = SYSENTER_CS + 16 | 3");
  assert.equal(peek32(m, sp + 8) & 0x200, 0, "SYSENTER cleared IF");
  assert.equal(peek32(m, sp + 12), 0x60000);
  assert.equal(peek32(m, sp + 16), 0x23, "SYSEXIT SS = SYSENTER_CS + 24 | 3");
});

test("SYSENTER with SYSENTER_CS = 0 is #GP(0); 64-bit SYSEXIT (REX.W) returns to 64-bit ring 3", () => {
  const m = createMachine();
  protected32World(m);
  runCode(m, "sysenter", 32);
  assert.deepEqual([m.cpu.lo[7], m.cpu.lo[6]], [13, 0]);
  const m2 = createMachine();
  long64World(m2);
  m2.cpu.msrs.set(MSR.IA32_SYSENTER_CS, [0x08, 0]);
  runCode(m2, "lea rdx, [rip+u]\nmov rcx, 0x61000\nrex.w sysexit\nu:\nmov rbx, rsp\nint 0x80", 64);
  const { cpu } = m2;
  assert.equal(cpu.lo[7], 0x80);
  assert.equal(cpu.reg64(3), 0x61000);
  assert.equal(peek64(m2, cpu.reg64(4) + 8), 0x2b, "CS = SYSENTER_CS + 32 | 3");
  assert.equal(peek64(m2, cpu.reg64(4) + 32), 0x33, "SS = SYSENTER_CS + 40 | 3");
});
