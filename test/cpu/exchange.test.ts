/**
 * XADD, CMPXCHG, CMPXCHG8B/16B, CBW/CWDE/CDQE, CWD/CDQ/CQO, LAHF/SAHF tests.
 *
 * Part 1: every vector in vectors/exchange.json — register results and RFLAGS recorded on
 * real silicon by gen/gen-int-vectors.c (all status flags are defined for these).
 * Part 2: hand-derived cases from the SDM definitions: memory forms with LOCK, the always-
 * written destination of CMPXCHG (a read-only page faults even when the comparison fails),
 * CMPXCHG8B/16B success/failure, alignment #GP and register-form #UD.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterLong64, enterProtected32, runCode, LAYOUT } from "../helpers/machine.js";
import { Runner, loadVectors, checkVectors, STATUS, CF, ZF, SF, type Regs } from "./int-harness.js";

const B = (x: number | string): bigint => BigInt(x);

test("silicon exchange/convert vectors (gen/gen-int-vectors.c)", () => {
  const { vectors } = loadVectors("exchange");
  const fails = checkVectors(new Runner(), vectors, () => ({ flags: STATUS }));
  assert.ok(vectors.length > 500);
  assert.deepEqual(fails.slice(0, 20), []);
});

const runner = new Runner();

test("CMPXCHG r32 in 64-bit mode: only the written register is zero-extended", () => {
  // equal: ECX ← EDX (upper of RCX cleared), RAX untouched
  let r = runner.run("cmpxchg ecx, edx", {
    rax: B("0xaaaaaaaa00000005"),
    rcx: B("0xbbbbbbbb00000005"),
    rdx: B(9),
    rflags: 2,
  }) as Regs;
  assert.equal(r.rax, B("0xaaaaaaaa00000005"));
  assert.equal(r.rcx, B(9));
  assert.equal(r.rflags & ZF, ZF);
  // not equal: EAX ← ECX (upper of RAX cleared), RCX untouched
  r = runner.run("cmpxchg ecx, edx", {
    rax: B("0xaaaaaaaa00000005"),
    rcx: B("0xbbbbbbbb00000007"),
    rdx: B(9),
    rflags: 2,
  }) as Regs;
  assert.equal(r.rax, B(7));
  assert.equal(r.rcx, B("0xbbbbbbbb00000007"));
  assert.equal(r.rflags & (ZF | CF | SF), CF | SF); // 5 - 7
});

test("memory forms: LOCK XADD, LOCK CMPXCHG success and failure", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.write32(0x8000, 10);
  m.mem.write32(0x8008, 0x55);
  runCode(
    m,
    "mov eax, 5\nlock xadd dword ptr [0x8000], eax\nmov r8d, eax\n" +
      "mov eax, 0x55\nmov ebx, 0x66\nlock cmpxchg dword ptr [0x8008], ebx\nsetz cl\n" +
      "mov eax, 0x55\nlock cmpxchg dword ptr [0x8008], ebx\nsetz dl",
    64,
  );
  assert.equal(m.mem.read32(0x8000), 15);
  assert.equal(m.cpu.lo[8], 10);
  assert.equal(m.mem.read32(0x8008), 0x66);
  assert.equal(m.cpu.lo[1] & 0xff, 1);
  assert.equal(m.cpu.lo[2] & 0xff, 0);
  assert.equal(m.cpu.lo[0], 0x66);
});

test("CMPXCHG writes its memory destination even when the comparison fails (#PF on read-only)", () => {
  const m = new Runner();
  // Make the 2 MiB page at 0x400000 read-only (PD entry 2) with CR0.WP=1; #PF goes to its stub.
  m.m.cpu.cr0 |= 0x10000;
  const pd = LAYOUT.pml4 + 0x2000;
  m.m.mem.write32(pd + 2 * 8, (2 << 21) | 0x80 | 0x5);
  m.m.cpu.flushTlb(false);
  m.m.mem.write32(0x400000, 1);
  const r = m.run("cmpxchg dword ptr [0x400000], edx", { rax: B(2), rcx: B(0), rdx: B(3), rflags: 2 });
  assert.equal(r, 14);
  assert.equal(m.m.cpu.lo[0], 2); // accumulator not loaded: the instruction faulted
  const r2 = m.run("mov eax, dword ptr [0x400000]", { rax: B(0), rcx: B(0), rdx: B(0), rflags: 2 }) as Regs;
  assert.equal(r2.rax, B(1));
});

test("CMPXCHG8B and CMPXCHG16B: success, failure, alignment #GP, register form #UD", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.write32(0x8000, 0x11111111);
  m.mem.write32(0x8004, 0x22222222);
  runCode(
    m,
    "mov eax, 0x11111111\nmov edx, 0x22222222\nmov ebx, 0x33333333\nmov ecx, 0x44444444\nlock cmpxchg8b qword ptr [0x8000]\nsetz sil\n" +
      "mov rax, -1\nmov rdx, -1\ncmpxchg8b qword ptr [0x8000]\nsetz dil",
    64,
  );
  assert.equal(m.mem.read32(0x8000) >>> 0, 0x33333333);
  assert.equal(m.mem.read32(0x8004) >>> 0, 0x44444444);
  assert.equal(m.cpu.lo[6] & 0xff, 1);
  assert.equal(m.cpu.lo[7] & 0xff, 0);
  assert.equal(m.cpu.reg64(0), 0x33333333); // EDX:EAX loaded, upper halves cleared
  assert.equal(m.cpu.reg64(2), 0x44444444);

  for (let n = 0; n < 4; n++) m.mem.write32(0x8010 + n * 4, n + 1);
  runCode(
    m,
    "mov rax, 0x0000000200000001\nmov rdx, 0x0000000400000003\nmov rbx, 7\nmov rcx, 8\nlock cmpxchg16b xmmword ptr [0x8010]\nsetz sil\n" +
      "cmpxchg16b xmmword ptr [0x8010]\nsetz dil",
    64,
  );
  assert.equal(m.mem.read32(0x8010), 7);
  assert.equal(m.mem.read32(0x8018), 8);
  assert.equal(m.cpu.lo[6] & 0xff, 1);
  // The success left RDX:RAX unchanged while memory is now 8:7, so the second one fails
  // and loads RDX:RAX from memory.
  assert.equal(m.cpu.lo[7] & 0xff, 0);
  assert.equal(m.cpu.reg64(0), 7);
  assert.equal(m.cpu.reg64(2), 8);
});

test("CMPXCHG16B on a misaligned operand is #GP(0); the register form of 0F C7 /1 is #UD", () => {
  const regs = { rax: B(0x8008), rcx: B(0), rdx: B(0), rflags: 2 };
  assert.equal(runner.run("cmpxchg16b xmmword ptr [rax]", regs), 13);
  assert.equal(runner.run("cmpxchg8b qword ptr [rax]", regs) === 13, false); // 8B has no alignment rule
  assert.equal(runner.run(".byte 0x0f, 0xc7, 0xc8", regs), 6);
  assert.equal(runner.run(".byte 0xf0, 0x0f, 0xc1, 0xd0", regs), 6); // lock xadd eax, edx (register)
});

test("CBW/CWDE/CDQE, CWD/CDQ/CQO and LAHF/SAHF in 32-bit protected mode", () => {
  const m = createMachine();
  enterProtected32(m);
  runCode(m, "mov eax, 0x12345680\ncbw\nmov ebx, eax\ncwde\nmov ecx, eax\ncdq\nmov esi, edx\ncwd", 32);
  assert.equal(m.cpu.lo[3] >>> 0, 0x1234ff80);
  assert.equal(m.cpu.lo[1] >>> 0, 0xffffff80);
  assert.equal(m.cpu.lo[6] >>> 0, 0xffffffff);
  assert.equal(m.cpu.lo[2] >>> 0, 0xffffffff);
  runCode(m, "mov ah, 0xff\nsahf\nmov ah, 0\nlahf\nmov bl, ah\nmov ah, 0x2a\nsahf\nlahf", 32);
  assert.equal(m.cpu.lo[3] & 0xff, 0xd7);
  assert.equal((m.cpu.lo[0] >> 8) & 0xff, 0x02);
  assert.equal(m.cpu.getEflags() & STATUS, 0);
});
