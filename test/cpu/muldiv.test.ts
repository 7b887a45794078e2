/**
 * MUL/IMUL/DIV/IDIV tests at 8/16/32/64 bits, including IMUL r, r/m and IMUL r, r/m, imm.
 *
 * Part 1: every vector in vectors/muldiv.json — results, RFLAGS and #DE recorded on real
 * silicon by gen/gen-int-vectors.c (SIGFPE = #DE). Only CF/OF are defined after MUL/IMUL and
 * no flag after DIV/IDIV (SDM Vol.2 "Flags Affected"), so the other flags are masked.
 * Part 2: #DE delivery through the IDT (vector 0, state unchanged), our documented choice for
 * the undefined flags, memory operands, 32-bit protected mode, and 64-bit DIV by 32-bit
 * divisors (the handler's BigInt-free path) against BigInt division.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterProtected32, runCode } from "../helpers/machine.js";
import {
  Runner,
  loadVectors,
  checkVectors,
  STATUS,
  CF,
  PF,
  AF,
  ZF,
  SF,
  OF,
  type Regs,
} from "./int-harness.js";

const B = (x: number | string): bigint => BigInt(x);

test("silicon mul/div vectors (gen/gen-int-vectors.c)", () => {
  const { vectors } = loadVectors("muldiv");
  const fails = checkVectors(new Runner(), vectors, (v) => ({ flags: v.insn.includes("div") ? 0 : CF | OF }));
  assert.ok(vectors.length > 8000);
  assert.ok(vectors.filter((v) => v.out === "DE").length > 500);
  assert.deepEqual(fails.slice(0, 20), []);
});

const runner = new Runner();
function run(insn: string, rax: bigint, rcx: bigint, rdx: bigint, flags = 0): Regs | number {
  return runner.run(insn, { rax, rcx, rdx, rflags: 2 | flags });
}

test("#DE (vector 0) on divide by zero and quotient overflow; registers unchanged", () => {
  const cases: [string, bigint, bigint, bigint][] = [
    ["div cl", B(0x1234), B(0), B(0)],
    ["div cl", B(0x1234), B(0x12), B(0)], // 0x1234 / 0x12 = 0x102 > 0xff
    ["idiv cl", B(0x8000), B(0xff), B(0)], // -32768 / -1
    ["idiv cx", B(0), B(0xffff), B(0x8000)], // -2^31 / -1
    ["idiv ecx", B(0), B(0xffffffff), B(0x80000000)],
    ["idiv rcx", B(0), B(-1), B("0x8000000000000000")],
    ["div rcx", B(0), B(5), B(5)], // high half >= divisor
    ["div ecx", B(5), B(0), B(0)],
    ["idiv ecx", B(0x80000000), B(1), B(0)], // +2^31 does not fit
  ];
  for (const [insn, rax, rcx, rdx] of cases) {
    const r = run(insn, rax, rcx, rdx, CF | ZF);
    assert.equal(r, 0, insn);
    const { cpu } = runner.m;
    assert.equal(cpu.lo[0] >>> 0, Number(BigInt.asUintN(32, rax)), insn);
    assert.equal(cpu.getEflags() & CF, CF, insn); // flags untouched by the faulting instruction
  }
  // A large negative dividend whose quotient fits does not fault.
  const r = run("idiv rcx", B("0x8000000000000000"), B(2), B(-1));
  assert.notEqual(typeof r, "number");
  assert.equal((r as Regs).rax, B("0xc000000000000000"));
});

test("quotient/remainder signs: IDIV truncates toward zero, remainder has the dividend's sign", () => {
  let r = run("idiv ecx", B(-7 >>> 0), B(2), B(0xffffffff)) as Regs;
  assert.equal(r.rax, B(0xfffffffd)); // -3
  assert.equal(r.rdx, B(0xffffffff)); // -1
  r = run("idiv cl", B(0x1234_0007), B(0xfe), B(0)) as Regs; // 7 / -2
  assert.equal(r.rax & B(0xffff), B(0x01fd)); // AH = 1, AL = -3
  r = run("idiv rcx", B(-100), B(7), B(-1)) as Regs;
  assert.equal(r.rax, BigInt.asUintN(64, B(-14)));
  assert.equal(r.rdx, BigInt.asUintN(64, B(-2)));
  r = run("div rcx", B("0xfffffffffffffffe"), B("0xffffffffffffffff"), B("0xfffffffffffffffe")) as Regs;
  assert.equal(r.rax, B("0xffffffffffffffff"));
  assert.equal(r.rdx, B("0xfffffffffffffffd"));
  r = run("div ecx", B(0xffffffff), B(0xffffffff), B(0xfffffffe)) as Regs;
  assert.equal(r.rax, B(0xffffffff));
  assert.equal(r.rdx, B(0xfffffffe));
});

test("DIV r64 by a divisor below 2^32 (BigInt-free path) agrees with BigInt division", () => {
  let x = 0x9e3779b9;
  const next = (): bigint => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return BigInt(x >>> 0);
  };
  for (let n = 0; n < 200; n++) {
    const d = [B(1), B(3), B(0xffffffff), B(0x80000000), next() | B(1), (next() >> BigInt(n % 31)) | B(1)][
      n % 6
    ];
    const rdx = n % 3 === 0 ? B(0) : next() % d;
    const rax = (next() << B(32)) | next();
    const r = run("div rcx", rax, d, rdx, STATUS) as Regs;
    const num = (rdx << B(64)) | rax;
    assert.equal(r.rax, num / d, `rdx:rax ${rdx}:${rax} / ${d}`);
    assert.equal(r.rdx, num % d, `rdx:rax ${rdx}:${rax} % ${d}`);
    assert.equal(r.rflags & STATUS, STATUS);
  }
});

test("undefined flags: MUL/IMUL set SF/ZF/PF from the low half and clear AF; DIV leaves flags", () => {
  let r = run("mul rcx", B("0x8000000000000000"), B(2), B(0), AF | SF) as Regs;
  assert.equal(r.rax, B(0));
  assert.equal(r.rdx, B(1));
  assert.equal(r.rflags & STATUS, CF | OF | ZF | PF);
  r = run("imul eax, ecx", B(0x10000), B(0x8000), B(0), ZF | AF) as Regs;
  assert.equal(r.rax, B(0x80000000));
  assert.equal(r.rflags & STATUS, CF | OF | SF | PF);
  r = run("imul cl", B(0xff), B(0xff), B(0), STATUS) as Regs; // -1 * -1 = 1
  assert.equal(r.rax & B(0xffff), B(1));
  assert.equal(r.rflags & STATUS, 0);
  r = run("div ecx", B(100), B(7), B(0), STATUS) as Regs;
  assert.equal(r.rax, B(14));
  assert.equal(r.rflags & STATUS, STATUS);
  r = run("idiv cx", B(100), B(7), B(0), 0) as Regs;
  assert.equal(r.rflags & STATUS, 0);
});

test("IMUL three-operand forms with 8-bit and full immediates, and memory sources", () => {
  const m = createMachine();
  enterProtected32(m);
  m.mem.write32(0x8000, 0xfffffffe);
  m.mem.write16(0x8004, 0x4000);
  runCode(
    m,
    "imul eax, dword ptr [0x8000], 100\nimul bx, word ptr [0x8004], 4\nmov ecx, 3\nimul ecx, dword ptr [0x8000]\nmov esi, 0x10000\nmov eax, esi\nmul dword ptr [0x8000]",
    32,
  );
  assert.equal(m.cpu.lo[3] & 0xffff, 0); // 0x4000 * 4 overflows 16 bits
  assert.equal(m.cpu.lo[1] >>> 0, 0xfffffffa);
  assert.equal(m.cpu.lo[0] >>> 0, 0xfffe0000); // 0x10000 * 0xfffffffe
  assert.equal(m.cpu.lo[2] >>> 0, 0xffff);
  assert.equal(m.cpu.getEflags() & (CF | OF), CF | OF);
  runCode(m, "mov eax, 7\nimul eax, eax, -3\nmov edx, 0x12345678\nimul edx, edx, 0x10", 32);
  assert.equal(m.cpu.lo[0] >>> 0, -21 >>> 0);
  assert.equal(m.cpu.lo[2] >>> 0, 0x23456780);
  assert.equal(m.cpu.getEflags() & (CF | OF), CF | OF);
});

test("64-bit signed multiply edge values", () => {
  let r = run("imul rcx", B("0x8000000000000000"), B("0x8000000000000000"), B(0)) as Regs;
  assert.equal(r.rdx, B("0x4000000000000000"));
  assert.equal(r.rax, B(0));
  r = run("imul rax, rcx, -1", B(0), B("0x8000000000000000"), B(0)) as Regs;
  assert.equal(r.rax, B("0x8000000000000000"));
  assert.equal(r.rflags & (CF | OF), CF | OF);
  r = run("imul rax, rcx", B(-3), B("0x2aaaaaaaaaaaaaab"), B(0)) as Regs; // -3 * (2^63+1)/3 → wraps
  assert.equal(r.rax, BigInt.asUintN(64, B(-3) * B("0x2aaaaaaaaaaaaaab")));
  assert.equal(r.rflags & (CF | OF), CF | OF);
  r = run("mul rcx", B("0xffffffffffffffff"), B("0xffffffffffffffff"), B(0)) as Regs;
  assert.equal(r.rdx, B("0xfffffffffffffffe"));
  assert.equal(r.rax, B(1));
});
